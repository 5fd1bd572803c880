import type { CallSpanIds } from "../../telemetry/call-tracer.ts";
import type { CallDetails } from "./genai-span.ts";

/**
 * What a call's spans and metrics need beyond its record: made by the
 * recorder from the call's event, carried beside the record in its record
 * segment line (under `telemetry`) to this sink.
 */
export interface CallTelemetry {
  details: CallDetails;
  /** Milliseconds since the epoch. */
  endTime: number;
  /** Present when the call's trace is sampled. */
  spans?: CallSpanIds | undefined;
}
