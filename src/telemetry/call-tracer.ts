import type { RequestRecord } from "../record.ts";
import type { CallDetails } from "./genai-span.ts";
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
  begin(request: { method: string; path: string; headers: Headers; startTime: number }): CallTrace;
}

export interface CallTrace {
  /**
   * The trace the call belongs to (32 hex digits), sampled or not; undefined
   * only when tracing is off (metrics only) and the caller sent no valid `traceparent`.
   */
  readonly traceId: string | undefined;
  /** Starts the upstream (CLIENT) span; returns the `traceparent`/`tracestate` to send upstream. */
  startUpstream(startTime: number): Record<string, string>;
  /** Ends the spans and records the metrics. Never throws. */
  end(record: RequestRecord, details: CallDetails, endTime: number): void;
}

/** W3C Trace Context `traceparent`: the trace id, if the header is valid. */
export function readTraceId(traceparent: string | null): string | undefined {
  return parseTraceparent(traceparent)?.traceId;
}
