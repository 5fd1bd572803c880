import { LoupeError, renderError } from "../errors.ts";
import { headerText } from "../http/headers.ts";
import type { ProviderId, RouteMatch } from "../providers/registry.ts";
import { answerAfter, hostOf, openCall, writeCall, type CallEnd, type CallState } from "./call-state.ts";
import { forwardRequestHeaders } from "../http/headers.ts";
import { readBodyWithin } from "../http/read-body-within.ts";
import { readRequestBody, type UpstreamBody } from "./read-request.ts";
import { isSmallWhole, readAnswer, respondStream, respondWhole } from "./respond.ts";
import { maskStoredKey } from "./mask-stored-key.ts";
import type { ProxyDeps } from "./proxy-deps.ts";
import { UpstreamTimeoutError } from "./upstream-deadline.ts";
import { nextWait } from "../routing/retry-policy.ts";
import { applyHeaderRules } from "../routing/header-rules.ts";
import { matchContext } from "./match-context.ts";
import { fallbackChain, NO_FALLBACKS, pickTarget, pickTimeouts, routeCall, routedModels } from "./route-call.ts";
import { deadlinesFor } from "./upstream-deadline.ts";
import type { RoutingSettings } from "../routing/routing-settings.ts";
import { CREDENTIAL_HEADERS, type CallGate, type Identity } from "../gate/call-gate.ts";

export type { ProxyDeps };

const BODYLESS = new Set(["GET", "HEAD"]);
const sleep = (ms: number) => (ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms)) : Promise.resolve());
const NO_SETTINGS: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * Proxies one call: forwards the request untouched (unless an endpoint hook
 * must edit it), streams the response back as it arrives, and writes the
 * call's event exactly once when it ends, however it ends. A straight line
 * of named steps; the awaits are here (an async helper per step would cost a
 * promise each on every call).
 */
export async function forward(request: Request, route: RouteMatch, deps: ProxyDeps): Promise<Response> {
  // Never rejects: a bug here is still answered, in dialect (so no .catch, one promise less per call).
  try {
    const call = openCall(request, route, deps);
    // The settings in force when the call began (a PUT /api/settings meanwhile applies to the next call).
    const settings = deps.routing.current;
    const gate = deps.gate !== undefined && !deps.gate.idle() ? deps.gate : undefined;

    // 0. Who calls (a gateway key or a JWT), before the body is read: a refused caller costs no upload.
    if (gate !== undefined) {
      let who = gate.identify(call.incoming);
      if (who instanceof Promise) who = await who;
      if (who instanceof LoupeError) return fail(call, who, deps);
      if (who !== undefined) adoptIdentity(call, who);
    }

    // 1. The request: read it, learn what we can, never change it unless a hook must.
    let body: Uint8Array | undefined;
    if (!BODYLESS.has(call.method)) {
      const limit = deps.config.limits.maxBodyBytes;
      // A length is declared only without transfer-encoding, which would override it (RFC 9112 §6.3).
      const length = call.incoming["transfer-encoding"] === undefined ? headerText(call.incoming["content-length"]) : null;
      if (length !== null && Number(length) > limit) return fail(call, new LoupeError("payload_too_large", `request body of ${length} bytes exceeds the limit of ${limit} bytes`), deps);
      try {
        body = length !== null ? await request.bytes() : await readBodyWithin(request, limit);
      } catch (error) {
        return fail(call, new LoupeError("invalid_request", `could not read the request body: ${(error as Error).message}`), deps, { truncated: true });
      }
      if (body === undefined) return fail(call, new LoupeError("payload_too_large", `request body exceeds the limit of ${limit} bytes`), deps, { truncated: true });
    }
    let sent = readRequestBody(call, body, deps);
    if (sent instanceof LoupeError) return fail(call, sent, deps);

    // 1b. Limits, now that the model is known; a refused call is answered 429 in dialect and recorded.
    if (gate !== undefined) {
      const refused = call.identity && gate.permits(call.identity, route.adapter.id, call.facts.model);
      if (refused) return fail(call, refused, deps);
      const isPriced = deps.isPriced && ((model: string) => deps.isPriced!(route.adapter, model));
      let admission = gate.admit({ key: call.identity?.keyId, project: call.tags.project, user: call.tags.userId, model: call.facts.model }, isPriced);
      if (admission instanceof Promise) admission = await admission;
      call.gateHeaders = admission.headers;
      if (admission.refused) {
        call.limitHit = admission.refused.limitHit;
        return fail(call, admission.refused.error, deps);
      }
      call.settleUsage = admission.settle;
    }

    // Timeouts scoped like rules: the first matching entry (routing/routing-settings.ts).
    if (settings.timeouts.length > 0) call.timeouts = pickTimeouts(settings.timeouts, matchContext(call));

    // A model list: the models routing rules serve for this provider are added to what the upstream lists.
    if (call.endpoint?.addModels && settings.routing.length > 0) call.listModels = routedModels(settings.routing, route.adapter.id);

    // 1c. Routing: the first matching rule may send the call to another model or provider (translated between chat formats).
    if (settings.routing.length > 0) {
      const target = pickTarget(settings.routing, call);
      if (target !== undefined) {
        const routed = routeCall(call, target, body, deps.providerOf);
        if (routed instanceof LoupeError) return fail(call, routed, deps);
        call.routed = routed;
        call.endpoint = routed.endpoint;
        sent = { bytes: routed.bytes, rewriteEvent: undefined };
      }
    }

    // 2. Upstream: a timeout covers the wait for response headers only; a stream may then run as long as it runs.
    // Streams (and unknown endpoints) also stop when their client leaves, which stops a generation it would pay for.
    // Plain calls do not watch the client: see below.
    let abort = new AbortController();
    const watchesClient = call.facts.streamed || !call.endpoint;
    const onClientAbort = () => abort.abort();
    if (watchesClient) request.signal.addEventListener("abort", onClientAbort, { once: true });
    const stopWatching = () => {
      if (watchesClient) request.signal.removeEventListener("abort", onClientAbort);
    };
    if (settings.responseHeaderRules.length > 0) call.responseHeaderRules = settings.responseHeaderRules;
    // Fallbacks: when an upstream fails before any byte reached the client (after its retries), the next of the chain.
    const chain = settings.fallbacks.length > 0 ? fallbackChain(settings.fallbacks, matchContext(call)) : NO_FALLBACKS;
    let nextFallback = 0;
    let upstream!: Response;
    const policy = settings.retry;
    for (;;) {
      const prepared = await prepareRequest(call, sent, settings, gate, deps, abort.signal);
      if (prepared instanceof LoupeError) {
        stopWatching();
        return fail(call, prepared, deps);
      }
      let { url, init } = prepared;
      const origin = originOf(url);
      let failure: unknown;
      let circuitOpen = false;
      if (!deps.breaker.allows(origin)) {
        circuitOpen = true;
        failure = new LoupeError("unavailable", `${(call.routed?.provider ?? route.adapter).id} upstream is failing (circuit open): not tried`);
      }
      while (!circuitOpen) {
        call.attempts++;
        const deadline = (call.timeouts?.firstByteMs ? deadlinesFor(call.timeouts.firstByteMs) : deps.deadlines).arm(abort);
        try {
          // Called as a plain function: a runtime's fetch may not take another `this`.
          const fetchUpstream = deps.fetch;
          upstream = await fetchUpstream(url, init);
        } catch (error) {
          const timedOut = abort.signal.reason instanceof UpstreamTimeoutError;
          const wait = request.signal.aborted ? undefined : nextWait(policy, call.attempts, { failure: timedOut ? "timeout" : "connect" });
          if (wait === undefined) {
            failure = error;
            break;
          }
          endAttempt(call, origin, { errorType: timedOut ? "timeout" : "connect" });
          await sleep(wait);
          // A timed-out attempt's signal stays aborted: the next one gets its own.
          abort = new AbortController();
          const again = await retryRequest(call, prepared, sent, settings, gate, deps, abort.signal);
          if (again instanceof LoupeError) {
            failure = again;
            break;
          }
          ({ url, init } = again);
          continue;
        } finally {
          deadline.clear();
        }
        // Nothing has reached the client yet: an answer the policy retries is dropped, and the call tried again.
        if (policy.attempts > call.attempts && upstream.status >= 400) {
          const h = upstream.headers;
          const wait = nextWait(policy, call.attempts, { status: upstream.status, retryAfter: h.get("retry-after"), retryAfterMs: h.get("retry-after-ms"), shouldRetry: h.get("x-should-retry") });
          if (wait !== undefined) {
            endAttempt(call, origin, { status: upstream.status, errorType: String(upstream.status) });
            await upstream.body?.cancel().catch(() => {});
            await sleep(wait);
            const again = await retryRequest(call, prepared, sent, settings, gate, deps, abort.signal);
            if (again instanceof LoupeError) {
              failure = again;
              break;
            }
            ({ url, init } = again);
            continue;
          }
        }
        break;
      }
      const failed = failure !== undefined || upstream.status === 429 || upstream.status >= 500;
      if (!circuitOpen) deps.breaker.record(origin, !failed);
      if (failed && nextFallback < chain.length && !request.signal.aborted) {
        endAttempt(call, origin, failure === undefined ? { status: upstream.status, errorType: String(upstream.status) } : { errorType: circuitOpen ? "circuit_open" : attemptError(failure, abort) });
        if (failure === undefined) await upstream.body?.cancel().catch(() => {});
        const routed = routeCall(call, chain[nextFallback++]!, body, deps.providerOf);
        if (routed instanceof LoupeError) {
          stopWatching();
          return fail(call, routed, deps);
        }
        call.routed = routed;
        call.endpoint = routed.endpoint;
        sent = { bytes: routed.bytes, rewriteEvent: undefined };
        abort = new AbortController();
        continue;
      }
      if (failure !== undefined) {
        stopWatching();
        return failure instanceof LoupeError ? fail(call, failure, deps) : upstreamFailed(call, request, abort, failure, deps);
      }
      break;
    }
    call.ttfbMs = performance.now() - call.t0;

    // 3. The response: handed on as it arrives, observed on the side, written once.
    const answer = readAnswer(call, upstream);
    // An error answer to a call made with a stored key is read whole, to mask the key if the upstream quotes it.
    const masking = call.storedKey !== undefined && answer.status >= 400 && upstream.body !== null;
    if (!masking && !isSmallWhole(answer)) return respondStream(call, answer, sent, deps, stopWatching);
    let bytes: Uint8Array;
    try {
      bytes = await upstream.bytes();
    } catch (error) {
      stopWatching();
      return fail(call, new LoupeError("upstream_unreachable", `${route.adapter.id} upstream failed mid-body: ${(error as Error).message}`), deps, { truncated: true });
    }
    stopWatching();
    if (masking) bytes = maskStoredKey(answer, bytes, call.storedKey!);
    // Not asked here: whether the client left while we waited. Touching
    // `request.signal` makes Bun 1.4 watch the connection for an abort, which
    // cost a fifth of a plain call's throughput (bench/). The call is paid for
    // either way, and its record says what the upstream answered.
    return respondWhole(call, answer, bytes, deps);
  } catch (error) {
    deps.onFailure(error);
    return renderError(new LoupeError("internal", "internal gateway error"), route.adapter.dialect);
  }
}

/**
 * The request for the call's current target (the route's provider, or where
 * routing or a fallback sent it): URL, headers after the header rules and the
 * stored key, and the provider's own last word (signing, regional URLs).
 */
async function prepareRequest(call: CallState, sent: UpstreamBody, settings: RoutingSettings, gate: CallGate | undefined, deps: ProxyDeps, signal: AbortSignal): Promise<{ url: string; init: RequestInit } | LoupeError> {
  let url = upstreamUrl(call, deps);
  const init = upstreamInit(call, sent, signal);
  const headers = init.headers as Record<string, string>;
  if (call.routed) adaptRoutedHeaders(call, headers);
  // Header rules run before a stored provider key is put in: no rule can see or move one.
  if (settings.requestHeaderRules.length > 0) applyHeaderRules(settings.requestHeaderRules, headers, matchContext(call));
  // A call with a gateway key: the stored provider key goes in place of anything the client sent.
  // So does a call routed to another provider: the client's credentials are not for it.
  let storedSecret: string | undefined;
  if (call.identity !== undefined || call.routed?.otherProvider) {
    const credentials = call.identity !== undefined ? gate : deps.gate;
    if (credentials === undefined) {
      return new LoupeError("unauthorized", `routing to ${call.routed?.provider.id} needs a stored key for it (LOUPE_SECRET and loupe provider-keys set ${call.routed?.provider.id})`);
    }
    const injected = injectCredential(call, credentials, headers, url, deps);
    if (injected instanceof LoupeError) return injected;
    url = injected.url;
    storedSecret = injected.storedSecret;
  }
  // The provider's last word on the request; no await when it has none.
  const target = call.routed?.provider ?? call.route.adapter;
  const prepare = target.upstream.prepare;
  if (prepare === undefined) return { url, init };
  try {
    const prepared = await prepare({ url, method: call.method, headers, body: sent.bytes }, { settings: deps.config.providerSettings[target.id as ProviderId] ?? NO_SETTINGS, path: call.upstreamPath, endpoint: call.endpoint, storedSecret });
    init.headers = prepared.headers;
    init.body = prepared.body;
    return { url: prepared.url, init };
  } catch (error) {
    return error instanceof LoupeError ? error : new LoupeError("internal", `preparing the ${target.id} request failed: ${(error as Error).message}`);
  }
}

/**
 * The request for a retry of the same target. Traced, it is prepared again:
 * the attempt has its own span in its `traceparent`, and a provider's
 * signature (SigV4) covers that header. Untraced, the same request goes again.
 */
function retryRequest(call: CallState, prepared: { url: string; init: RequestInit }, sent: UpstreamBody, settings: RoutingSettings, gate: CallGate | undefined, deps: ProxyDeps, signal: AbortSignal): Promise<{ url: string; init: RequestInit } | LoupeError> | { url: string; init: RequestInit } {
  if (call.trace === undefined) {
    prepared.init.signal = signal;
    return prepared;
  }
  return prepareRequest(call, sent, settings, gate, deps, signal);
}

/** A failed attempt keeps its CLIENT span: the upstream it went to and how it failed (the next attempt gets a new span). */
function endAttempt(call: CallState, origin: string, outcome: { status?: number; errorType: string }): void {
  // A base URL fetch refused (not a URL at all) has no host to name.
  if (call.trace === undefined || !URL.canParse(origin)) return;
  const { hostname, port } = hostOf(origin);
  const provider = (call.routed?.provider ?? call.route.adapter).id;
  call.trace.failUpstream({ provider, serverAddress: hostname, serverPort: port, status: outcome.status, errorType: outcome.errorType }, Date.now());
}

/** How an attempt that got no answer failed: Loupe's own error, the first-byte deadline, or no connection. */
function attemptError(failure: unknown, abort: AbortController): string {
  if (failure instanceof LoupeError) return failure.code;
  return abort.signal.reason instanceof UpstreamTimeoutError ? "timeout" : "connect";
}

const origins = new Map<string, string>();
/** An upstream's origin, the circuit breaker's key (parsed once per base). */
function originOf(url: string): string {
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  const base = slash < 0 ? url : url.slice(0, slash);
  let origin = origins.get(base);
  if (origin === undefined) origins.set(base, (origin = base));
  return origin;
}

/** Where the call goes: the provider's base URL, then the path and query as the client sent them. */
function upstreamUrl(call: CallState, deps: ProxyDeps): string {
  const routed = call.routed;
  if (routed && routed.otherProvider) return deps.baseUrlOf(routed.provider) + routed.upstreamPath;
  const query = call.path.indexOf("?");
  return deps.baseUrlOf(call.route.adapter) + call.upstreamPath + (query < 0 ? "" : call.path.slice(query));
}

function upstreamInit(call: CallState, sent: UpstreamBody, signal: AbortSignal): RequestInit {
  const headers = forwardRequestHeaders(call.incoming);
  // fetch would otherwise ask for compression the client never accepted; bytes pass through still encoded.
  headers["accept-encoding"] ??= "identity";
  // The upstream sees our client span as its parent (W3C Trace Context).
  if (call.trace) {
    const context = call.trace.startUpstream(Date.now());
    for (const name in context) headers[name] = context[name]!;
  }
  return {
    method: call.method,
    headers,
    body: sent.bytes,
    redirect: "manual",
    signal,
    // Forward the bytes as they are encoded; the observer decodes its own copy.
    decompress: false,
  } as RequestInit;
}

/** The upstream could not be reached, did not answer in time, or the client left first. */
function upstreamFailed(call: CallState, request: Request, abort: AbortController, error: unknown, deps: ProxyDeps): Response | Promise<Response> {
  const id = call.route.adapter.id;
  if (abort.signal.reason instanceof UpstreamTimeoutError) return fail(call, new LoupeError("upstream_timeout", `${id} did not answer within ${call.timeouts?.firstByteMs ?? deps.config.limits.upstreamTimeoutMs} ms`), deps);
  if (request.signal.aborted) {
    writeCall(call, { status: 499, responseBytes: 0, truncated: true, errorType: "client_disconnected", errorMessage: "client closed the connection before the upstream answered" }, deps);
    return new Response(null, { status: 499 });
  }
  return fail(call, new LoupeError("upstream_unreachable", `cannot reach ${id} upstream: ${(error as Error).message}`), deps);
}

/** Loupe's own error: recorded, and answered in the route's dialect. */
function fail(call: CallState, error: LoupeError, deps: ProxyDeps, end: Partial<CallEnd> = {}): Response | Promise<Response> {
  const durable = writeCall(call, { status: error.status, responseBytes: 0, errorType: error.code, errorMessage: error.message, ...end }, deps);
  return answerAfter(durable, renderError(error, call.route.adapter.dialect, { ...call.gateHeaders, "x-loupe-request-id": call.id }));
}

/**
 * A call routed elsewhere: its body changed (so does its length), it
 * is read whole or translated (so it comes unencoded), and the target may
 * need headers a client of another SDK never sends (its API version).
 */
function adaptRoutedHeaders(call: CallState, headers: Record<string, string>): void {
  // Set, not deleted: a deleted property turns the header object into a slow dictionary for fetch to read.
  if (headers["content-length"] !== undefined) headers["content-length"] = String(call.routed!.bytes.byteLength);
  if (headers["accept-encoding"] !== "identity") headers["accept-encoding"] = "identity";
  const required = call.routed?.otherProvider ? call.routed.provider.upstream.routedHeaders : undefined;
  if (required) for (const name in required) headers[name] ??= required[name]!;
}

/** A gateway key's or token's project and end user are the call's (the x-loupe-* headers cannot claim others). */
function adoptIdentity(call: CallState, who: Identity): void {
  call.identity = who;
  const project = who.project ?? call.tags.project;
  const userId = who.user ?? call.tags.userId;
  if (project !== call.tags.project || userId !== call.tags.userId) call.tags = { ...call.tags, project, userId };
}

const BEARER = { header: "authorization", prefix: "Bearer " };

/**
 * Replaces the client's credential headers with the provider key stored for
 * the call's project (or the default). A stored key may be JSON with a
 * `baseUrl` (Azure's resource) next to its `key`.
 */
function injectCredential(call: CallState, gate: CallGate, headers: Record<string, string>, url: string, deps: ProxyDeps): { url: string; storedSecret?: string } | LoupeError {
  const adapter = call.routed?.provider ?? call.route.adapter;
  const project = call.tags.project;
  let secret: string | undefined;
  try {
    secret = gate.credential(adapter.id, project);
  } catch (error) {
    deps.onInternalError(`stored ${adapter.id} key: ${(error as Error).message}`);
    return new LoupeError("internal", `the stored ${adapter.id} key cannot be opened (LOUPE_SECRET)`);
  }
  if (secret === undefined) {
    return new LoupeError("unauthorized", `no ${adapter.id} key is stored for project ${project ?? "(none)"}: loupe provider-keys set ${adapter.id}${project ? ` --project ${project}` : ""}`);
  }
  const how = adapter.upstream.credentials ?? BEARER;
  // The header the stored key goes in is overwritten below, not deleted: a deleted property turns the header object into a slow dictionary for fetch to read.
  for (const name of CREDENTIAL_HEADERS) if (name in headers && !("header" in how && how.header === name)) delete headers[name];
  if ("viaPrepare" in how) return { url, storedSecret: secret };
  let value = secret;
  if (secret.startsWith("{")) {
    try {
      const parsed = JSON.parse(secret) as { key?: unknown; baseUrl?: unknown };
      if (typeof parsed.key === "string") value = parsed.key;
      if (typeof parsed.baseUrl === "string") url = parsed.baseUrl.replace(/\/+$/, "") + url.slice(deps.baseUrlOf(adapter).length);
    } catch {
      // Not JSON after all: the text is the key.
    }
  }
  headers[how.header] = `${how.prefix ?? ""}${value}`;
  call.storedKey = value;
  return { url };
}
