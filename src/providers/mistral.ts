import { defineOpenAICompatible } from "./define-openai-compatible.ts";

/**
 * Mistral (docs.mistral.ai/api): OpenAI's wire format under `/v1` — chat,
 * FIM (`/v1/fim/completions`), embeddings; cache hits in
 * `prompt_tokens_details.cached_tokens`. Streams carry usage unasked, on the
 * chunk that has the finish reason, so requests go through untouched.
 * `@mistralai/mistralai` takes `http://HOST:PORT/mistral` as its serverURL,
 * the OpenAI SDK `http://HOST:PORT/mistral/v1`.
 */
export const mistral = defineOpenAICompatible({
  id: "mistral",
  baseUrl: "https://api.mistral.ai",
  requestIdHeaders: ["mistral-correlation-id", "x-request-id"],
});
