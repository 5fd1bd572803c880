import type { z } from "zod";
import type { ErrorDialect } from "../errors.ts";
import type { HeaderObject } from "../http/headers.ts";
import type { ContentHooks } from "../telemetry/genai-content.ts";
import type { Usage } from "../usage/usage.ts";

/**
 * What a provider is to Loupe (DESIGN.md, "Provider contract"). Everything
 * central code needs to know about a provider is asked through this
 * interface; the hooks are optional, and a provider without them costs the
 * proxy nothing for them.
 */
export interface Provider<Id extends string = string> {
  id: Id;
  route: ProviderRoute;
  upstream: {
    /** Public API origin (plus path prefix, if any) the path after `/<id>` is appended to; `LOUPE_<ID>_BASE_URL` overrides it. */
    baseUrl: string;
    /** Last edit of the upstream request before it is sent: signing, injected credentials, deployment or regional URLs. */
    prepare?: PrepareUpstream;
    /**
     * How a stored provider key (part 7) goes upstream for a call that came
     * with a gateway key: in a header (default `Authorization: Bearer`), or
     * handed to `prepare` as `storedSecret` (AWS signing).
     */
    credentials?: { header: string; prefix?: string } | { viaPrepare: true };
    /** Where this provider serves each chat wire format (upstream paths): a routing rule can send calls here. */
    wirePaths?: { chat?: string; messages?: string };
    /** Headers its API needs that a client of another provider's SDK never sends (for calls routed here). */
    routedHeaders?: Readonly<Record<string, string>>;
  };
  /** The known endpoint for a method and upstream path (query excluded), if any. */
  endpoint(method: string, path: string): Endpoint | undefined;
  /** A decoder for stream bodies that are neither SSE nor NDJSON (binary event streams), by response content type. */
  frames?(contentType: string): (() => FrameDecoder) | undefined;
  /** How Loupe's own errors on this provider's routes are written. */
  dialect: ErrorDialect;
  /**
   * Another dialect for part of the API, by upstream path: where a provider
   * also serves another wire format under its prefix (Ollama's
   * OpenAI-compatible `/v1`), that part's SDKs expect that format's errors.
   * The route match hands the proxy the provider with it.
   */
  dialectAt?(path: string): ErrorDialect | undefined;
  /** Settings of this provider (credentials, region, …), merged into config as `<id><Key>` / `LOUPE_<ID>_<KEY>` / `--<id>-<key>`. */
  settings?: z.ZodObject;
  /** `gen_ai.provider.name` (OpenTelemetry GenAI semconv). */
  genAiProvider: string;
  /** The provider's id in the price data, when it differs from `id`. */
  pricingId?: string;
  /**
   * Its models run on the user's own hardware (Ollama): a call no price
   * covers costs exactly 0 (`cost_source = free`) instead of NULL. The
   * operator's price file still prices them when it names them.
   */
  freeUnlessPriced?: boolean;
  /**
   * Its responses carry what the call cost (OpenRouter's `usage.cost`): a model
   * the price book lacks is still priced, so a USD limit may admit it
   * (gate/create-gate.ts refuses unpriced models under a USD limit).
   */
  reportsCost?: boolean;
  /** Response headers holding the provider's request id, in order of preference. */
  requestIdHeaders: readonly string[];
  /** Whether a root path (no prefix) is this provider's, for drop-in base URLs (`/v1/messages`). */
  claimsDropIn?(method: string, path: string, headers: Headers): boolean;
  /** Session and user from provider-specific request headers (as `headerObject` gives them: read once per call). */
  readHeaders?(headers: HeaderObject): Partial<RequestFacts> & { client?: ClientMeta };
  /**
   * The provider's rate-limit headers in a response (any status), and whose
   * limits they are: read once per answer from the headers `headerObject`
   * gave, kept in the record's `ratelimit`. Undefined when it sent none.
   */
  rateLimits?(headers: HeaderObject): RateLimitSnapshot | undefined;
}

/** Rate-limit headers as a response carried them (the record's `ratelimit` column holds this as JSON). */
export interface RateLimitSnapshot {
  /** The account the limits belong to, where the provider names it in a header. */
  organization?: string;
  /** Lower-case header name → value, as sent. */
  headers: Record<string, string>;
}

export interface ProviderRoute {
  /** Always `/<id>`; `/proxy/<id>` is served as an alias. */
  prefix: string;
  /** Where the provider's official SDK base URL ends below the prefix (`/v1` for OpenAI: `http://HOST:PORT/openai/v1`). */
  sdkPath: string;
  /** An upstream path to show in the OpenAPI description, without leading slash. */
  examplePath: string;
  /** Root paths served as drop-in, described for people (`claimsDropIn` decides). */
  dropIn?: readonly string[];
}

/** The request as it will be sent upstream: `prepare` returns it changed (or the same object). */
export interface UpstreamRequest {
  url: string;
  method: string;
  /** Lower-case names, as forwarded (hop-by-hop and `x-loupe-*` already removed). */
  headers: Record<string, string>;
  body: Uint8Array | undefined;
}

export interface PrepareContext {
  /** This provider's settings, parsed by its `settings` schema (empty when it has none). */
  settings: Readonly<Record<string, unknown>>;
  /** The upstream path after the prefix (query excluded), and its endpoint if known. */
  path: string;
  endpoint: Endpoint | undefined;
  /** The stored provider key for this call (when it came with a gateway key and the provider takes it in `prepare`). */
  storedSecret?: string | undefined;
}

/** May throw a LoupeError (e.g. `unauthorized` for missing credentials); any other error is answered 500. */
export type PrepareUpstream = (request: UpstreamRequest, context: PrepareContext) => Promise<UpstreamRequest>;

/**
 * Splits a stream body into events for a StreamReader, for framings the
 * observer does not know (AWS event streams). Must never throw.
 */
export interface FrameDecoder {
  /** Bytes as they arrive (content-decoded); `emit` is called for each complete event. */
  feed(chunk: Uint8Array, emit: (data: string, event: string | undefined) => void): void;
  /** The body ended: emit what is complete, drop the rest. */
  end(emit: (data: string, event: string | undefined) => void): void;
}

/** A known endpoint of a provider: usage extraction and request hooks. */
export interface Endpoint {
  /** `gen_ai.operation.name` (chat, generate_content, embeddings, …). */
  operation: string;
  /** False for free calls (token counting, model lists): cost is exactly 0. */
  billable: boolean;
  /** What the body says; `client` is completed there where the headers (`readHeaders`) said nothing. */
  readRequest?(body: Record<string, unknown>, headers?: HeaderObject): Partial<RequestFacts> & { client?: ClientMeta | undefined };
  readResponse?(body: unknown): ResponseFacts;
  createStreamReader?(): StreamReader;
  /**
   * Optional body edit before forwarding (e.g. asking OpenAI for stream
   * usage). `query` is the request's query string as sent (`?…`, or ""):
   * whether an edit is accepted can depend on it (Azure's `api-version`).
   */
  prepareUpstream?(body: Record<string, unknown>, request: { query: string }): UpstreamBody | undefined;
  /** Message content in GenAI semconv shapes, for opt-in capture on spans. */
  content?: ContentHooks;
  /**
   * The provider's own closing events for a stream Loupe ends at its deadline
   * (LOUPE_STREAM_DEADLINE_S), so SDK helpers see a finished answer. Streams of
   * endpoints without it are cut without closing events.
   */
  closeStream?(seen: ResponseFacts): string;
  /** The wire format of a chat endpoint, for routing between providers (src/translate/ converts between the two). */
  wire?: "chat" | "messages";
  /**
   * A model list (GET /v1/models) with more models in it, in this provider's
   * shape: the models routing rules serve, so a client's model discovery
   * (Claude Code's) lists them. Returns the body unchanged when it cannot.
   */
  addModels?(list: unknown, models: readonly string[]): unknown;
}

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

/** Agent metadata a client announces (Claude Code's `x-claude-code-*` headers). */
export interface ClientMeta {
  agentId?: string | undefined;
  parentAgentId?: string | undefined;
  requestClass?: string | undefined;
  agentType?: string | undefined;
}

