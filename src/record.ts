/**
 * One row of table `requests` (DESIGN.md, "The record"): one per proxied call.
 * Field names are the column names. Token counts are null when the provider
 * did not report them; `cost_usd` is an exact decimal string, null when the
 * model has no known price.
 */
export interface RequestRecord {
  id: string;
  started_at: string;
  duration_ms: number;
  ttfb_ms: number | null;
  provider: string;
  operation: string | null;
  method: string;
  path: string;
  status: number;
  model: string | null;
  response_model: string | null;
  streamed: boolean;
  input_tokens: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  output_tokens: number | null;
  reasoning_tokens: number | null;
  cost_usd: string | null;
  cost_source: string | null;
  price_version: string | null;
  session_id: string | null;
  user_id: string | null;
  project: string | null;
  tags: string[] | null;
  finish_reason: string | null;
  error_type: string | null;
  error_message: string | null;
  request_bytes: number;
  response_bytes: number;
  upstream_request_id: string | null;
  trace_id: string | null;
  usage_raw: string | null;
  request_body: string | null;
  response_body: string | null;
  truncated: boolean;
  // Beyond DESIGN.md's list: the 1-hour part of cache writes, and the agent
  // metadata Claude Code announces in its x-claude-code-* headers.
  cache_write_1h_tokens: number | null;
  agent_id: string | null;
  parent_agent_id: string | null;
  request_class: string | null;
  agent_type: string | null;
  /** Whether the endpoint charges for tokens (the recorder asks the provider); what SQL needs to tell an unpriced call, with no list of operations. */
  billable: boolean;
  /** The first thing the user wrote in the request (≤ 200 characters), when bodies are logged (`full`). */
  prompt_preview: string | null;
  /** The gateway key the call came with (`key_…`), when it came with one (part 7). */
  key_id: string | null;
  /** The limit that refused the call (`project:alpha requests 50/60s`), when one did. */
  limit_hit: string | null;
  /** Upstream attempts: 1 normally, more when retried (config `retry`), 0 when Loupe answered itself (part 8). */
  attempts: number;
  /** Where a routing rule sent the call: the provider and model that answered in place of those asked for (part 8). */
  routed_provider: string | null;
  routed_model: string | null;
  /**
   * The provider's rate-limit response headers, `{"organization"?: "…", "headers": {"<name>": "<value>", …}}`
   * (JSON text), when the answer carried any (part 8); the organization where the provider names it.
   */
  ratelimit: string | null;
}

export type ColumnType = "VARCHAR" | "TIMESTAMPTZ" | "DOUBLE" | "INTEGER" | "BIGINT" | "BOOLEAN" | "DECIMAL(38,9)" | "VARCHAR[]" | "JSON";

/** Column order and DuckDB types of `requests`; the appender writes in this order. */
export const REQUEST_COLUMNS = [
  ["id", "VARCHAR"],
  ["started_at", "TIMESTAMPTZ"],
  ["duration_ms", "DOUBLE"],
  ["ttfb_ms", "DOUBLE"],
  ["provider", "VARCHAR"],
  ["operation", "VARCHAR"],
  ["method", "VARCHAR"],
  ["path", "VARCHAR"],
  ["status", "INTEGER"],
  ["model", "VARCHAR"],
  ["response_model", "VARCHAR"],
  ["streamed", "BOOLEAN"],
  ["input_tokens", "BIGINT"],
  ["cache_read_tokens", "BIGINT"],
  ["cache_write_tokens", "BIGINT"],
  ["output_tokens", "BIGINT"],
  ["reasoning_tokens", "BIGINT"],
  ["cost_usd", "DECIMAL(38,9)"],
  ["cost_source", "VARCHAR"],
  ["price_version", "VARCHAR"],
  ["session_id", "VARCHAR"],
  ["user_id", "VARCHAR"],
  ["project", "VARCHAR"],
  ["tags", "VARCHAR[]"],
  ["finish_reason", "VARCHAR"],
  ["error_type", "VARCHAR"],
  ["error_message", "VARCHAR"],
  ["request_bytes", "BIGINT"],
  ["response_bytes", "BIGINT"],
  ["upstream_request_id", "VARCHAR"],
  ["trace_id", "VARCHAR"],
  ["usage_raw", "JSON"],
  ["request_body", "VARCHAR"],
  ["response_body", "VARCHAR"],
  ["truncated", "BOOLEAN"],
  ["cache_write_1h_tokens", "BIGINT"],
  ["agent_id", "VARCHAR"],
  ["parent_agent_id", "VARCHAR"],
  ["request_class", "VARCHAR"],
  ["agent_type", "VARCHAR"],
  ["billable", "BOOLEAN"],
  ["prompt_preview", "VARCHAR"],
  ["key_id", "VARCHAR"],
  ["limit_hit", "VARCHAR"],
  ["attempts", "INTEGER"],
  ["routed_provider", "VARCHAR"],
  ["routed_model", "VARCHAR"],
  ["ratelimit", "JSON"],
] as const satisfies readonly (readonly [keyof RequestRecord, ColumnType])[];
