/**
 * W3C Trace Context (www.w3.org/TR/trace-context): reading the caller's
 * `traceparent` and writing ours.
 */

export interface TraceParent {
  traceId: string;
  /** The caller's span: our SERVER span's parent. */
  spanId: string;
  sampled: boolean;
}

// version "-" trace-id "-" parent-id "-" trace-flags, lowercase hex only (§3.2.2).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_SPAN_ID = "0".repeat(16);

/** The caller's trace context, or undefined when the header is absent or invalid (then it is ignored, §3.2). */
export function parseTraceparent(header: string | null | undefined): TraceParent | undefined {
  if (!header) return undefined;
  const value = header.trim();
  const match = TRACEPARENT.exec(value);
  if (!match) return undefined;
  const [, version, traceId, spanId, flags] = match as unknown as [string, string, string, string, string];
  if (version === "ff") return undefined;
  // Version 00 is exactly 55 characters; a later version may append fields after a "-" (§3.2.4).
  if (value.length !== 55 && (version === "00" || value[55] !== "-")) return undefined;
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`;
}
