import { readUsd } from "../usage/usage.ts";
import { defineOpenAICompatible } from "./define-openai-compatible.ts";

/**
 * OpenRouter (openrouter.ai/docs, "Usage Accounting"): every response, and
 * the last event of every stream, carries usage unasked (`stream_options` has
 * no effect there), so requests go through untouched; `usage.cost` is what it
 * charged, in USD, and wins over a cost computed from prices.
 */
export const openrouter = defineOpenAICompatible({
  id: "openrouter",
  baseUrl: "https://openrouter.ai/api",
  usage: { extend: (raw, usage) => ({ ...usage, providerCostUsd: readUsd(raw.cost) }) },
  reportsCost: true,
});
