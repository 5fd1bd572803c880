import { parseTraceparent } from "./trace-context.ts";

/**
 * What the proxy needs from telemetry, and nothing more: open a trace for a
 * call (continuing the caller's `traceparent`), get the headers that carry the
 * client span to the upstream, and end it. The span ids travel in the call's
 * event (recording/call-event.ts); spans and metrics are made from its record
 * by the OTLP sink (sinks/otlp/).
 */
export interface CallTracer {
  /** Whether message content may be captured (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT). */
  readonly captureContent: boolean;
  /** `traceparent` and `tracestate` are the caller's headers (null when not sent). */
  begin(request: { method: string; path: string; traceparent: string | null; tracestate: string | null; startTime: number }): CallTrace;
}

export interface CallTrace {
  /**
   * The trace the call belongs to (32 hex digits), sampled or not; undefined
   * only when tracing is off (metrics only) and the caller sent no valid `traceparent`.
   */
  readonly traceId: string | undefined;
  /**
   * Starts an upstream attempt's CLIENT span, with a span id of its own; returns
   * the `traceparent`/`tracestate` to send upstream with that attempt.
   */
  startUpstream(startTime: number): Record<string, string>;
  /**
   * Ends the current attempt as failed (a retry or a fallback follows): it is
   * kept as its own CLIENT span; the next `startUpstream` starts the next attempt.
   */
  failUpstream(outcome: AttemptOutcome, endTime: number): void;
  /** The span ids the call's telemetry needs: present when the trace is sampled. */
  finish(): CallSpanIds | undefined;
}

/** A sampled call's span ids and times: the SERVER span, and the CLIENT span if the upstream was tried. */
export interface CallSpanIds {
  traceId: string;
  spanId: string;
  /** The caller's span (a remote parent), if it sent a `traceparent`. */
  parentSpanId: string | undefined;
  traceState: string | undefined;
  /** The last attempt's CLIENT span: the one that carries the call's answer and usage. */
  clientSpanId: string | undefined;
  clientStart: number;
  /** The attempts before the last, all failed (retries, fallbacks), oldest first; absent when the first attempt was the last. */
  attempts?: AttemptSpanIds[] | undefined;
  serverStart: number;
  method: string;
  /** The request path without its query. */
  path: string;
}

/** Where a failed attempt went, and how it failed. */
export interface AttemptOutcome {
  /** The target's provider id (the registry's key). */
  provider: string;
  serverAddress: string;
  serverPort: number;
  /** The upstream's HTTP status, when it answered. */
  status?: number | undefined;
  /** The status as text (`"429"`), or `connect`, `timeout`, `circuit_open`, or Loupe's error code. */
  errorType: string;
}

/** A failed attempt's CLIENT span (milliseconds since the epoch). */
export interface AttemptSpanIds extends AttemptOutcome {
  spanId: string;
  start: number;
  end: number;
  /** `gen_ai.provider.name` of `provider`: added by the recorder. */
  genAiProvider?: string | undefined;
}

/** W3C Trace Context `traceparent`: the trace id, if the header is valid. */
export function readTraceId(traceparent: string | null): string | undefined {
  return parseTraceparent(traceparent)?.traceId;
}
