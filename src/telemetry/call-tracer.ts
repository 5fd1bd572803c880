import type { RequestRecord } from "../record.ts";
import type { CallDetails } from "./genai-span.ts";

/**
 * What the proxy needs from telemetry, and nothing more: open a trace for a
 * call (continuing the caller's `traceparent`), get the headers that carry the
 * client span to the upstream, and end it with the finished record. The
 * OpenTelemetry SDK lives behind this (create-telemetry.ts).
 */
export interface CallTracer {
  /** Whether message content may be captured (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT). */
  readonly captureContent: boolean;
  begin(request: { method: string; path: string; headers: Headers; startTime: number }): CallTrace;
}

export interface CallTrace {
  /** The trace the call belongs to (32 hex digits), sampled or not. */
  readonly traceId: string;
  /** Starts the upstream (CLIENT) span; returns the `traceparent`/`tracestate` to send upstream. */
  startUpstream(startTime: number): Record<string, string>;
  /** Ends the spans and records the metrics. Never throws. */
  end(record: RequestRecord, details: CallDetails, endTime: number): void;
}

/** W3C Trace Context `traceparent` (version 00): the trace id, if the header is valid. */
export function readTraceId(traceparent: string | null): string | undefined {
  const match = traceparent ? /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent.trim()) : null;
  return match?.[1] && !/^0+$/.test(match[1]) ? match[1] : undefined;
}
