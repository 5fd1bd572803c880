import type { DuckDBValue } from "@duckdb/node-api";
import type { Bucket, GroupBy, RequestFilter, Row, SortField, Totals } from "../analytics.ts";
import { IS_UNPRICED } from "./views.ts";

/**
 * The SQL pieces the analytics queries share (duckdb-analytics.ts). Costs on
 * 1M rows are in bench/ANALYTICS.md; the comments here say which choice they
 * paid for.
 */

export const IS_ERROR = "(status >= 400 OR error_type IS NOT NULL)";
export const MODEL = "coalesce(response_model, model)";

/**
 * The figures every aggregate view shares; counts as DOUBLE (exact below 2^53), money as an exact decimal string.
 * Latency quantiles are taken over whole microseconds (the record keeps 3 decimals of a millisecond, so nothing is
 * lost; the cast rounds to nearest), one list call per column: quantiles of BIGINTs cost half those of DOUBLEs, and
 * [p50, p95] in one call shares the work. `readTotals` turns the lists into the four fields.
 */
export const TOTALS = `
  count(*)::DOUBLE AS requests,
  count(*) FILTER (WHERE ${IS_ERROR})::DOUBLE AS errors,
  count(*) FILTER (WHERE streamed)::DOUBLE AS streamed,
  coalesce(sum(input_tokens), 0)::DOUBLE AS input_tokens,
  coalesce(sum(cache_read_tokens), 0)::DOUBLE AS cache_read_tokens,
  coalesce(sum(cache_write_tokens), 0)::DOUBLE AS cache_write_tokens,
  coalesce(sum(cache_write_1h_tokens), 0)::DOUBLE AS cache_write_1h_tokens,
  coalesce(sum(output_tokens), 0)::DOUBLE AS output_tokens,
  coalesce(sum(reasoning_tokens), 0)::DOUBLE AS reasoning_tokens,
  coalesce(sum(cost_usd), 0)::DECIMAL(38,9)::VARCHAR AS cost_usd,
  count(*) FILTER (WHERE ${IS_UNPRICED})::DOUBLE AS unpriced_requests,
  CASE WHEN sum(input_tokens) > 0 THEN sum(cache_read_tokens)::DOUBLE / sum(input_tokens) END AS cache_hit_ratio,
  quantile_cont((duration_ms * 1000)::BIGINT, [0.5, 0.95]) AS _latency_us,
  quantile_cont((ttfb_ms * 1000)::BIGINT, [0.5, 0.95]) AS _ttfb_us`;

/** A row selected with TOTALS, its quantile lists turned into the Totals fields (in place: rows can be many). */
export function readTotals<T extends Row>(row: T): T & Totals {
  const latency = row._latency_us as (number | null)[] | null;
  const ttfb = row._ttfb_us as (number | null)[] | null;
  const ms = (us: number | null | undefined) => (us === null || us === undefined ? null : us / 1000);
  delete row._latency_us;
  delete row._ttfb_us;
  return Object.assign(row, {
    latency_p50_ms: ms(latency?.[0]),
    latency_p95_ms: ms(latency?.[1]),
    ttfb_p50_ms: ms(ttfb?.[0]),
    ttfb_p95_ms: ms(ttfb?.[1]),
  }) as T & Totals;
}

/** A record without its bodies: what lists show. */
export const LIST_COLUMNS = `id, started_at::VARCHAR AS started_at, duration_ms, ttfb_ms, provider, operation, method, path, status, model, response_model,
  streamed, input_tokens::DOUBLE AS input_tokens, cache_read_tokens::DOUBLE AS cache_read_tokens, cache_write_tokens::DOUBLE AS cache_write_tokens,
  output_tokens::DOUBLE AS output_tokens, reasoning_tokens::DOUBLE AS reasoning_tokens, cost_usd::VARCHAR AS cost_usd, cost_source, session_id,
  user_id, project, tags, finish_reason, error_type, truncated, trace_id`;

export const SORT_KEYS: Record<SortField, string> = {
  started_at: "started_at",
  cost_usd: "coalesce(cost_usd, -1)",
  duration_ms: "duration_ms",
  output_tokens: "coalesce(output_tokens, -1)",
};

export const GROUP_KEYS: Record<GroupBy, string> = {
  provider: "provider",
  model: MODEL,
  project: "project",
  user: "user_id",
};

/**
 * A bucket's width in microseconds. Minutes, hours and days are fixed widths in
 * UTC, so buckets are whole multiples of them since the epoch: integer
 * arithmetic on the stored instant instead of `date_trunc` in a time zone,
 * which goes through ICU for every row (30 days of 1M rows: 6 ms instead of 105 ms).
 */
const BUCKET_US: Record<Bucket, number> = { minute: 60_000_000, hour: 3_600_000_000, day: 86_400_000_000 };

/** The group key of a bucket (GROUP BY it), and its start as `YYYY-MM-DD HH:MM:SS` UTC (select it). */
export function bucketSql(bucket: Bucket): { key: string; label: string } {
  const key = `epoch_us(started_at) // ${BUCKET_US[bucket]}`;
  return { key, label: `make_timestamp((${key}) * ${BUCKET_US[bucket]})::VARCHAR` };
}

export interface Where {
  sql: string;
  params: DuckDBValue[];
}

export function where(filter: RequestFilter, extra: Where[] = []): Where {
  const parts: string[] = [];
  const params: DuckDBValue[] = [];
  const add = (sql: string, ...values: DuckDBValue[]) => {
    parts.push(sql);
    params.push(...values);
  };
  if (filter.from) add("started_at >= ?::TIMESTAMPTZ", filter.from);
  if (filter.to) add("started_at < ?::TIMESTAMPTZ", filter.to);
  if (filter.provider) add("provider = ?", filter.provider);
  if (filter.model) add("(model = ? OR response_model = ?)", filter.model, filter.model);
  if (filter.status === "error") add(IS_ERROR);
  else if (filter.status === "ok") add(`NOT ${IS_ERROR}`);
  else if (filter.status !== undefined) add("status = ?", filter.status);
  if (filter.session) add("session_id = ?", filter.session);
  if (filter.user) add("user_id = ?", filter.user);
  if (filter.project) add("project = ?", filter.project);
  if (filter.tag) add("list_contains(tags, ?)", filter.tag);
  if (filter.minCost) add("cost_usd >= ?::DECIMAL(38,9)", filter.minCost);
  if (filter.streamed !== undefined) add("streamed = ?", filter.streamed);
  // The calls counted in `unpriced_requests`, or all the others (a NULL billable is not unpriced).
  if (filter.unpriced === true) add(IS_UNPRICED);
  else if (filter.unpriced === false) add(`NOT coalesce(${IS_UNPRICED}, false)`);
  for (const e of extra) add(e.sql, ...e.params);
  return { sql: parts.length ? `WHERE ${parts.join(" AND ")}` : "", params };
}

/** `WHERE …` or `AND …` after it: one more condition on a Where. */
export const and = (w: Where, condition: string) => `${w.sql} ${w.sql ? "AND" : "WHERE"} ${condition}`;

export { decodeCursor, encodeCursor, InvalidCursorError } from "../analytics-cursor.ts";
