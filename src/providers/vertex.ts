import { LoupeError } from "../errors.ts";
import { asObject } from "../usage/usage.ts";
import { anthropic, anthropicCountTokens, anthropicMessages } from "./anthropic.ts";
import type { Endpoint, Provider, ResponseFacts } from "./contract.ts";
import { googleErrors } from "./dialects.ts";
import { geminiEndpointFor } from "./gemini.ts";
import { str } from "./json-readers.ts";

/**
 * Google Vertex AI: Gemini and Claude as publisher models, under
 * `/{version}/projects/{p}/locations/{l}/publishers/{google|anthropic}/models/{m}:{action}`
 * (Vertex AI REST reference; Anthropic, "Claude on Vertex AI"). The bodies
 * are Gemini's and Anthropic's own wire formats, read by their providers'
 * endpoints; the model is in the path. The client's OAuth bearer token (or
 * express-mode API key) passes through untouched.
 */

/** The global endpoint; also what `LOUPE_VERTEX_BASE_URL` replaces. */
const GLOBAL_HOST = "https://aiplatform.googleapis.com";

/**
 * The host serving a location, as both official SDKs pick it
 * (`@google/genai` ApiClient, `@anthropic-ai/vertex-sdk` AnthropicVertex):
 * `global` and paths without a location (express mode) use the global host,
 * the multi-regions `us` and `eu` their `rep` hosts, a region its own
 * `{region}-aiplatform` host.
 */
export function vertexHostFor(path: string): string {
  const segment = /\/locations\/([^/]*)/.exec(path)?.[1];
  if (segment === undefined) return GLOBAL_HOST;
  const location = decode(segment);
  if (location === "global") return GLOBAL_HOST;
  if (location === "us" || location === "eu") return `https://aiplatform.${location}.rep.googleapis.com`;
  if (/^[a-z]+(?:-[a-z0-9]+)+$/.test(location)) return `https://${location}-aiplatform.googleapis.com`;
  throw new LoupeError(
    "invalid_request",
    `Vertex AI location "${location}" in the path names no regional host: expected a region such as us-central1, "global", "us" or "eu" (or set LOUPE_VERTEX_BASE_URL to send every call to one host)`,
  );
}

/** `…/publishers/{publisher}/models/{model}:{action}`, with or without `projects/{p}/locations/{l}`. */
const PUBLISHER_MODEL = /\/publishers\/([^/]+)\/models\/([^/:]+):([A-Za-z]+)$/;
const MODEL_LIST_OR_GET = /\/publishers\/[^/]+\/models(?:\/[^/:]+)?\/?$/;

/** Vertex's own errors are Google's (`{"error":{"code","message","status"}}`) even on Claude's routes. */
function withGoogleError(facts: ResponseFacts, body: unknown): ResponseFacts {
  if (facts.errorType !== undefined) return facts;
  const error = asObject(asObject(body)?.error);
  const status = str(error?.status);
  return status === undefined ? facts : { ...facts, errorType: status, errorMessage: str(error?.message) };
}

/** Claude's Messages API as `rawPredict` / `streamRawPredict`: the body has no `model` (it is in the path) and carries `anthropic_version`. */
function claudeEndpoint(model: string, action: string): Endpoint | undefined {
  if (action !== "rawPredict" && action !== "streamRawPredict") return undefined;
  // AnthropicVertex sends count_tokens as the pseudo-model `count-tokens`, the counted model in the body.
  if (model === "count-tokens") return anthropicCountTokens;
  return {
    ...anthropicMessages,
    readRequest(body, headers) {
      const facts = anthropicMessages.readRequest?.(body, headers);
      return { ...facts, model, streamed: action === "streamRawPredict" || body.stream === true };
    },
    readResponse: (body) => withGoogleError(anthropicMessages.readResponse?.(body) ?? {}, body),
  };
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export const vertex: Provider<"vertex"> = {
  id: "vertex",
  route: { prefix: "/vertex", sdkPath: "", examplePath: "v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent" },
  upstream: {
    baseUrl: GLOBAL_HOST,
    // The location is in the path, so the host is picked per call; an operator's base URL takes every call as it is.
    async prepare(request, { path }) {
      if (!request.url.startsWith(`${GLOBAL_HOST}/`)) return request;
      const host = vertexHostFor(path);
      return host === GLOBAL_HOST ? request : { ...request, url: host + request.url.slice(GLOBAL_HOST.length) };
    },
  },
  dialect: googleErrors,
  genAiProvider: "gcp.vertex_ai",
  // genai-prices files Vertex under `google`: Gemini, and Claude at Vertex's prices with its `@date` ids, Anthropic's table as fallback.
  pricingId: "google",
  requestIdHeaders: ["request-id", "x-request-id"],
  // Claude Code on Vertex (ANTHROPIC_VERTEX_BASE_URL) still sends its session and agent headers.
  readHeaders: (headers) => anthropic.readHeaders?.(headers) ?? {},
  endpoint(method, path) {
    if (method === "GET" && MODEL_LIST_OR_GET.test(path)) return { operation: "models", billable: false };
    const match = PUBLISHER_MODEL.exec(path);
    if (method !== "POST" || !match) return undefined;
    const [, publisher, model = "", action = ""] = match;
    if (publisher === "google") return geminiEndpointFor(action, decode(model));
    if (publisher === "anthropic") return claudeEndpoint(decode(model), action);
    return undefined;
  },
};
