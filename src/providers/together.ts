import { readCount } from "../usage/usage.ts";
import { defineOpenAICompatible } from "./define-openai-compatible.ts";

/**
 * Together AI (docs.together.ai): OpenAI's wire format under `/v1`. Its usage
 * object adds a top-level `cached_tokens` (cache hits, inside
 * `prompt_tokens`), read when OpenAI's `prompt_tokens_details` is absent.
 * Streams carry usage unasked on the last chunk (`"usage":null` before it),
 * so requests go through untouched.
 */
export const together = defineOpenAICompatible({
  id: "together",
  baseUrl: "https://api.together.xyz",
  usage: { extend: (raw, usage) => ({ ...usage, cacheReadTokens: usage.cacheReadTokens ?? readCount(raw.cached_tokens) }) },
});
