import type { RequestRecord } from "../record.ts";

/** What the live tail shows of a record: the list's fields (no bodies, no usage_raw), as `GET /api/requests` gives them. */
export type LiveRecord = Pick<
  RequestRecord,
  | "id" | "started_at" | "duration_ms" | "ttfb_ms" | "provider" | "operation" | "method" | "path" | "status" | "model" | "response_model" | "streamed"
  | "input_tokens" | "cache_read_tokens" | "cache_write_tokens" | "output_tokens" | "reasoning_tokens" | "cost_usd" | "cost_source" | "session_id"
  | "user_id" | "project" | "tags" | "finish_reason" | "error_type" | "truncated" | "trace_id"
>;

const FIELDS = [
  "id", "started_at", "duration_ms", "ttfb_ms", "provider", "operation", "method", "path", "status", "model", "response_model", "streamed",
  "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens", "cost_usd", "cost_source", "session_id",
  "user_id", "project", "tags", "finish_reason", "error_type", "truncated", "trace_id",
] as const satisfies readonly (keyof LiveRecord)[];

/** The live-tail form of one record segment line (a record as the recorder wrote it). */
export function toLiveRecord(line: string): LiveRecord {
  const record = JSON.parse(line) as RequestRecord;
  const live: Record<string, unknown> = {};
  for (const field of FIELDS) live[field] = record[field] ?? null;
  return live as LiveRecord;
}
