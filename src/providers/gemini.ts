import { asObject, pickParams, readCount, sumCounts, type Usage } from "../usage/usage.ts";
import { geminiGenerateContent } from "./gemini-content.ts";
import { str } from "./json-readers.ts";
import type { Endpoint, Provider, ResponseFacts, StreamReader } from "./contract.ts";
import { googleErrors } from "./dialects.ts";

/**
 * Gemini `usageMetadata`: `promptTokenCount` already includes
 * `cachedContentTokenCount`, while `candidatesTokenCount` excludes
 * `thoughtsTokenCount` (API reference, UsageMetadata), so output is their sum.
 * Tool results fed back to the model (`toolUsePromptTokenCount`) are input.
 */
export function convertGeminiUsage(raw: unknown): Usage | undefined {
  const u = asObject(raw);
  if (!u) return undefined;
  const prompt = readCount(u.promptTokenCount);
  const candidates = readCount(u.candidatesTokenCount);
  const thoughts = readCount(u.thoughtsTokenCount);
  return {
    inputTokens: prompt === undefined ? undefined : sumCounts(prompt, readCount(u.toolUsePromptTokenCount)),
    cacheReadTokens: readCount(u.cachedContentTokenCount),
    outputTokens: sumCounts(candidates, thoughts),
    reasoningTokens: thoughts,
  };
}

function readGenerateResponse(body: unknown): ResponseFacts {
  // A non-SSE stream is one JSON array of responses; the last one is final.
  const b = Array.isArray(body) ? asObject(body.at(-1)) : asObject(body);
  if (!b) return {};
  const candidate = asObject(Array.isArray(b.candidates) ? b.candidates[0] : undefined);
  const error = asObject(b.error);
  return {
    usage: convertGeminiUsage(b.usageMetadata),
    usageRaw: b.usageMetadata,
    responseModel: str(b.modelVersion)?.replace(/^models\//, ""),
    responseId: str(b.responseId),
    finishReason: str(candidate?.finishReason),
    errorType: error ? (str(error.status) ?? "error") : undefined,
    errorMessage: str(error?.message),
  };
}

/** Every stream chunk carries the cumulative `usageMetadata`: the last one wins, never a sum or max. */
function createGenerateStreamReader(): StreamReader {
  let facts: ResponseFacts = {};
  return {
    onEvent(data) {
      const chunk = readGenerateResponse(JSON.parse(data));
      facts = {
        usage: chunk.usage ?? facts.usage,
        usageRaw: chunk.usageRaw ?? facts.usageRaw,
        responseModel: chunk.responseModel ?? facts.responseModel,
        responseId: chunk.responseId ?? facts.responseId,
        finishReason: chunk.finishReason ?? facts.finishReason,
        errorType: chunk.errorType ?? facts.errorType,
        errorMessage: chunk.errorMessage ?? facts.errorMessage,
      };
    },
    result: () => facts,
  };
}

const MODEL_ACTION = /\/models\/([^/:]+):([A-Za-z]+)$/;

const GENERATION_PARAMS = {
  maxOutputTokens: "max_tokens",
  temperature: "temperature",
  topP: "top_p",
  topK: "top_k",
  stopSequences: "stop_sequences",
  candidateCount: "choice.count",
  seed: "seed",
  presencePenalty: "presence_penalty",
  frequencyPenalty: "frequency_penalty",
};

function endpointFor(action: string, model: string): Endpoint | undefined {
  // The model is in the path; parameters sit in generationConfig.
  const readRequest = (body: Record<string, unknown>) => ({
    model,
    streamed: action === "streamGenerateContent",
    params: pickParams(asObject(body.generationConfig), GENERATION_PARAMS),
  });
  switch (action) {
    case "generateContent":
    case "streamGenerateContent":
      return {
        operation: "generate_content",
        billable: true,
        readRequest,
        readResponse: readGenerateResponse,
        createStreamReader: createGenerateStreamReader,
        content: geminiGenerateContent,
      };
    case "embedContent":
    case "batchEmbedContents":
      return { operation: "embeddings", billable: true, readRequest, readResponse: readGenerateResponse };
    case "countTokens":
      return { operation: "count_tokens", billable: false, readRequest };
    default:
      return undefined;
  }
}

/** The endpoints of a model action, for APIs that serve Gemini's wire format under other paths (Vertex AI's publisher models). */
export { endpointFor as geminiEndpointFor };

export const gemini: Provider<"gemini"> = {
  id: "gemini",
  route: { prefix: "/gemini", sdkPath: "", examplePath: "v1beta/models/gemini-2.5-flash:generateContent" },
  upstream: { baseUrl: "https://generativelanguage.googleapis.com", credentials: { header: "x-goog-api-key" } },
  dialect: googleErrors,
  genAiProvider: "gcp.gemini",
  pricingId: "google",
  requestIdHeaders: ["x-request-id"],
  // `@google/genai` 3.x calls /v1/models/…, older versions /v1beta/…: any
  // version prefix is accepted and forwarded as it is.
  endpoint(method, path) {
    if (method === "GET" && /\/models\/?$/.test(path)) return { operation: "models", billable: false };
    const match = MODEL_ACTION.exec(path);
    if (method !== "POST" || !match) return undefined;
    return endpointFor(match[2] ?? "", decodeURIComponent(match[1] ?? ""));
  },
};
