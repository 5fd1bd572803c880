import { v7 as uuidv7 } from "uuid";
import type { LogBodyMode } from "../config.ts";
import { headerObject, headerText, type HeaderObject } from "../http/headers.ts";
import type { ClientMeta, Endpoint, RateLimitSnapshot, RequestFacts, ResponseFacts } from "../providers/contract.ts";
import type { RouteMatch } from "../providers/registry.ts";
import { eventLine, type CallEvent, type EventTelemetry } from "../recording/call-event.ts";
import { readTraceId, type CallTrace } from "../telemetry/call-tracer.ts";
import type { GenAIOutputMessage, GenAIRequestContent } from "../telemetry/genai-content.ts";
import type { Admission, Identity } from "../gate/call-gate.ts";
import type { HeaderRule } from "../routing/header-rules.ts";
import type { TimeoutRule } from "../routing/routing-settings.ts";
import type { RoutedCall } from "./routed-call.ts";
import type { ProxyDeps } from "./proxy-deps.ts";
import { readRequestTags, type RequestTags } from "./request-tags.ts";

/** Call ids: UUIDv7 (time-ordered). Bun makes them natively; elsewhere (Deno) the uuid package does. */
const newCallId: () => string = typeof Bun === "undefined" ? uuidv7 : () => Bun.randomUUIDv7();

/**
 * One call as the proxy knows it, filled in step by step (forward.ts) and
 * written once, as its event, when it ends. One object of one shape per call.
 */
export interface CallState {
  readonly id: string;
  readonly startedAt: number;
  /** `performance.now()` at the start. */
  readonly t0: number;
  readonly route: RouteMatch;
  readonly method: string;
  /** The path and query as the client sent them. */
  readonly path: string;
  /** The upstream path without its query. */
  readonly upstreamPath: string;
  /** The endpoint whose answer is observed: the route's, or the routed target's. */
  endpoint: Endpoint | undefined;
  /** The client's headers, read once. */
  readonly incoming: HeaderObject;
  /** The x-loupe-* tags; a gateway key's or token's project and user replace the caller's. */
  tags: RequestTags;
  /** Agent metadata from the headers, completed from the body (read-request.ts). */
  client: ClientMeta | undefined;
  readonly logBody: LogBodyMode;
  readonly trace: CallTrace | undefined;
  readonly traceId: string | undefined;
  /** Message content goes on spans only when asked for, and never against an explicit meta/none. */
  readonly captureContent: boolean;
  facts: RequestFacts;
  requestBytes: number;
  requestBody: string | undefined;
  requestContent: GenAIRequestContent | undefined;
  /** The request body as parsed by read-request.ts (read only: routing reuses it instead of parsing again). */
  requestJson: Record<string, unknown> | undefined;
  /** Set once the upstream has answered. */
  ttfbMs: number | undefined;
  upstreamRequestId: string | undefined;
  /** The provider's rate-limit headers in the answer (adapter hook `rateLimits`), when it sent any. */
  rateLimits: RateLimitSnapshot | undefined;
  /** Recorded already: a call is written exactly once. */
  written: boolean;
  /** Who called, when the call came with a gateway key or a JWT (gate.ts). */
  identity: Identity | undefined;
  /** Headers the gate adds to the response, whatever it is (X-RateLimit-*). */
  gateHeaders: Record<string, string> | undefined;
  /** The limit that refused the call. */
  limitHit: string | undefined;
  /** Hands the call's usage to the limits that count it. */
  settleUsage: Admission["settle"];
  /** Upstream attempts made (retries: config `retry`); 0 when the call never went upstream. */
  attempts: number;
  /** Where a routing rule sent the call, and how its answer is turned back (route-call.ts). */
  routed: RoutedCall | undefined;
  /** The timeouts that apply to the call (a `timeouts` entry), if any. */
  timeouts: TimeoutRule | undefined;
  /** A model-list call, and the models routing rules add to the list. */
  listModels: readonly string[] | undefined;
  /** Response header rules that may apply (readAnswer matches and applies them). */
  responseHeaderRules: readonly HeaderRule[] | undefined;
  /** The stored provider key Loupe put in the request (a gateway key's or JWT's call): masked in an error answer that echoes it. */
  storedKey: string | undefined;
}

/** The raw path and query as the client sent them (WHATWG URL parsing would re-encode). */
function rawPathAndQuery(url: string): string {
  const afterScheme = url.indexOf("//");
  const slash = url.indexOf("/", afterScheme + 2);
  return slash < 0 ? "/" : url.slice(slash);
}

/** Step 0: what the call is, before its body is read. */
export function openCall(request: Request, route: RouteMatch, deps: ProxyDeps): CallState {
  const startedAt = Date.now();
  const t0 = performance.now();
  const given = request.method;
  const method = given === "POST" || given === "GET" ? given : given.toUpperCase();
  const path = rawPathAndQuery(request.url);
  // One native call for all headers, then property reads.
  const incoming = headerObject(request.headers);
  const tags = readRequestTags(incoming);
  const fromHeaders = route.adapter.readHeaders?.(incoming);
  const traceparent = headerText(incoming.traceparent);
  const trace = deps.tracer?.begin({ method, path, traceparent, tracestate: headerText(incoming.tracestate), startTime: startedAt });
  return {
    id: newCallId(),
    startedAt,
    t0,
    route,
    method,
    path,
    upstreamPath: route.upstreamPath,
    endpoint: route.adapter.endpoint(method, route.upstreamPath),
    incoming,
    tags,
    client: fromHeaders?.client,
    logBody: tags.logBody ?? deps.config.logBody,
    trace,
    traceId: trace?.traceId ?? readTraceId(traceparent),
    captureContent: deps.tracer?.captureContent === true && tags.logBody !== "meta" && tags.logBody !== "none",
    facts: { streamed: false, sessionId: fromHeaders?.sessionId },
    requestBytes: 0,
    requestBody: undefined,
    requestContent: undefined,
    requestJson: undefined,
    ttfbMs: undefined,
    upstreamRequestId: undefined,
    rateLimits: undefined,
    written: false,
    identity: undefined,
    gateHeaders: undefined,
    limitHit: undefined,
    settleUsage: undefined,
    attempts: 0,
    responseHeaderRules: undefined,
    routed: undefined,
    listModels: undefined,
    timeouts: undefined,
    storedKey: undefined,
  };
}

/** How the call ended, beyond what its state says. */
export interface CallEnd {
  status: number;
  responseBytes: number;
  truncated?: boolean | undefined;
  errorType?: string | undefined;
  errorMessage?: string | undefined;
  /** What the response said (observed in flight, or read before journaling); absent when its body follows the event. */
  response?: ResponseFacts | undefined;
  responseBody?: string | undefined;
  outputContent?: GenAIOutputMessage[] | undefined;
  /** With a body that follows: how to read it. */
  encoding?: string | null | undefined;
  captureBytes?: number | undefined;
}

const hosts = new Map<string, { hostname: string; port: number }>();
/** The upstream's host and port (`server.address`/`server.port`), parsed once per base URL. */
export function hostOf(base: string): { hostname: string; port: number } {
  let host = hosts.get(base);
  if (!host) {
    const url = new URL(base);
    host = { hostname: url.hostname, port: Number(url.port) || (url.protocol === "https:" ? 443 : 80) };
    hosts.set(base, host);
  }
  return host;
}

/** The call's event (call-event.ts): what the recorder makes its record and telemetry of. */
export function callEvent(call: CallState, end: CallEnd, base: string): CallEvent {
  let telemetry: EventTelemetry | undefined;
  if (call.trace) {
    const { hostname, port } = hostOf(base);
    telemetry = {
      endTime: Date.now(),
      serverAddress: hostname,
      serverPort: port,
      spans: call.trace.finish(),
      captureContent: call.captureContent || undefined,
      requestContent: call.requestContent,
      outputContent: end.outputContent,
    };
  }
  return {
    event: 2,
    id: call.id,
    startedAt: call.startedAt,
    durationMs: performance.now() - call.t0,
    ttfbMs: call.ttfbMs,
    provider: call.route.adapter.id,
    method: call.method,
    path: call.path,
    upstreamPath: call.routed?.upstreamPath ?? call.upstreamPath,
    status: end.status,
    request: call.facts,
    tags: call.tags,
    client: call.client,
    logBody: call.logBody,
    requestBody: call.requestBody,
    requestBytes: call.requestBytes,
    responseBytes: end.responseBytes,
    upstreamRequestId: call.upstreamRequestId,
    rateLimits: call.rateLimits,
    truncated: end.truncated ?? false,
    errorType: end.errorType,
    errorMessage: end.errorMessage,
    // With none, the record keeps no error text and no raw usage: neither does the event on disk.
    response: call.logBody === "none" && end.response ? { ...end.response, errorMessage: undefined, usageRaw: undefined } : end.response,
    responseBody: end.responseBody,
    encoding: end.encoding,
    captureBytes: end.captureBytes,
    traceId: call.traceId,
    keyId: call.identity?.keyId,
    attempts: call.attempts,
    routedProvider: call.routed?.provider.id,
    routedModel: call.routed?.model,
    limitHit: call.limitHit,
    telemetry,
  };
}

/**
 * Writes the call's event, once: to the journal, where the recorder takes it
 * (with `body` following it when the record is to be read from the body).
 * Never throws: recording never fails a call. Returns a promise when the
 * call's last bytes are to wait for the event to be durable
 * (LOUPE_JOURNAL_FSYNC=always; it never rejects).
 */
export function writeCall(call: CallState, end: CallEnd, deps: ProxyDeps, body?: Uint8Array): Promise<void> | void {
  if (call.written) return;
  call.written = true;
  try {
    // The upstream that answered: a call routed or fell back to another provider went to that provider's base.
    const event = callEvent(call, end, deps.baseUrlOf(call.routed?.otherProvider ? call.routed.provider : call.route.adapter));
    const line = eventLine(event);
    const durable = body ? deps.recordLater(line, body) : deps.record(line);
    // Token and USD limits count this call's usage: priced here, now, only for calls such a limit covers.
    if (call.settleUsage) deps.settleUsage?.(event, body, call.settleUsage);
    return durable;
  } catch (error) {
    deps.onInternalError(`recording ${call.id} failed: ${(error as Error).message}`);
  }
}

/** The response, once the call's event is durable when it has to be (`writeCall`'s promise). */
export function answerAfter(durable: Promise<void> | void, response: Response): Response | Promise<Response> {
  return durable ? durable.then(() => response) : response;
}
