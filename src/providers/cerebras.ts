import { defineOpenAICompatible } from "./define-openai-compatible.ts";

/**
 * Cerebras (inference-docs.cerebras.ai): OpenAI's wire format under `/v1`,
 * usage as OpenAI's (`completion_tokens` includes
 * `completion_tokens_details.reasoning_tokens`) plus `time_info`. Its chat
 * streams take OpenAI's `stream_options.include_usage` (the official SDK's
 * `StreamOptions`), so Loupe asks for stream usage as it does for OpenAI and
 * hands the client the stream it asked for.
 */
export const cerebras = defineOpenAICompatible({
  id: "cerebras",
  baseUrl: "https://api.cerebras.ai",
  askStreamUsage: true,
  requestIdHeaders: ["inference-id", "x-request-id"],
});
