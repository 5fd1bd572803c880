import type { ErrorDialect } from "../errors.ts";
import { asObject, pickParams, readCount, type Usage } from "../usage/usage.ts";
import type { Endpoint, Provider, ResponseFacts, StreamReader } from "./contract.ts";
import { str } from "./json-readers.ts";

/**
 * Cohere's usage (API reference, v2 Chat, `usage`): `billed_units` is what
 * Cohere charges for, `tokens` what the model saw (the prompt template and
 * system preamble included, so more input tokens than are billed). The
 * record counts the billed units and keeps both in `usage_raw`; only a
 * response without `billed_units` falls back to `tokens`. `cached_tokens`
 * counts prompt tokens that hit the inference cache among `tokens`, not
 * among the billed units, so it is not a cache-read count of the record.
 */
export function convertCohereUsage(raw: unknown): Usage | undefined {
  const u = asObject(raw);
  const counts = asObject(u?.billed_units) ?? asObject(u?.tokens);
  if (!counts) return undefined;
  return { inputTokens: readCount(counts.input_tokens), outputTokens: readCount(counts.output_tokens) };
}

/** A chat response; an error body is `{"message": "…"}` (API reference, "Errors"), with no type. */
function readChatResponse(body: unknown): ResponseFacts {
  const b = asObject(body);
  if (!b) return {};
  return {
    usage: convertCohereUsage(b.usage),
    usageRaw: b.usage,
    responseId: str(b.id),
    finishReason: str(b.finish_reason),
    errorMessage: str(b.message),
  };
}

/**
 * v2 chat streams are SSE whose events name their type (`message-start`,
 * `content-delta`, `tool-call-delta`, `citation-start`, …, `message-end`);
 * only `message-end` carries usage and the finish reason, and an `error`
 * when the generation failed midway.
 */
function createChatStreamReader(): StreamReader {
  const facts: ResponseFacts = {};
  return {
    onEvent(data) {
      if (data === "[DONE]") return;
      const event = asObject(JSON.parse(data));
      if (event?.type === "message-start") facts.responseId = str(event.id);
      if (event?.type !== "message-end") return;
      const delta = asObject(event.delta);
      facts.finishReason = str(delta?.finish_reason);
      if (delta?.usage !== undefined) (facts.usage = convertCohereUsage(delta.usage)), (facts.usageRaw = delta.usage);
      const error = str(delta?.error);
      if (error !== undefined) (facts.errorType = "stream_error"), (facts.errorMessage = error);
    },
    result: () => facts,
  };
}

const chat: Endpoint = {
  operation: "chat",
  billable: true,
  readRequest: (body) => ({
    model: str(body.model),
    streamed: body.stream === true,
    params: pickParams(body, {
      max_tokens: "max_tokens",
      temperature: "temperature",
      p: "top_p",
      k: "top_k",
      stop_sequences: "stop_sequences",
      seed: "seed",
      frequency_penalty: "frequency_penalty",
      presence_penalty: "presence_penalty",
    }),
  }),
  readResponse: readChatResponse,
  createStreamReader: createChatStreamReader,
};

/** `{"message": "…"}`: what Cohere's API answers on errors, and what its SDK puts in its error's body. */
const cohereErrors: ErrorDialect = {
  body: (error) => ({ message: error.message }),
};

/** Cohere's v2 API (docs.cohere.com/reference): `/cohere/v2/chat` is forwarded to `https://api.cohere.com/v2/chat`. */
export const cohere: Provider<"cohere"> = {
  id: "cohere",
  route: { prefix: "/cohere", sdkPath: "", examplePath: "v2/chat" },
  upstream: { baseUrl: "https://api.cohere.com" },
  dialect: cohereErrors,
  genAiProvider: "cohere",
  // Cohere names no request-id header; its responses carry (and expose to browsers) a trace id.
  requestIdHeaders: ["x-debug-trace-id"],
  endpoint(method, path) {
    if (method === "POST" && path === "/v2/chat") return chat;
    return undefined;
  },
};
