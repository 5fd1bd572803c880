import { defineOpenAICompatible } from "./define-openai-compatible.ts";

/**
 * OpenRouter (openrouter.ai/docs, "Usage Accounting"): `usage.cost` is what
 * it charged, in USD; that cost wins over one computed from prices.
 */
export const openrouter = defineOpenAICompatible({
  id: "openrouter",
  baseUrl: "https://openrouter.ai/api",
  usage: { extend: (raw, usage) => ({ ...usage, providerCostUsd: typeof raw.cost === "number" && Number.isFinite(raw.cost) ? raw.cost : undefined }) },
});
