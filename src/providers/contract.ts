import type { ContentHooks } from "../telemetry/genai-content.ts";
import type { Usage } from "../usage/usage.ts";
import type { HeaderObject } from "../http/headers.ts";

/** The error format a route speaks (DESIGN.md, "Errors"). */
export type Dialect = "anthropic" | "openai" | "gemini";

/** What the request tells us, read from its JSON body and URL. */
export interface RequestFacts {
  model?: string | undefined;
  streamed: boolean;
  sessionId?: string | undefined;
  userId?: string | undefined;
  /** Request parameters under their GenAI semconv names, without the `gen_ai.request.` prefix (max_tokens, temperature, …). */
  params?: Record<string, string | number | string[]> | undefined;
}

/** What the response tells us, read from its JSON body or its stream events. */
export interface ResponseFacts {
  usage?: Usage | undefined;
  responseModel?: string | undefined;
  responseId?: string | undefined;
  finishReason?: string | undefined;
  /** An error reported inside a 200 stream (Anthropic `event: error`, OpenRouter error chunk). */
  errorType?: string | undefined;
  errorMessage?: string | undefined;
  /** The raw usage object as the provider sent it, for `usage_raw`. */
  usageRaw?: unknown;
}

/** Accumulates facts from a stream, one event at a time. Must never throw. */
export interface StreamReader {
  onEvent(data: string, event: string | undefined): void;
  result(): ResponseFacts;
}

/** Decides, per event, what the client receives when Loupe changed the request upstream. */
export type EventRewrite = (data: string) => string | null;

export interface UpstreamBody {
  bytes: Uint8Array;
  /** Applied to each SSE event's data before it reaches the client; null drops the event. */
  rewriteEvent?: EventRewrite;
}

/** A known endpoint of a provider: usage extraction and request hooks. */
export interface Endpoint {
  /** `gen_ai.operation.name` (chat, generate_content, embeddings, …). */
  operation: string;
  /** False for free calls (token counting, model lists): cost is exactly 0. */
  billable: boolean;
  readRequest?(body: Record<string, unknown>): Partial<RequestFacts>;
  readResponse?(body: unknown): ResponseFacts;
  createStreamReader?(): StreamReader;
  /** Optional body edit before forwarding (e.g. asking OpenAI for stream usage). */
  prepareUpstream?(body: Record<string, unknown>): UpstreamBody | undefined;
  /** Message content in GenAI semconv shapes, for opt-in capture on spans. */
  content?: ContentHooks;
}

export interface ProviderAdapter<Id extends string = string> {
  id: Id;
  /** Route prefix, e.g. `/anthropic`. */
  prefix: string;
  /** Public API origin (plus path prefix if any) that paths are appended to. */
  defaultBaseUrl: string;
  dialect: Dialect;
  /** `gen_ai.provider.name` (OpenTelemetry GenAI semconv). */
  genAiProvider: string;
  /** The provider's id in the price data, when it differs from `id`. */
  pricingId?: string;
  /** Response headers holding the provider's request id, in order of preference. */
  requestIdHeaders: readonly string[];
  /** Whether a root path (no prefix) is this provider's, for drop-in base URLs (`/v1/messages`). */
  claimsDropIn?(method: string, path: string, headers: Headers): boolean;
  /** The known endpoint for a method and upstream path, if any. */
  endpoint(method: string, path: string): Endpoint | undefined;
  /** Session and user from provider-specific request headers (as `headerObject` gives them: read once per call). */
  readHeaders?(headers: HeaderObject): Partial<RequestFacts> & { client?: ClientMeta };
}

/** Agent metadata a client announces (Claude Code's `x-claude-code-*` headers). */
export interface ClientMeta {
  agentId?: string | undefined;
  parentAgentId?: string | undefined;
  requestClass?: string | undefined;
  agentType?: string | undefined;
}
