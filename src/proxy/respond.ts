import { forwardResponseHeaders, headerObject, headerText, type HeaderObject } from "../http/headers.ts";
import type { FrameDecoder, ResponseFacts } from "../providers/contract.ts";
import { observeBody, outcomeError, type BodyOutcome } from "../observe/observe-body.ts";
import { createResponseObserver, readWholeBody, type BodyKind } from "../observe/response-observer.ts";
import { createSseRewriter } from "../observe/sse-rewriter.ts";
import { answerAfter, writeCall, type CallState } from "./call-state.ts";
import { applyResponseHeaderRules } from "../routing/header-rules.ts";
import { matchContext } from "./match-context.ts";
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
  // The provider that answered: the route's, or the one a routing rule sent the call to.
  const adapter = call.routed?.provider ?? call.route.adapter;
  call.upstreamRequestId = firstHeader(answered, adapter.requestIdHeaders);
  // The last answer's (a retried call's earlier answers are not the client's).
  call.rateLimits = adapter.rateLimits?.(answered);
  const headers = forwardResponseHeaders(received, answered);
  if (call.routed?.answer) {
    // Translated for the client: another body, so another length and type.
    headers.delete("content-length");
    headers.delete("content-encoding");
  }
  if (call.responseHeaderRules) applyResponseHeaderRules(call.responseHeaderRules, headers, matchContext(call));
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
export function respondWhole(call: CallState, answer: Answer, bytes: Uint8Array, deps: ProxyDeps): Response | Promise<Response> {
  const end = { status: answer.status, responseBytes: bytes.byteLength };
  let durable: Promise<void> | void;
  if (call.logBody !== "none") {
    const captureBytes = call.logBody === "full" ? deps.config.limits.maxLoggedBodyBytes : 0;
    durable = writeCall(call, { ...end, encoding: answer.encoding, captureBytes }, deps, bytes);
  } else {
    const read = readWholeBody(call.endpoint, bytes, { encoding: answer.encoding, captureBytes: 0, captureContent: call.captureContent });
    if (read.problems.length) deps.onInternalError(`response ${call.id}: ${read.problems.join("; ")}`);
    durable = writeCall(call, { ...end, response: read.facts, outputContent: read.content }, deps);
  }
  // The record is made of the target's own answer (above); the client gets it in its own format.
  const translate = call.routed?.answer;
  let out = translate ? translateWhole(translate, bytes, answer) : bytes;
  if (call.listModels && answer.status === 200 && !answer.encoding) out = withModels(call, out, answer);
  // With LOUPE_JOURNAL_FSYNC=always the whole answer waits for its event's sync (a body is its own last bytes).
  return answerAfter(durable, new Response(out, { status: answer.status, statusText: answer.upstream.statusText, headers: answer.headers }));
}

/** A model list with the models routing rules serve added (Claude Code's discovery then offers them). */
function withModels(call: CallState, bytes: Uint8Array, answer: Answer): Uint8Array {
  try {
    const listed = call.endpoint?.addModels?.(JSON.parse(utf8.decode(bytes)), call.listModels!);
    if (listed === undefined) return bytes;
    answer.headers.delete("content-length");
    return encoder.encode(JSON.stringify(listed));
  } catch {
    return bytes; // not JSON: passed on as it came
  }
}

type Translate = NonNullable<NonNullable<CallState["routed"]>["answer"]>;

/** A whole answer of the routed target, in the client's format (an error stays an error, its status kept). */
function translateWhole(translate: Translate, bytes: Uint8Array, answer: Answer): Uint8Array {
  answer.headers.set("content-type", "application/json");
  const text = utf8.decode(bytes);
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page): the error converter takes text too.
  }
  const converted = answer.status >= 400 ? translate.error(body, answer.status) : translate.whole(body);
  return encoder.encode(JSON.stringify(converted));
}

/** A routed stream's bytes in the client's format: SSE event by event; any other body (an error's JSON) whole, at its end. */
function translateStream(translate: Translate, answer: Answer): { push(chunk: Uint8Array): Uint8Array; end(): Uint8Array } {
  if (answer.kind === "sse" && answer.status < 400) {
    answer.headers.set("content-type", "text/event-stream; charset=utf-8");
    return translate.stream();
  }
  const parts: Uint8Array[] = [];
  return {
    push(chunk) {
      parts.push(chunk);
      return new Uint8Array();
    },
    end() {
      const whole = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
      let at = 0;
      for (const part of parts) whole.set(part, (at += part.byteLength) - part.byteLength);
      return translateWhole(translate, whole, answer);
    },
  };
}

const utf8 = new TextDecoder();

/**
 * Step 3c: a stream (or a large or undeclared body), handed on chunk by chunk
 * as it arrives, observed on the side, and written once however it ends.
 */
export function respondStream(call: CallState, answer: Answer, sent: UpstreamBody, deps: ProxyDeps, stopWatching: () => void): Response | Promise<Response> {
  const { upstream, kind, encoding, headers, status } = answer;
  const captureBytes = call.logBody === "full" ? deps.config.limits.maxLoggedBodyBytes : 0;
  const observer = createResponseObserver({ endpoint: call.endpoint, kind, frames: answer.frames, encoding, captureBytes, captureContent: call.captureContent });
  let seen: ResponseFacts = {};
  const settle = (outcome: BodyOutcome, responseBytes: number) => {
    stopWatching();
    const observed = observer.finish();
    seen = observed.facts ?? {};
    if (observed.problems.length) deps.onInternalError(`response ${call.id}: ${observed.problems.join("; ")}`);
    return writeCall(call, { status, responseBytes, truncated: outcome.kind !== "complete", ...outcomeError(outcome), response: observed.facts, responseBody: observed.body, outputContent: observed.content }, deps);
  };
  if (!upstream.body) return answerAfter(settle({ kind: "complete" }, 0), new Response(null, { status, statusText: upstream.statusText, headers }));
  const rewriting = sent.rewriteEvent !== undefined && kind === "sse" && !encoding;
  if (rewriting) headers.delete("content-length");
  const translation = call.routed?.answer ? translateStream(call.routed.answer, answer) : undefined;
  const stream = observeBody(upstream.body, {
    onChunk: (chunk) => observer.feed(chunk),
    transform: translation ?? (rewriting && sent.rewriteEvent ? createSseRewriter(sent.rewriteEvent) : undefined),
    expectedBytes: answer.declared && !rewriting && !translation ? Number(answer.declared) : undefined,
    // A translated stream ends in the client's format: the translation's own closing events.
    deadline: translation ? streamDeadline(call, kind, deps, () => seen, () => translation.end()) : streamDeadline(call, kind, deps, () => seen),
    idle: call.timeouts?.idleMs && kind === "sse" ? { ms: call.timeouts.idleMs, closing: closingOf(call, () => seen, translation && (() => translation.end())) } : undefined,
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
function streamDeadline(call: CallState, kind: BodyKind, deps: ProxyDeps, seen: () => ResponseFacts, closeTranslated?: () => Uint8Array): { at: number; closing: () => Uint8Array } | undefined {
  const seconds = call.timeouts?.streamDeadlineS ?? deps.config.limits.streamDeadlineS;
  if (seconds === undefined || kind !== "sse") return undefined;
  return { at: call.startedAt + seconds * 1000, closing: closingOf(call, seen, closeTranslated) };
}

/** The events that end a stream Loupe cuts: the translation's own end, else the endpoint's closing events. */
function closingOf(call: CallState, seen: () => ResponseFacts, closeTranslated: (() => Uint8Array) | undefined): () => Uint8Array {
  if (closeTranslated) return closeTranslated;
  const close = call.endpoint?.closeStream;
  return () => (close ? encoder.encode(close(seen())) : new Uint8Array());
}
