import { z } from "zod";
import { anthropic } from "./anthropic.ts";
import type { Provider } from "./contract.ts";
import { defineOpenAICompatible } from "./define-openai-compatible.ts";
import { anthropicErrors } from "./dialects.ts";

/**
 * Providers the operator declares in the config file (`providers: [{ id,
 * baseUrl, dialect, pricingId? }]`): any upstream that speaks OpenAI's or
 * Anthropic's wire format, served at `/<id>/…` like a registered one.
 */
export const declaredProviderSchema = z.strictObject({
  // The id names the route, the record's provider and `LOUPE_<ID>_BASE_URL`: letters and digits only.
  id: z.string().regex(/^[a-z][a-z0-9]*$/, "must be lower-case letters and digits, starting with a letter"),
  baseUrl: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, "")),
  dialect: z.enum(["openai", "anthropic"]),
  /** Its id in the genai-prices data (or the operator's price file); default `id`. */
  pricingId: z.string().min(1).optional(),
});

export type DeclaredProvider = z.infer<typeof declaredProviderSchema>;

/** A declared provider as a `Provider`: the OpenAI-compatible factory, or Anthropic's Messages endpoints and error dialect. */
export function declareProvider(entry: DeclaredProvider): Provider {
  const pricing = entry.pricingId === undefined ? {} : { pricingId: entry.pricingId };
  if (entry.dialect === "openai") {
    // An upstream declared with its version path (`…/v1`) takes the SDK's paths right after the prefix.
    const sdkPath = /\/v\d+$/.test(new URL(entry.baseUrl).pathname) ? "" : "/v1";
    return defineOpenAICompatible({ id: entry.id, baseUrl: entry.baseUrl, sdkPath, ...pricing });
  }
  return {
    id: entry.id,
    route: { prefix: `/${entry.id}`, sdkPath: "", examplePath: "v1/messages" },
    upstream: { baseUrl: entry.baseUrl },
    endpoint: (method, path) => anthropic.endpoint(method, path),
    dialect: anthropicErrors,
    genAiProvider: entry.id,
    ...pricing,
    requestIdHeaders: anthropic.requestIdHeaders,
    // Claude Code pointed at an Anthropic-compatible gateway still says which session and agent called.
    ...(anthropic.readHeaders ? { readHeaders: anthropic.readHeaders } : {}),
    // An Anthropic-compatible upstream relaying Anthropic's answers relays its rate-limit headers too.
    ...(anthropic.rateLimits ? { rateLimits: anthropic.rateLimits } : {}),
  };
}
