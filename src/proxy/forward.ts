import { v7 as uuidv7 } from "uuid";
import type { Config } from "../config.ts";
import { LoupeError, renderError } from "../errors.ts";
import type { PriceBook } from "../pricing/price-book.ts";
import type { ProviderId, RouteMatch } from "../providers/registry.ts";
import type { ClientMeta, Endpoint, RequestFacts, ResponseFacts } from "../providers/contract.ts";
import type { RequestRecord } from "../record.ts";
import { readTraceId, type CallTelemetry, type CallTrace, type CallTracer } from "../telemetry/call-tracer.ts";
import type { GenAIOutputMessage } from "../telemetry/genai-content.ts";
import { asObject } from "../usage/usage.ts";
import { buildRecord, callError, priceCall, type CallSummary } from "../recording/build-record.ts";
import type { DeferredCall } from "../recording/recorder.ts";
import { forwardRequestHeaders, forwardResponseHeaders, headerObject, headerText, type HeaderObject } from "../http/headers.ts";
import { observeBody, type BodyOutcome } from "../observe/observe-body.ts";
import { readRequestTags, type RequestTags } from "./request-tags.ts";
import { createResponseObserver, type BodyKind } from "../observe/response-observer.ts";
import { createSseRewriter } from "../observe/sse-rewriter.ts";
import { UpstreamTimeoutError, type UpstreamDeadlines } from "./upstream-deadline.ts";

export interface ProxyDeps {
  config: Config;
  priceBook: PriceBook;
  /** Journals and queues a finished record (with what its telemetry needs); must not throw. */
  record(record: RequestRecord, telemetry?: CallTelemetry): void;
  /** Journals a finished call whose record the store makes from its response body later (deferred-record.ts); must not throw. */
  recordLater(call: DeferredCall, body: Uint8Array): void;
  /** Counts a failure of Loupe's own bookkeeping (never the caller's problem). */
  onInternalError(message: string): void;
  /** A call failed in Loupe itself (a bug): it is answered with a 500 in its dialect, and has no record. */
  onFailure(error: unknown): void;
  /** OpenTelemetry spans and metrics, when export is on. */
  tracer?: CallTracer | undefined;
  /** The timeout on waiting for an upstream's response headers (`limits.upstreamTimeoutMs`). */
  deadlines: UpstreamDeadlines;
}

const BODYLESS = new Set(["GET", "HEAD"]);
/** Call ids: UUIDv7 (time-ordered). Bun makes them natively; elsewhere (Deno) the uuid package does. */
const newCallId: () => string = typeof Bun === "undefined" ? uuidv7 : () => Bun.randomUUIDv7();
const utf8 = new TextDecoder();
const SMALL_BODY_BYTES = 1024 * 1024;
const NO_SETTINGS: Readonly<Record<string, unknown>> = Object.freeze({});

/** The raw path and query as the client sent them (WHATWG URL parsing would re-encode). */
function rawPathAndQuery(url: string): string {
  const afterScheme = url.indexOf("//");
  const slash = url.indexOf("/", afterScheme + 2);
  return slash < 0 ? "/" : url.slice(slash);
}

function contentKind(contentType: string | null): BodyKind {
  const type = contentType?.toLowerCase() ?? "";
  if (type.startsWith("text/event-stream")) return "sse";
  if (type.includes("ndjson") || type.includes("jsonl")) return "ndjson";
  return "json";
}

const hosts = new Map<string, { hostname: string; port: number }>();
/** The upstream's host and port (`server.address`/`server.port`), parsed once per base URL. */
function hostOf(base: string): { hostname: string; port: number } {
  let host = hosts.get(base);
  if (!host) {
    const url = new URL(base);
    host = { hostname: url.hostname, port: Number(url.port) || (url.protocol === "https:" ? 443 : 80) };
    hosts.set(base, host);
  }
  return host;
}

function firstHeader(headers: HeaderObject, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = headerText(headers[name]);
    if (value) return value;
  }
  return undefined;
}

/**
 * Proxies one call: forwards the request untouched (unless an adapter hook
 * edits it), streams the response back as it arrives, and records the call
 * exactly once when it ends however it ends.
 */
export async function proxyCall(request: Request, route: RouteMatch, deps: ProxyDeps): Promise<Response> {
  // Never rejects: a bug here is still answered, in dialect (so no .catch, one promise less per call).
  try {
    const startedAt = Date.now();
    const t0 = performance.now();
    const id = newCallId();
    const { adapter } = route;
    const { config } = deps;
    const given = request.method;
    const method = given === "POST" || given === "GET" ? given : given.toUpperCase();
    const rawPath = rawPathAndQuery(request.url);
    const query = rawPath.includes("?") ? rawPath.slice(rawPath.indexOf("?")) : "";
    const upstreamPath = route.upstreamPath + query;
    const pathOnly = route.upstreamPath;
    const endpoint: Endpoint | undefined = adapter.endpoint(method, pathOnly);
    const incomingAll = headerObject(request.headers);
    const tags: RequestTags = readRequestTags(incomingAll);
    const fromHeaders = adapter.readHeaders?.(incomingAll);
    const client: ClientMeta | undefined = fromHeaders?.client;
    const logBody = tags.logBody ?? config.logBody;
    const trace: CallTrace | undefined = deps.tracer?.begin({
      method,
      path: rawPath,
      traceparent: headerText(incomingAll.traceparent),
      tracestate: headerText(incomingAll.tracestate),
      startTime: startedAt,
    });
    // Content goes on spans only when asked for, and never against an explicit meta/none.
    const captureContent = deps.tracer?.captureContent === true && tags.logBody !== "meta" && tags.logBody !== "none";
    let requestJson: Record<string, unknown> | undefined;
    const base = config.upstreams[adapter.id as ProviderId] ?? adapter.upstream.baseUrl;
    const traceId = trace?.traceId ?? readTraceId(headerText(incomingAll.traceparent));
    let facts: RequestFacts = { streamed: false, sessionId: fromHeaders?.sessionId };
    let requestBytes = 0;
    let requestBody: string | undefined;

    /**
     * The call as known before its response body is read: what a record made
     * now starts from (`summarize`), and the head of one made later (`settleLater`).
     */
    const known = (status: number, ttfbMs: number | undefined, responseBytes: number, upstreamRequestId: string | undefined) => ({
      id,
      startedAt,
      durationMs: performance.now() - t0,
      ttfbMs,
      provider: adapter.id,
      pricingProvider: adapter.pricingId ?? adapter.id,
      method,
      path: rawPath,
      status,
      request: facts,
      tags,
      client,
      logBody,
      requestBody,
      requestBytes,
      responseBytes,
      upstreamRequestId,
      truncated: false,
    });
    const summarize = (part: Partial<CallSummary> & { status: number }): CallSummary => ({
      ...known(part.status, undefined, 0, undefined),
      endpoint,
      response: {},
      responseBody: undefined,
      ...part,
    });
    /** What the call's spans and metrics need beyond its record (when export is on). */
    const telemetryOf = (trace: CallTrace, responseId: string | undefined, outputContent?: GenAIOutputMessage[]) => {
      const { hostname, port } = hostOf(base);
      const requestContent = captureContent && requestJson ? endpoint?.content?.readRequestContent?.(requestJson) : undefined;
      const details = { genAiProvider: adapter.genAiProvider, serverAddress: hostname, serverPort: port, params: facts.params, responseId, requestContent, outputContent };
      return trace.finish(details, Date.now());
    };
    const finish = (summary: CallSummary, outputContent?: GenAIOutputMessage[]) => {
      try {
        const record = buildRecord(summary, priceCall(summary, deps.priceBook), traceId);
        // Spans and metrics are made from the record later, off the request path (create-telemetry.ts).
        deps.record(record, trace && telemetryOf(trace, summary.response.responseId, outputContent));
      } catch (error) {
        deps.onInternalError(`recording ${id} failed: ${(error as Error).message}`);
      }
    };
    const fail = (error: LoupeError, extra: Partial<CallSummary> = {}): Response => {
      finish(summarize({ status: error.status, errorType: error.code, errorMessage: error.message, ...extra }));
      return renderError(error, adapter.dialect, { "x-loupe-request-id": id });
    };

    // 1. The request: read it, learn what we can, never change it unless a hook must.
    // Read here, not in a helper: one async frame less per call. Refused past the configured limit.
    let body: Uint8Array | undefined;
    if (!BODYLESS.has(method)) {
      const limit = config.limits.maxBodyBytes;
      const declared = Number(headerText(incomingAll["content-length"]) ?? "0");
      if (declared > limit) return fail(new LoupeError("payload_too_large", `request body of ${declared} bytes exceeds the limit of ${limit} bytes`));
      try {
        body = await request.bytes();
      } catch (error) {
        return fail(new LoupeError("invalid_request", `could not read the request body: ${(error as Error).message}`), { truncated: true });
      }
      if (body.byteLength > limit) return fail(new LoupeError("payload_too_large", `request body exceeds the limit of ${limit} bytes`));
    }
    requestBytes = body?.byteLength ?? 0;
    let upstreamBody = body;
    let rewriteEvent: ((data: string) => string | null) | undefined;
    if (logBody === "full" && body) requestBody = utf8.decode(body.subarray(0, config.limits.maxLoggedBodyBytes));
    if (endpoint && body && body.byteLength > 0) {
      let json: Record<string, unknown> | undefined;
      try {
        json = asObject(JSON.parse(utf8.decode(body)));
        if (!json) throw new Error("the body must be a JSON object");
        requestJson = json;
      } catch (error) {
        return fail(new LoupeError("invalid_request", `malformed JSON in request body: ${(error as Error).message}`));
      }
      try {
        const read = endpoint.readRequest?.(json);
        if (read) facts = { model: read.model, streamed: read.streamed ?? false, sessionId: facts.sessionId ?? read.sessionId, userId: read.userId, params: read.params };
        const prepared = endpoint.prepareUpstream?.(json);
        if (prepared) {
          upstreamBody = prepared.bytes;
          rewriteEvent = prepared.rewriteEvent;
        }
      } catch (error) {
        deps.onInternalError(`reading request ${id}: ${(error as Error).message}`);
      }
    } else if (endpoint) {
      const read = endpoint.readRequest?.({});
      facts = { ...facts, model: read?.model, streamed: read?.streamed ?? false };
    }

    // 2. Upstream: a timeout covers the wait for response headers only; a stream may then run as long as it runs.
    let upstreamUrl = base + upstreamPath;
    // Every fetch can be aborted: by its deadline (waiting for response headers),
    // and for streams (and unknown endpoints) by a client that leaves, which stops
    // a generation it would pay for. Plain calls do not watch the client: see below.
    const abort = new AbortController();
    const watchesClient = facts.streamed || !endpoint;
    const onClientAbort = () => abort.abort();
    if (watchesClient) request.signal.addEventListener("abort", onClientAbort, { once: true });

    let upstream: Response;
    try {
      let upstreamHeaders = forwardRequestHeaders(incomingAll);
      // fetch would otherwise ask for compression the client never accepted; bytes pass through still encoded.
      upstreamHeaders["accept-encoding"] ??= "identity";
      // The upstream sees our client span as its parent (W3C Trace Context).
      if (trace) {
        const context = trace.startUpstream(Date.now());
        for (const name in context) upstreamHeaders[name] = context[name]!;
      }
      // The provider's last word on the request (signing, credentials, regional URLs); no await when it has none.
      const prepare = adapter.upstream.prepare;
      if (prepare !== undefined) {
        try {
          const settings = config.providerSettings[adapter.id as ProviderId] ?? NO_SETTINGS;
          const prepared = await prepare({ url: upstreamUrl, method, headers: upstreamHeaders, body: upstreamBody }, { settings, path: pathOnly, endpoint });
          ({ url: upstreamUrl, headers: upstreamHeaders, body: upstreamBody } = prepared);
        } catch (error) {
          if (watchesClient) request.signal.removeEventListener("abort", onClientAbort);
          return fail(error instanceof LoupeError ? error : new LoupeError("internal", `preparing the ${adapter.id} request failed: ${(error as Error).message}`));
        }
      }
      const deadline = deps.deadlines.arm(abort);
      try {
        upstream = await fetch(upstreamUrl, {
          method,
          headers: upstreamHeaders,
          body: upstreamBody,
          redirect: "manual",
          signal: abort.signal,
          // Forward the bytes as they are encoded; the observer decodes its own copy.
          decompress: false,
        } as RequestInit);
      } finally {
        deadline.clear();
      }
    } catch (error) {
      if (watchesClient) request.signal.removeEventListener("abort", onClientAbort);
      if (abort.signal.reason instanceof UpstreamTimeoutError) return fail(new LoupeError("upstream_timeout", `${adapter.id} did not answer within ${config.limits.upstreamTimeoutMs} ms`));
      if (request.signal.aborted) {
        finish(summarize({ status: 499, truncated: true, errorType: "client_disconnected", errorMessage: "client closed the connection before the upstream answered" }));
        return new Response(null, { status: 499 });
      }
      return fail(new LoupeError("upstream_unreachable", `cannot reach ${adapter.id} upstream: ${(error as Error).message}`));
    }
    const ttfbMs = performance.now() - t0;

    // 3. The response: handed on as it arrives, observed on the side, recorded once.
    const received = upstream.headers;
    // One native call for all of them, then property reads.
    const answered = headerObject(received);
    const upstreamRequestId = firstHeader(answered, adapter.requestIdHeaders);
    const contentType = headerText(answered["content-type"]);
    const encoding = headerText(answered["content-encoding"]);
    const declared = headerText(answered["content-length"]);
    const headers = forwardResponseHeaders(received, answered);
    headers.set("x-loupe-request-id", id);
    const status = upstream.status;
    // An error body is JSON whatever its content-type says (Gemini answers a failed stream with JSON as text/event-stream).
    // A provider's own framing (binary event streams) comes before SSE and NDJSON.
    const frames = status < 400 && adapter.frames !== undefined ? adapter.frames(contentType ?? "") : undefined;
    const kind: BodyKind = status >= 400 ? "json" : frames ? "frames" : contentKind(contentType);
    // Made when first needed: a call whose record is made later has none.
    let observer: ReturnType<typeof createResponseObserver> | undefined;
    const observing = () =>
      (observer ??= createResponseObserver({
        endpoint,
        kind,
        frames,
        encoding,
        captureBytes: logBody === "full" ? config.limits.maxLoggedBodyBytes : 0,
        captureContent,
      }));
    const rewriting = rewriteEvent && kind === "sse" && !encoding;
    if (rewriting) headers.delete("content-length");

    const settle = (outcome: BodyOutcome, responseBytes: number) => {
      if (watchesClient) request.signal.removeEventListener("abort", onClientAbort);
      const observed = observing().finish();
      const response: ResponseFacts = observed.facts;
      if (observed.problems.length) deps.onInternalError(`response ${id}: ${observed.problems.join("; ")}`);
      finish(
        summarize({
          status,
          ttfbMs,
          response,
          responseBody: observed.body,
          responseBytes,
          upstreamRequestId,
          truncated: outcome.kind !== "complete",
          ...callError(outcome, status, response),
        }),
        observed.content,
      );
    };
    /**
     * A whole JSON body: the response goes out now, and the record is made
     * later by the store from the journaled body (usage, price and record at
     * storage's priority: deferred-record.ts). Content capture needs the parsed
     * messages with the request's, so those calls are recorded at once.
     */
    const settleLater = (bytes: Uint8Array) => {
      if (watchesClient) request.signal.removeEventListener("abort", onClientAbort);
      try {
        // What only the body can tell, the store reads (deferred-record.ts). No spread: this runs for most calls.
        const call: DeferredCall = Object.assign(known(status, ttfbMs, bytes.byteLength, upstreamRequestId), {
          upstreamPath: pathOnly,
          encoding,
          captureBytes: logBody === "full" ? config.limits.maxLoggedBodyBytes : 0,
          traceId,
          // The response id is filled in when the record is made.
          otel: trace && telemetryOf(trace, undefined),
        });
        deps.recordLater(call, bytes);
      } catch (error) {
        deps.onInternalError(`recording ${id} failed: ${(error as Error).message}`);
      }
    };

    if (!upstream.body) {
      settle({ kind: "complete" }, 0);
      return new Response(null, { status, statusText: upstream.statusText, headers });
    }
    // A small JSON body of declared length is read whole and handed on as bytes:
    // the client cannot use half a JSON document, and a plain body skips the
    // per-chunk stream machinery (measured in bench/: the hot path of non-streaming calls).
    if (kind === "json" && declared !== null && Number(declared) <= SMALL_BODY_BYTES) {
      let bytes: Uint8Array;
      try {
        bytes = await upstream.bytes();
      } catch (error) {
        if (watchesClient) request.signal.removeEventListener("abort", onClientAbort);
        return fail(new LoupeError("upstream_unreachable", `${adapter.id} upstream failed mid-body: ${(error as Error).message}`), { ttfbMs, upstreamRequestId, truncated: true });
      }
      if (captureContent) {
        observing().feed(bytes);
        settle({ kind: "complete" }, bytes.byteLength);
      } else settleLater(bytes);
      // Not asked here: whether the client left while we waited. Touching
      // `request.signal` makes Bun 1.4 watch the connection for an abort, which
      // cost a fifth of a plain call's throughput (bench/). The call is paid for
      // either way, and its record says what the upstream answered.
      return new Response(bytes, { status, statusText: upstream.statusText, headers });
    }
    const stream = observeBody(upstream.body, {
      onChunk: (chunk) => observing().feed(chunk),
      transform: rewriting && rewriteEvent ? createSseRewriter(rewriteEvent) : undefined,
      expectedBytes: declared && !rewriting ? Number(declared) : undefined,
      settle,
    });
    return new Response(stream, { status, statusText: upstream.statusText, headers });
  } catch (error) {
    deps.onFailure(error);
    return renderError(new LoupeError("internal", "internal gateway error"), route.adapter.dialect);
  }
}
