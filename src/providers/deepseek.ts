import { readCount } from "../usage/usage.ts";
import { defineOpenAICompatible } from "./define-openai-compatible.ts";

/**
 * DeepSeek (api-docs.deepseek.com): `prompt_tokens` counts cache hits and
 * misses; the hits are `prompt_cache_hit_tokens`, and only newer responses
 * also give OpenAI's `prompt_tokens_details.cached_tokens`. Streams send
 * usage only when asked, as OpenAI's do.
 */
export const deepseek = defineOpenAICompatible({
  id: "deepseek",
  baseUrl: "https://api.deepseek.com",
  sdkPath: "",
  askStreamUsage: true,
  usage: { extend: (raw, usage) => ({ ...usage, cacheReadTokens: usage.cacheReadTokens ?? readCount(raw.prompt_cache_hit_tokens) }) },
});
