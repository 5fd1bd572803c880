import { forwardResponseHeaders, headerObject, headerText, type HeaderObject } from "../http/headers.ts";
import type { FrameDecoder, ResponseFacts } from "../providers/contract.ts";
import { observeBody, outcomeError, type BodyOutcome } from "../observe/observe-body.ts";
import { createResponseObserver, readWholeBody, type BodyKind } from "../observe/response-observer.ts";
import { createSseRewriter } from "../observe/sse-rewriter.ts";
import { writeCall, type CallState } from "./call-state.ts";
import type { ProxyDeps } from "./proxy-deps.ts";
import type { UpstreamBody } from "./read-request.ts";

/** A JSON body of declared length up to this is read whole and handed on as bytes. */
const SMALL_BODY_BYTES = 1024 * 1024;

function contentKind(contentType: string | null): BodyKind {
  const type = contentType?.toLowerCase() ?? "";
  if (type.startsWith("text/event-stream")) return "sse";
  if (type.includes("ndjson") || type.includes("jsonl")) return "ndjson";
  return "json";
}

function firstHeader(headers: HeaderObject, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = headerText(headers[name]);
    if (value) return value;
  }
  return undefined;
}

/** The upstream's answer as the proxy handles it (step 3). */
export interface Answer {
  upstream: Response;
  status: number;
  /** What the client receives: the upstream's headers minus hop-by-hop, plus `x-loupe-request-id`. */
  headers: Headers;
  kind: BodyKind;
  /** The provider's own framing (binary event streams), when it has one for this content type. */
  frames: (() => FrameDecoder) | undefined;
  encoding: string | null;
  declared: string | null;
}

/** Step 3a: the upstream's status and headers, read once. */
export function readAnswer(call: CallState, upstream: Response): Answer {
  const received = upstream.headers;
  const answered = headerObject(received);
  const adapter = call.route.adapter;
  call.upstreamRequestId = firstHeader(answered, adapter.requestIdHeaders);
  // The last answer's (a retried call's earlier answers are not the client's).
  call.rateLimits = adapter.rateLimits?.(answered);
  const headers = forwardResponseHeaders(received, answered);
  headers.set("x-loupe-request-id", call.id);
  if (call.gateHeaders) for (const name in call.gateHeaders) headers.set(name, call.gateHeaders[name]!);
  const status = upstream.status;
  const contentType = headerText(answered["content-type"]);
  // A provider's own framing (binary event streams) comes before SSE and NDJSON.
  const frames = status < 400 && adapter.frames !== undefined ? adapter.frames(contentType ?? "") : undefined;
  return {
    upstream,
    status,
    headers,
    frames,
    // An error body is JSON whatever its content-type says (Gemini answers a failed stream with JSON as text/event-stream).
    kind: status >= 400 ? "json" : frames ? "frames" : contentKind(contentType),
    encoding: headerText(answered["content-encoding"]),
    declared: headerText(answered["content-length"]),
  };
}

/**
 * A small JSON body of declared length is read whole and handed on as bytes:
 * the client cannot use half a JSON document, and a plain body skips the
 * per-chunk stream machinery (measured in bench/: the hot path of non-streaming calls).
 */
export const isSmallWhole = (answer: Answer): boolean =>
  answer.kind === "json" && answer.upstream.body !== null && answer.declared !== null && Number(answer.declared) <= SMALL_BODY_BYTES;

/**
 * Step 3b: a whole body, read. Its record is made off the request path: the
 * body is journaled after the call's event and the recorder reads it there
 * (parsing it here cost ~6% of throughput: bench/README.md). With
 * `x-loupe-log-body: none` no body byte may reach disk, so what the record
 * needs is read here (one parse) and only that is journaled. With `meta` the
 * response body stays in the journal until its record is made (then the
 * segment is deleted; recording/README.md says how long).
 */
export function respondWhole(call: CallState, answer: Answer, bytes: Uint8Array, deps: ProxyDeps): Response {
  const end = { status: answer.status, responseBytes: bytes.byteLength };
  if (call.logBody !== "none") {
    const captureBytes = call.logBody === "full" ? deps.config.limits.maxLoggedBodyBytes : 0;
    writeCall(call, { ...end, encoding: answer.encoding, captureBytes }, deps, bytes);
  } else {
    const read = readWholeBody(call.endpoint, bytes, { encoding: answer.encoding, captureBytes: 0, captureContent: call.captureContent });
    if (read.problems.length) deps.onInternalError(`response ${call.id}: ${read.problems.join("; ")}`);
    writeCall(call, { ...end, response: read.facts, outputContent: read.content }, deps);
  }
  return new Response(bytes, { status: answer.status, statusText: answer.upstream.statusText, headers: answer.headers });
}

/**
 * Step 3c: a stream (or a large or undeclared body), handed on chunk by chunk
 * as it arrives, observed on the side, and written once however it ends.
 */
export function respondStream(call: CallState, answer: Answer, sent: UpstreamBody, deps: ProxyDeps, stopWatching: () => void): Response {
  const { upstream, kind, encoding, headers, status } = answer;
  const captureBytes = call.logBody === "full" ? deps.config.limits.maxLoggedBodyBytes : 0;
  const observer = createResponseObserver({ endpoint: call.endpoint, kind, frames: answer.frames, encoding, captureBytes, captureContent: call.captureContent });
  let seen: ResponseFacts = {};
  const settle = (outcome: BodyOutcome, responseBytes: number) => {
    stopWatching();
    const observed = observer.finish();
    seen = observed.facts ?? {};
    if (observed.problems.length) deps.onInternalError(`response ${call.id}: ${observed.problems.join("; ")}`);
    writeCall(call, { status, responseBytes, truncated: outcome.kind !== "complete", ...outcomeError(outcome), response: observed.facts, responseBody: observed.body, outputContent: observed.content }, deps);
  };
  if (!upstream.body) {
    settle({ kind: "complete" }, 0);
    return new Response(null, { status, statusText: upstream.statusText, headers });
  }
  const rewriting = sent.rewriteEvent !== undefined && kind === "sse" && !encoding;
  if (rewriting) headers.delete("content-length");
  const stream = observeBody(upstream.body, {
    onChunk: (chunk) => observer.feed(chunk),
    transform: rewriting && sent.rewriteEvent ? createSseRewriter(sent.rewriteEvent) : undefined,
    expectedBytes: answer.declared && !rewriting ? Number(answer.declared) : undefined,
    deadline: streamDeadline(call, kind, deps, () => seen),
    settle,
  });
  return new Response(stream, { status, statusText: upstream.statusText, headers });
}

const encoder = new TextEncoder();

/**
 * LOUPE_STREAM_DEADLINE_S: an SSE stream still running this long after the
 * call began is ended with the endpoint's own closing events (built from the
 * usage seen so far), so SDK helpers resolve; the record says truncated.
 */
function streamDeadline(call: CallState, kind: BodyKind, deps: ProxyDeps, seen: () => ResponseFacts): { at: number; closing: () => Uint8Array } | undefined {
  const seconds = deps.config.limits.streamDeadlineS;
  if (seconds === undefined || kind !== "sse") return undefined;
  const close = call.endpoint?.closeStream;
  return { at: call.startedAt + seconds * 1000, closing: () => (close ? encoder.encode(close(seen())) : new Uint8Array()) };
}
