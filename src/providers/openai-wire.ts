import { asObject, pickParams, readCount, type Usage } from "../usage/usage.ts";
import { openAIChatContent, openAIResponsesContent } from "./openai-content.ts";
import { str } from "./json-readers.ts";
import type { Endpoint, ResponseFacts, StreamReader, UpstreamBody } from "./contract.ts";

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
    cacheReadTokens: readCount(inputDetails?.cached_tokens),
    cacheWriteTokens: readCount(inputDetails?.cache_write_tokens),
    outputTokens: readCount(u.completion_tokens) ?? readCount(u.output_tokens),
    reasoningTokens: readCount(outputDetails?.reasoning_tokens),
  };
}

/** Where a compatible provider's usage departs from OpenAI's (each quirk lives in its provider's file). */
export interface UsageQuirks {
  /** The raw usage object of a body or stream chunk, when it is not (only) at `usage`. */
  locate?(body: Record<string, unknown>): unknown;
  /** Facts the provider reports beyond OpenAI's fields, written over OpenAI's reading of `raw`. */
  extend?(raw: Record<string, unknown>, usage: Usage): Usage;
}

/** Finds and reads usage the OpenAI way, then the provider's way (made once per provider; nothing allocated per call beyond the usage). */
function createUsageReader(quirks: UsageQuirks | undefined) {
  const extend = quirks?.extend;
  return {
    locate: quirks?.locate ?? ((body: Record<string, unknown>) => body.usage),
    convert(raw: unknown): Usage | undefined {
      const usage = convertOpenAIUsage(raw);
      return usage && extend ? extend(raw as Record<string, unknown>, usage) : usage;
    },
  };
}

type UsageReader = ReturnType<typeof createUsageReader>;

function readCompletion(body: unknown, readUsage: UsageReader): ResponseFacts {
  const b = asObject(body);
  if (!b) return {};
  const choice = asObject(Array.isArray(b.choices) ? b.choices[0] : undefined);
  const error = asObject(b.error);
  const raw = readUsage.locate(b) ?? undefined;
  return {
    usage: readUsage.convert(raw),
    usageRaw: raw,
    responseModel: str(b.model),
    responseId: str(b.id),
    finishReason: str(choice?.finish_reason),
    errorType: error ? (str(error.type) ?? str(error.code) ?? "error") : undefined,
    errorMessage: str(error?.message),
  };
}

function createChatStreamReader(readUsage: UsageReader): StreamReader {
  let facts: ResponseFacts = {};
  return {
    onEvent(data) {
      if (data === "[DONE]") return;
      const chunk = readCompletion(JSON.parse(data), readUsage);
      facts = {
        ...facts,
        // An empty string is no model or id: Azure's first chunk (prompt_filter_results) has "model":"" and "id":"".
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

/** Responses API streams end with `response.completed` (or `.failed`/`.incomplete`) carrying the response. */
function createResponsesStreamReader(readUsage: UsageReader): StreamReader {
  let facts: ResponseFacts = {};
  return {
    onEvent(data) {
      if (data === "[DONE]") return;
      const event = asObject(JSON.parse(data));
      const response = asObject(event?.response);
      if (response) {
        const read = readResponse(response, readUsage);
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

function readResponse(body: unknown, readUsage: UsageReader): ResponseFacts {
  const b = asObject(body);
  if (!b) return {};
  const error = asObject(b.error);
  const incomplete = asObject(b.incomplete_details);
  const raw = readUsage.locate(b) ?? undefined;
  return {
    usage: readUsage.convert(raw),
    usageRaw: raw,
    responseModel: str(b.model),
    responseId: str(b.id),
    finishReason: str(incomplete?.reason) ?? (str(b.status) === "in_progress" ? undefined : str(b.status)),
    errorType: error ? (str(error.code) ?? str(error.type) ?? "error") : undefined,
    errorMessage: str(error?.message),
  };
}

export interface OpenAIWireOptions {
  usage?: UsageQuirks | undefined;
  /** Add `stream_options.include_usage` to chat streams that lack it (only where the API needs asking and accepts it). */
  askStreamUsage?: boolean | undefined;
}

/**
 * The endpoints every OpenAI-compatible API shares, made once per provider.
 * They are known by their last path segments, whatever version prefix the
 * API puts before them (`/v1`, `/openai/v1`, `/api/v1`, none).
 */
export function createOpenAIEndpoints(options: OpenAIWireOptions = {}): (method: string, path: string) => Endpoint | undefined {
  const readUsage = createUsageReader(options.usage);
  const readBody = (body: unknown) => readCompletion(body, readUsage);
  const chat: Endpoint = {
    operation: "chat",
    billable: true,
    readRequest: readModelFields,
    readResponse: readBody,
    createStreamReader: () => createChatStreamReader(readUsage),
    ...(options.askStreamUsage ? { prepareUpstream: requestStreamUsage } : {}),
    content: openAIChatContent,
    wire: "chat",
    // A stream ended at the deadline: a last chunk with finish_reason "length", then [DONE] (Chat Completions streaming).
    closeStream: () => `data: {"id":"chatcmpl-loupe-deadline","object":"chat.completion.chunk","created":${Math.floor(Date.now() / 1000)},"model":"","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}\n\ndata: [DONE]\n\n`,
  };
  const responses: Endpoint = {
    operation: "chat",
    billable: true,
    readRequest: readModelFields,
    readResponse: (body) => readResponse(body, readUsage),
    createStreamReader: () => createResponsesStreamReader(readUsage),
    content: openAIResponsesContent,
  };
  const embeddings: Endpoint = { operation: "embeddings", billable: true, readRequest: readModelFields, readResponse: readBody };
  const completions: Endpoint = { ...chat, operation: "text_completion" };
  const models: Endpoint = {
    operation: "models",
    billable: false,
    // List models shape: { object: "list", data: [{ id, object: "model", created, owned_by }] }.
    addModels(list, ids) {
      const body = list !== null && typeof list === "object" ? (list as { data?: unknown }) : undefined;
      if (!body || !Array.isArray(body.data)) return list;
      const known = new Set(body.data.map((m: { id?: unknown }) => m?.id));
      return { ...body, data: [...body.data, ...ids.filter((id) => !known.has(id)).map((id) => ({ id, object: "model", created: 0, owned_by: "loupe-routing" }))] };
    },
  };
  return (method, path) => {
    if (method === "GET") return /\/models(\/[^/]+)?$/.test(path) ? models : undefined;
    if (method !== "POST") return undefined;
    if (path.endsWith("/chat/completions")) return chat;
    if (path.endsWith("/responses")) return responses;
    if (path.endsWith("/embeddings")) return embeddings;
    if (path.endsWith("/completions")) return completions;
    return undefined;
  };
}
