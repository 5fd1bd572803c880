import type { ErrorDialect, LoupeError } from "../errors.ts";
import { asObject, pickParams, readCount, type Usage } from "../usage/usage.ts";
import type { Endpoint, Provider, RequestFacts, ResponseFacts, StreamReader } from "./contract.ts";
import { openAIErrors } from "./dialects.ts";
import { str } from "./json-readers.ts";
import { ollamaChatContent, ollamaGenerateContent } from "./ollama-content.ts";
import { createOpenAIEndpoints } from "./openai-wire.ts";

/**
 * Ollama (github.com/ollama/ollama, docs/api.md and docs/api/*.mdx): its
 * native API under `/api/…`, and its OpenAI-compatible API under `/v1/…`,
 * both at `/ollama/…`. Models run on the user's machine, so calls cost
 * nothing unless the operator's price file prices them.
 *
 * Native responses carry their counts at the top level of the body, or of
 * a stream's last NDJSON object (`done: true`): `prompt_eval_count` is the
 * prompt's tokens (the ones served from the KV cache included: llm's
 * `promptEvalCount()` is CacheN + PromptN, and no cache count is reported),
 * `eval_count` the generated ones (thinking included). Go's `omitempty`
 * drops a count of 0; an absent count is stored as not reported.
 */
export function convertOllamaUsage(body: Record<string, unknown>): Usage | undefined {
  const input = readCount(body.prompt_eval_count);
  const output = readCount(body.eval_count);
  return input === undefined && output === undefined ? undefined : { inputTokens: input, outputTokens: output };
}

/** The metrics of a final object (docs/api/usage.mdx), as `usage_raw`: counts and durations (ns), those present. */
const METRICS = ["prompt_eval_count", "eval_count", "total_duration", "load_duration", "prompt_eval_duration", "eval_duration"] as const;

function readMetrics(body: Record<string, unknown>): Record<string, unknown> | undefined {
  let metrics: Record<string, unknown> | undefined;
  for (const name of METRICS) if (body[name] !== undefined) (metrics ??= {})[name] = body[name];
  return metrics;
}

/**
 * One response object: a whole body, or one line of a stream. Errors are
 * `{"error": "<message>"}` (docs/api/errors.mdx), also as a stream's last
 * line when a generation fails after it began (its status stays 200).
 */
function readObject(body: unknown): ResponseFacts {
  const b = asObject(body);
  if (!b) return {};
  const metrics = readMetrics(b);
  return {
    usage: metrics && convertOllamaUsage(b),
    usageRaw: metrics,
    responseModel: str(b.model),
    finishReason: str(b.done_reason),
    errorMessage: str(b.error),
  };
}

/** Only the last object (`done: true`) has the counts and `done_reason`; an `error` object may end the stream instead. */
function createNdjsonReader(): StreamReader {
  const facts: ResponseFacts = {};
  return {
    onEvent(data) {
      const line = readObject(JSON.parse(data));
      facts.responseModel ??= line.responseModel;
      if (line.usage) (facts.usage = line.usage), (facts.usageRaw = line.usageRaw);
      if (line.finishReason) facts.finishReason = line.finishReason;
      if (line.errorMessage !== undefined) (facts.errorType = "stream_error"), (facts.errorMessage = line.errorMessage);
    },
    result: () => facts,
  };
}

/** Model parameters sit in `options` (docs/modelfile.mdx, "Valid parameters and values"). */
const OPTIONS = {
  num_predict: "max_tokens",
  temperature: "temperature",
  top_p: "top_p",
  top_k: "top_k",
  seed: "seed",
  stop: "stop_sequences",
  presence_penalty: "presence_penalty",
  frequency_penalty: "frequency_penalty",
};

/** The native endpoints stream unless `stream` is false (docs/api/streaming.mdx); `/api/embed` never streams. */
function readRequest(body: Record<string, unknown>): Partial<RequestFacts> {
  return { model: str(body.model), streamed: body.stream !== false, params: pickParams(asObject(body.options), OPTIONS) };
}

const generation = { billable: true, readRequest, readResponse: readObject, createStreamReader: createNdjsonReader };
const chat: Endpoint = { operation: "chat", ...generation, content: ollamaChatContent };
const generate: Endpoint = { operation: "text_completion", ...generation, content: ollamaGenerateContent };
const embed: Endpoint = {
  operation: "embeddings",
  billable: true,
  readRequest: (body) => ({ model: str(body.model), streamed: false }),
  readResponse: readObject,
};
const models: Endpoint = { operation: "models", billable: false };

const NATIVE: Readonly<Record<string, Endpoint>> = {
  "POST /api/chat": chat,
  "POST /api/generate": generate,
  "POST /api/embed": embed,
  // The endpoint /api/embed replaced: `{"embedding": [...]}`, no counts.
  "POST /api/embeddings": embed,
  "GET /api/tags": models,
  "GET /api/ps": models,
  "POST /api/show": models,
};

/** Stream usage is sent only when asked (middleware/openai.go), as OpenAI's: Loupe asks, then hides it. */
const compatible = createOpenAIEndpoints({ askStreamUsage: true });

/** `{"error": "<message>"}`: the native SDKs (the `ollama` package) read `error` as the message. */
export const ollamaErrors: ErrorDialect = { body: (error: LoupeError) => ({ error: error.message }) };

export const ollama: Provider<"ollama"> = {
  id: "ollama",
  route: { prefix: "/ollama", sdkPath: "", examplePath: "api/chat" },
  upstream: { baseUrl: "http://127.0.0.1:11434" },
  endpoint: (method, path) => (path.startsWith("/v1/") ? compatible(method, path) : NATIVE[`${method} ${path}`]),
  dialect: ollamaErrors,
  // Ollama's own /v1 answers errors in OpenAI's shape (openai.NewError), which the OpenAI SDK reads.
  dialectAt: (path) => (path.startsWith("/v1/") ? openAIErrors : undefined),
  genAiProvider: "ollama",
  freeUnlessPriced: true,
  requestIdHeaders: [],
};
