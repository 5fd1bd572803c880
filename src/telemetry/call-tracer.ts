import type { CallDetails } from "../sinks/otlp/genai-span.ts";
import { parseTraceparent } from "./trace-context.ts";

/**
 * What the proxy needs from telemetry, and nothing more: open a trace for a
 * call (continuing the caller's `traceparent`), get the headers that carry the
 * client span to the upstream, and end it with the finished record. Spans,
 * metrics and their export live behind this (create-telemetry.ts).
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
  /**
   * Ends the call: what its spans and metrics need beyond its record. Plain
   * JSON, as it travels with the record (in its journal line) to the export.
   */
  finish(details: CallDetails, endTime: number): CallTelemetry;
}

export interface CallTelemetry {
  details: CallDetails;
  /** Milliseconds since the epoch. */
  endTime: number;
  /** Present when the call's trace is sampled. */
  spans?: CallSpanIds | undefined;
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
