import { asObject, pickParams, readCount, type Usage } from "../usage/usage.ts";
import { openAIChatContent, openAIResponsesContent } from "./openai-content.ts";
import { str } from "./json-readers.ts";
import type { Endpoint, ProviderAdapter, ResponseFacts, StreamReader, UpstreamBody } from "./contract.ts";

/**
 * OpenAI usage, both shapes: Chat Completions (`prompt_tokens`,
 * `completion_tokens`) and Responses/embeddings (`input_tokens`,
 * `output_tokens`). Prompt/input counts already include cached tokens and
 * completion/output counts include reasoning tokens (API reference, "usage").
 */
export function convertOpenAIUsage(raw: unknown): Usage | undefined {
  const u = asObject(raw);
  if (!u) return undefined;
  const inputDetails = asObject(u.prompt_tokens_details) ?? asObject(u.input_tokens_details);
  const outputDetails = asObject(u.completion_tokens_details) ?? asObject(u.output_tokens_details);
  return {
    inputTokens: readCount(u.prompt_tokens) ?? readCount(u.input_tokens),
    cacheReadTokens: readCount(inputDetails?.cached_tokens) ?? readCount(u.prompt_cache_hit_tokens),
    cacheWriteTokens: readCount(inputDetails?.cache_write_tokens),
    outputTokens: readCount(u.completion_tokens) ?? readCount(u.output_tokens),
    reasoningTokens: readCount(outputDetails?.reasoning_tokens),
    // OpenRouter reports the exact charge with usage accounting on.
    providerCostUsd: typeof u.cost === "number" && Number.isFinite(u.cost) ? u.cost : undefined,
  };
}

function readCompletion(body: unknown): ResponseFacts {
  const b = asObject(body);
  if (!b) return {};
  const choice = asObject(Array.isArray(b.choices) ? b.choices[0] : undefined);
  const error = asObject(b.error);
  return {
    usage: convertOpenAIUsage(b.usage),
    usageRaw: b.usage ?? undefined,
    responseModel: str(b.model),
    responseId: str(b.id),
    finishReason: str(choice?.finish_reason),
    errorType: error ? (str(error.type) ?? str(error.code) ?? "error") : undefined,
    errorMessage: str(error?.message),
  };
}

function createChatStreamReader(): StreamReader {
  let facts: ResponseFacts = {};
  return {
    onEvent(data) {
      if (data === "[DONE]") return;
      const chunk = readCompletion(JSON.parse(data));
      facts = {
        ...facts,
        // Azure's first chunk (prompt_filter_results) has "model":"" and "id":"": skip empties.
        responseModel: facts.responseModel || chunk.responseModel || undefined,
        responseId: facts.responseId || chunk.responseId || undefined,
        finishReason: chunk.finishReason ?? facts.finishReason,
        errorType: chunk.errorType ?? facts.errorType,
        errorMessage: chunk.errorMessage ?? facts.errorMessage,
      };
      // Usage arrives once, on the last chunk (or with the finish chunk on
      // some compatible providers); `"usage":null` elsewhere is ignored.
      if (chunk.usage) (facts.usage = chunk.usage), (facts.usageRaw = chunk.usageRaw);
    },
    result: () => facts,
  };
}

/**
 * Without `stream_options.include_usage` a chat stream carries no usage, so
 * Loupe asks for it and then hands the client exactly the stream it would
 * have had: the extra usage chunk (`"choices":[]` with usage) is dropped and
 * the `"usage":null` that include_usage adds to every other chunk removed
 * (API reference, `stream_options.include_usage`).
 */
function requestStreamUsage(body: Record<string, unknown>): UpstreamBody | undefined {
  if (body.stream !== true) return undefined;
  const options = asObject(body.stream_options);
  if (options?.include_usage === true) return undefined;
  const edited = { ...body, stream_options: { ...options, include_usage: true } };
  return { bytes: new TextEncoder().encode(JSON.stringify(edited)), rewriteEvent: removeUsageChunk };
}

export function removeUsageChunk(data: string): string | null {
  if (data.startsWith("{") && data.includes('"choices":[]') && /"usage":\{/.test(data)) {
    const chunk = asObject(JSON.parse(data));
    if (Array.isArray(chunk?.choices) && chunk.choices.length === 0 && asObject(chunk.usage)) return null;
  }
  return data.replace(/,"usage":null(?=[,}])/, "");
}

const PARAMS = {
  max_tokens: "max_tokens",
  max_completion_tokens: "max_tokens",
  max_output_tokens: "max_tokens",
  temperature: "temperature",
  top_p: "top_p",
  frequency_penalty: "frequency_penalty",
  presence_penalty: "presence_penalty",
  seed: "seed",
  n: "choice.count",
  encoding_format: "encoding_formats",
};

function readModelFields(body: Record<string, unknown>) {
  const stop = body.stop;
  const stops = typeof stop === "string" || Array.isArray(stop) ? { stop_sequences: [stop].flat().map(String) } : undefined;
  const params = pickParams(body, PARAMS);
  return {
    model: str(body.model),
    streamed: body.stream === true,
    userId: str(body.user) ?? str(body.safety_identifier),
    params: stops ? { ...params, ...stops } : params,
  };
}

const chatCompletions: Endpoint = {
  operation: "chat",
  billable: true,
  readRequest: readModelFields,
  readResponse: readCompletion,
  createStreamReader: createChatStreamReader,
  prepareUpstream: requestStreamUsage,
  content: openAIChatContent,
};

/** Responses API streams end with `response.completed` (or `.failed`/`.incomplete`) carrying the response. */
function createResponsesStreamReader(): StreamReader {
  let facts: ResponseFacts = {};
  return {
    onEvent(data) {
      if (data === "[DONE]") return;
      const event = asObject(JSON.parse(data));
      const response = asObject(event?.response);
      if (response) {
        const read = readResponse(response);
        facts = { ...facts, ...Object.fromEntries(Object.entries(read).filter(([, v]) => v !== undefined)) };
      }
      if (event?.type === "error") {
        facts.errorType = str(event.code) ?? "error";
        facts.errorMessage = str(event.message);
      }
    },
    result: () => facts,
  };
}

function readResponse(body: unknown): ResponseFacts {
  const b = asObject(body);
  if (!b) return {};
  const error = asObject(b.error);
  const incomplete = asObject(b.incomplete_details);
  return {
    usage: convertOpenAIUsage(b.usage),
    usageRaw: b.usage ?? undefined,
    responseModel: str(b.model),
    responseId: str(b.id),
    finishReason: str(incomplete?.reason) ?? (str(b.status) === "in_progress" ? undefined : str(b.status)),
    errorType: error ? (str(error.code) ?? str(error.type) ?? "error") : undefined,
    errorMessage: str(error?.message),
  };
}

const responses: Endpoint = {
  operation: "chat",
  billable: true,
  readRequest: readModelFields,
  readResponse,
  createStreamReader: createResponsesStreamReader,
  content: openAIResponsesContent,
};

const embeddings: Endpoint = {
  operation: "embeddings",
  billable: true,
  readRequest: readModelFields,
  readResponse: readCompletion,
};

const completions: Endpoint = { ...chatCompletions, operation: "text_completion" };
const models: Endpoint = { operation: "models", billable: false };

/** Endpoints every OpenAI-compatible API shares, keyed by path after the base URL. */
export function openAIEndpoint(method: string, path: string): Endpoint | undefined {
  if (method === "GET" && path.startsWith("/models")) return models;
  if (method !== "POST") return undefined;
  if (path === "/chat/completions") return chatCompletions;
  if (path === "/responses") return responses;
  if (path === "/embeddings") return embeddings;
  if (path === "/completions") return completions;
  return undefined;
}

export const openai = {
  id: "openai",
  prefix: "/openai",
  defaultBaseUrl: "https://api.openai.com",
  dialect: "openai",
  genAiProvider: "openai",
  requestIdHeaders: ["x-request-id"],
  claimsDropIn: (_method, path) => path.startsWith("/v1/"),
  endpoint: (method, path) => (path.startsWith("/v1/") ? openAIEndpoint(method, path.slice(3)) : undefined),
} as const satisfies ProviderAdapter<"openai">;
