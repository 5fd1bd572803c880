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
  /** Starts the upstream (CLIENT) span; returns the `traceparent`/`tracestate` to send upstream. */
  startUpstream(startTime: number): Record<string, string>;
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
  clientSpanId: string | undefined;
  clientStart: number;
  serverStart: number;
  method: string;
  /** The request path without its query. */
  path: string;
}

/** W3C Trace Context `traceparent`: the trace id, if the header is valid. */
export function readTraceId(traceparent: string | null): string | undefined {
  return parseTraceparent(traceparent)?.traceId;
}
