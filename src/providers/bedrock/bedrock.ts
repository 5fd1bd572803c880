import { Buffer } from "node:buffer";
import { z } from "zod";
import type { ErrorDialect } from "../../errors.ts";
import type { ContentHooks } from "../../telemetry/genai-content.ts";
import { asObject, pickParams, readCount, sumCounts, type Usage } from "../../usage/usage.ts";
import { anthropic, readSessionFromMetadata } from "../anthropic.ts";
import { anthropicMessagesContent } from "../anthropic-content.ts";
import { classifyClaudeCodeRequest } from "../claude-code-class.ts";
import type { Endpoint, Provider, ResponseFacts, StreamReader } from "../contract.ts";
import { str } from "../json-readers.ts";
import { createEventStreamFrames, ERROR_PREFIX, EVENT_STREAM_CONTENT_TYPE, EXCEPTION_PREFIX, MALFORMED } from "./eventstream-frames.ts";
import { createSigV4Prepare, DEFAULT_BASE_URL, REGION } from "./sigv4.ts";

/**
 * AWS Bedrock Runtime (API reference, "Amazon Bedrock Runtime"): Converse and
 * ConverseStream (one request shape for every model), InvokeModel and
 * InvokeModelWithResponseStream (the model's own body: Anthropic Messages for
 * Claude), CountTokens. The model id is in the path, URL-encoded: a base id
 * (`anthropic.claude-…-v1:0`), an inference profile (`us.…`, `global.…`) or
 * an ARN. Streams are AWS event streams (eventstream-frames.ts); the URL and
 * the signature are sigv4.ts's.
 */

/**
 * Converse `usage` (API reference, TokenUsage): `inputTokens` leaves out the
 * tokens read from and written to the prompt cache, which come apart in
 * `cacheReadInputTokens` and `cacheWriteInputTokens` (user guide, "Prompt
 * caching": totalTokens = input + output + cache read + cache write), so
 * the whole input is their sum, as for Anthropic. `cacheDetails` splits the
 * writes by TTL (`5m`, `1h`). Amazon Nova's InvokeModel body and the
 * `amazon-bedrock-invocationMetrics` of InvokeModel streams say the same with
 * `…Count` names. Reasoning is inside `outputTokens`, never broken out.
 */
export function convertBedrockUsage(raw: unknown): Usage | undefined {
  const u = asObject(raw);
  if (!u) return undefined;
  const uncached = readCount(u.inputTokens) ?? readCount(u.inputTokenCount);
  const cacheRead = readCount(u.cacheReadInputTokens) ?? readCount(u.cacheReadInputTokenCount);
  const cacheWrite = readCount(u.cacheWriteInputTokens) ?? readCount(u.cacheWriteInputTokenCount);
  const cacheWrite1h = Array.isArray(u.cacheDetails)
    ? sumCounts(0, ...u.cacheDetails.map((detail) => (asObject(detail)?.ttl === "1h" ? (readCount(asObject(detail)?.inputTokens) ?? 0) : 0)))
    : undefined;
  return {
    inputTokens: uncached === undefined ? undefined : sumCounts(uncached, cacheRead, cacheWrite),
    cacheReadTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    cacheWrite1hTokens: cacheWrite1h,
    outputTokens: readCount(u.outputTokens) ?? readCount(u.outputTokenCount),
  };
}

/**
 * The model a response is recorded (`response_model`) and priced as. Prices
 * differ by how a model is reached (genai-prices `aws`: a `global.` profile
 * costs less than the regional `us.`/`eu.` ones and base ids), so the path's
 * id says more than the `model` an Anthropic body names
 * (`claude-sonnet-4-5-20250929`): when the path names that model, its id is
 * kept; a different one (an application inference profile's ARN hides the
 * model) is the body's. An ARN of a foundation model or system profile is
 * priced by its id (`…:inference-profile/us.anthropic.…` → `us.anthropic.…`);
 * a plain id needs no response model, the request's is priced.
 */
export function pricedModel(pathModel: string, bodyModel?: string): string | undefined {
  const named = /^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:(?:foundation-model|inference-profile)\/(.+)$/.exec(pathModel)?.[1] ?? pathModel;
  if (bodyModel) return named.includes(bodyModel) ? named : bodyModel;
  return named === pathModel ? undefined : named;
}

/** Exceptions and errors inside a 200 event stream, and frames that do not decode: the record says so. */
function readStreamProblem(facts: ResponseFacts, data: string, event: string | undefined): boolean {
  if (event === undefined) return false;
  let type: string | undefined;
  if (event.startsWith(EXCEPTION_PREFIX)) type = event.slice(EXCEPTION_PREFIX.length);
  else if (event.startsWith(ERROR_PREFIX)) type = event.slice(ERROR_PREFIX.length);
  else if (event === MALFORMED) type = "malformed_event_stream";
  if (type === undefined) return false;
  facts.errorType = type;
  try {
    facts.errorMessage = str(asObject(JSON.parse(data))?.message) ?? data;
  } catch {
    facts.errorMessage = data;
  }
  return true;
}

/** An AWS error body (`{"message": …}`, the type is in the `x-amzn-errortype` header), or nothing. */
function readError(body: Record<string, unknown>): ResponseFacts {
  const message = str(body.message) ?? str(body.Message);
  return message === undefined ? {} : { errorType: str(body.__type), errorMessage: message };
}

function readConverse(body: unknown, model: string): ResponseFacts {
  const b = asObject(body);
  if (!b) return {};
  if (b.usage === undefined && b.output === undefined) return readError(b);
  return { usage: convertBedrockUsage(b.usage), usageRaw: b.usage, finishReason: str(b.stopReason), responseModel: pricedModel(model) };
}

/** ConverseStream: `messageStop` has the stop reason, `metadata` the usage (API reference, ConverseStreamOutput). */
function createConverseStreamReader(model: string): StreamReader {
  const facts: ResponseFacts = {};
  return {
    onEvent(data, event) {
      if (readStreamProblem(facts, data, event)) return;
      if (event === "messageStop") facts.finishReason = str(asObject(JSON.parse(data))?.stopReason) ?? facts.finishReason;
      else if (event === "metadata") {
        const usage = asObject(JSON.parse(data))?.usage;
        if (usage === undefined) return;
        facts.usage = convertBedrockUsage(usage);
        facts.usageRaw = usage;
        facts.responseModel = pricedModel(model);
      }
    },
    result: () => facts,
  };
}

const anthropicMessages = anthropic.endpoint("POST", "/v1/messages");
const INVOCATION_METRICS = "amazon-bedrock-invocationMetrics";

/** InvokeModel: the model's own body. Claude's is an Anthropic message; Amazon Nova's has a Converse-like `usage`. */
function readInvoke(body: unknown, model: string): ResponseFacts {
  const b = asObject(body);
  if (!b) return {};
  if (b.type === "message") {
    const facts = anthropicMessages?.readResponse?.(b) ?? {};
    return { ...facts, responseModel: pricedModel(model, facts.responseModel) };
  }
  const usage = b.usage ?? b[INVOCATION_METRICS] ?? (b.inputTextTokenCount === undefined ? undefined : { inputTokenCount: b.inputTextTokenCount });
  if (usage === undefined) return readError(b);
  return { usage: convertBedrockUsage(usage), usageRaw: usage, finishReason: str(b.stopReason), responseModel: pricedModel(model) };
}

/** A `chunk` event's payload: `{"bytes": base64 of the model's own event JSON}` (API reference, PayloadPart). */
function chunkJson(data: string): string | undefined {
  const bytes = str(asObject(JSON.parse(data))?.bytes);
  return bytes === undefined ? undefined : Buffer.from(bytes, "base64").toString("utf8");
}

/**
 * InvokeModelWithResponseStream: each `chunk` carries one of the model's own
 * events. Claude's are Anthropic stream events, read as Anthropic's are
 * (cumulative `message_delta` usage); every model's last chunk also carries
 * `amazon-bedrock-invocationMetrics`, the usage when the model's events have none.
 */
function createInvokeStreamReader(model: string): StreamReader {
  const messages = anthropicMessages?.createStreamReader?.();
  const own: ResponseFacts = {};
  let metrics: unknown;
  return {
    onEvent(data, event) {
      if (readStreamProblem(own, data, event) || event !== "chunk") return;
      const json = chunkJson(data);
      if (json === undefined) return;
      if (json.includes(INVOCATION_METRICS)) metrics = asObject(JSON.parse(json))?.[INVOCATION_METRICS] ?? metrics;
      messages?.onEvent(json, undefined);
    },
    result() {
      const facts = messages?.result() ?? {};
      const usage = facts.usage ?? convertBedrockUsage(metrics);
      return {
        ...facts,
        usage,
        usageRaw: facts.usage ? facts.usageRaw : metrics,
        responseModel: usage ? pricedModel(model, facts.responseModel) : facts.responseModel,
        errorType: own.errorType ?? facts.errorType,
        errorMessage: own.errorMessage ?? facts.errorMessage,
      };
    },
  };
}

/** Claude's InvokeModel bodies are Anthropic Messages: their content reads the same, stream chunks once unwrapped. */
const invokeContent: ContentHooks = {
  ...anthropicMessagesContent,
  createContentStreamReader() {
    const inner = anthropicMessagesContent.createContentStreamReader?.();
    return {
      onEvent(data, event) {
        const json = event === "chunk" ? chunkJson(data) : undefined;
        if (json !== undefined) inner?.onEvent(json, undefined);
      },
      result: () => inner?.result() ?? [],
    };
  },
};

const CONVERSE_PARAMS = { maxTokens: "max_tokens", temperature: "temperature", topP: "top_p", stopSequences: "stop_sequences" };
const ANTHROPIC_PARAMS = { max_tokens: "max_tokens", temperature: "temperature", top_p: "top_p", top_k: "top_k", stop_sequences: "stop_sequences" };

const MODEL_ACTION = /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream|count-tokens)$/;

/** The model id as the client named it; an encoding that does not decode is kept as sent. */
function decodeModelId(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function endpointFor(action: string, model: string): Endpoint | undefined {
  switch (action) {
    case "converse":
    case "converse-stream": {
      const streamed = action === "converse-stream";
      return {
        operation: "chat",
        billable: true,
        readRequest: (body) => ({ model, streamed, params: pickParams(asObject(body.inferenceConfig), CONVERSE_PARAMS) }),
        readResponse: (body) => readConverse(body, model),
        createStreamReader: () => createConverseStreamReader(model),
      };
    }
    case "invoke":
    case "invoke-with-response-stream": {
      const streamed = action === "invoke-with-response-stream";
      return {
        // Embedding models are called through InvokeModel too (amazon.titan-embed-…, cohere.embed-…).
        operation: /embed/i.test(model) ? "embeddings" : "chat",
        billable: true,
        readRequest: (body, headers) => ({
          model,
          streamed,
          sessionId: readSessionFromMetadata(asObject(body.metadata)?.user_id),
          params: pickParams(body, ANTHROPIC_PARAMS),
          client: classifyClaudeCodeRequest({ headers, body }),
        }),
        readResponse: (body) => readInvoke(body, model),
        createStreamReader: () => createInvokeStreamReader(model),
        content: invokeContent,
      };
    }
    case "count-tokens":
      return { operation: "count_tokens", billable: false, readRequest: () => ({ model, streamed: false }) };
    default:
      return undefined;
  }
}

/** AWS's error type names for Loupe's statuses (Bedrock Runtime API reference, "Errors"; 401 is AWS's unrecognized-credentials error). */
const AWS_ERROR_TYPE: Readonly<Record<number, string>> = {
  400: "ValidationException",
  401: "UnrecognizedClientException",
  403: "AccessDeniedException",
  404: "ResourceNotFoundException",
  408: "ModelTimeoutException",
  413: "ValidationException",
  429: "ThrottlingException",
  500: "InternalServerException",
  502: "ServiceUnavailableException",
  503: "ServiceUnavailableException",
  504: "ModelTimeoutException",
};

/**
 * AWS JSON errors: `{"message": …}` with the type in `x-amzn-errortype`,
 * where the AWS SDKs look first (restJson1 protocol), so a client raises its
 * usual exception class (ValidationException, ThrottlingException, …).
 */
export const bedrockErrors: ErrorDialect = {
  body: (error) => ({ message: error.message }),
  headers: (error) => ({ "x-amzn-errortype": AWS_ERROR_TYPE[error.status] ?? "InternalServerException" }),
};

export const bedrock: Provider<"bedrock"> = {
  id: "bedrock",
  route: { prefix: "/bedrock", sdkPath: "", examplePath: "model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse" },
  // A stored key is AWS credentials as JSON (`{"accessKeyId", "secretAccessKey", "sessionToken"?}`): the call is signed with them.
  upstream: { baseUrl: DEFAULT_BASE_URL, prepare: createSigV4Prepare(), credentials: { viaPrepare: true } },
  dialect: bedrockErrors,
  genAiProvider: "aws.bedrock",
  pricingId: "aws",
  requestIdHeaders: ["x-amzn-requestid"],
  settings: z.object({
    /** For clients that sign for no region (Bedrock API keys, unsigned calls): LOUPE_BEDROCK_REGION, --bedrock-region. */
    region: z.string().regex(REGION, "an AWS region name such as us-east-1").optional(),
  }),
  // Claude Code on Bedrock (CLAUDE_CODE_USE_BEDROCK) sends the same x-claude-code-* headers as on Anthropic's API.
  readHeaders: (headers) => anthropic.readHeaders?.(headers) ?? {},
  frames: (contentType) => (contentType.toLowerCase().startsWith(EVENT_STREAM_CONTENT_TYPE) ? createEventStreamFrames : undefined),
  endpoint(method, path) {
    const match = method === "POST" ? MODEL_ACTION.exec(path) : null;
    return match ? endpointFor(match[2] ?? "", decodeModelId(match[1] ?? "")) : undefined;
  },
};
