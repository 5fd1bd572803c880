import type { Bucket, GroupBy, RequestFilter, Row, SortField, Totals } from "../analytics.ts";
import { nanoUsd, usdOfNano } from "./clickhouse-rows.ts";
import { literal } from "./clickhouse-store.ts";
import { parseInstantMicros, timestamptzText } from "./duckdb-text.ts";

/**
 * The SQL pieces of the ClickHouse analytics (clickhouse-analytics.ts): the
 * DuckDB queries' (duckdb/analytics-sql.ts) in SQL that ClickHouse 18.16 and
 * current releases both run, and the JS that turns their answers into the
 * same values DuckDB gives. Literals are inlined (18.16 has no query
 * parameters over HTTP); every value from outside goes through `literal`, a
 * number or an instant parsed here.
 */

export const IS_ERROR = "(status >= 400 OR error_type IS NOT NULL)";
export const MODEL = "coalesce(response_model, model)";
/** views.ts's IS_UNPRICED; `billable` is never NULL here (UInt8), so the condition is never NULL either. */
export const IS_UNPRICED = "(cost_nano IS NULL AND billable = 1 AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL))";
export const IS_MAIN_TURN = "coalesce(request_class, 'main') = 'main'";

/**
 * `(ms * 1000)::BIGINT` as DuckDB casts it: to the nearest integer, ties to
 * even. ClickHouse 18.16's round() takes ties away from zero (today's takes
 * them to even) and it has no roundBankers, so it is spelled out; `x - floor(x)`
 * is exact for a double.
 */
function wholeMicros(ms: string): string {
  const x = `(${ms} * 1000)`;
  const f = `floor(${x})`;
  return `(toInt64(${f}) + ((${x} - ${f}) > 0.5 OR ((${x} - ${f}) = 0.5 AND toInt64(${f}) % 2 = 1)))`;
}

/**
 * DuckDB's `quantile_cont(v, [0.5, 0.95])` interpolates between the values at
 * ranks floor and ceil of (n - 1) * q. ClickHouse's `quantile` samples and
 * `quantileExact` does not interpolate (and takes its levels as constants), so
 * the values are sorted (`arraySort(groupArray(…))`: all of a group's values in
 * memory, 8 bytes each, and an n log n sort instead of DuckDB's nth_element)
 * and the query returns [n, v[lo 0.5], v[hi 0.5], v[lo 0.95], v[hi 0.95]];
 * `interpolate` does DuckDB's arithmetic on them in JS, bit for bit.
 */
function quantileRanks(values: string, name: string): string {
  const a = `_${name}_sorted`;
  const at = (q: number, round: "floor" | "ceil") => `${a}[toUInt64(${round}((length(${a}) - 1) * ${q})) + 1]`;
  return `[toInt64(length(arraySort(groupArray(${values})) AS ${a})), ${at(0.5, "floor")}, ${at(0.5, "ceil")}, ${at(0.95, "floor")}, ${at(0.95, "ceil")}] AS ${name}`;
}

/** DuckDB's Interpolator<false> over doubles (quantile_state.hpp): `lo * (1 - d) + hi * d` at RN = (n - 1) * q. */
function interpolate(n: number, lo: number, hi: number, q: number): number {
  const rn = (n - 1) * q;
  const d = rn - Math.floor(rn);
  return Math.floor(rn) === Math.ceil(rn) ? lo : lo * (1 - d) + hi * d;
}

/**
 * TOTALS of duckdb/analytics-sql.ts, each field selected as `_t_<field>` (a
 * ClickHouse alias must not be a column's name: `sum(input_tokens) AS
 * input_tokens` would refer to itself). Counts come back as integers (exact
 * below 2^53, as DuckDB's DOUBLEs); money as the text of an exact Int64 sum of
 * nano-USD (a JSON number would lose digits past 2^53 nano-USD, $9M);
 * `totalsOf` makes the Totals of them.
 */
export const TOTALS = `
  count() AS _t_requests,
  countIf(${IS_ERROR}) AS _t_errors,
  countIf(streamed = 1) AS _t_streamed,
  coalesce(sum(input_tokens), 0) AS _t_input_tokens,
  coalesce(sum(cache_read_tokens), 0) AS _t_cache_read_tokens,
  coalesce(sum(cache_write_tokens), 0) AS _t_cache_write_tokens,
  coalesce(sum(cache_write_1h_tokens), 0) AS _t_cache_write_1h_tokens,
  coalesce(sum(output_tokens), 0) AS _t_output_tokens,
  coalesce(sum(reasoning_tokens), 0) AS _t_reasoning_tokens,
  toString(coalesce(sum(cost_nano), 0)) AS _t_cost_nano,
  countIf(${IS_UNPRICED}) AS _t_unpriced_requests,
  if(sum(input_tokens) > 0, sum(cache_read_tokens) / sum(input_tokens), NULL) AS _t_cache_hit_ratio,
  ${quantileRanks(wholeMicros("duration_ms"), "_t_latency_us")},
  ${quantileRanks(wholeMicros("ttfb_ms"), "_t_ttfb_us")}`;

/** The Totals of a row selected with TOTALS, as DuckDB gives them: money as a 9-decimal string, the quantiles interpolated. */
export function totalsOf(row: Row): Totals {
  const ms = (ranks: unknown, q: 0.5 | 0.95) => {
    const [n, lo50, hi50, lo95, hi95] = (ranks ?? [0]) as number[];
    if (!n) return null;
    return interpolate(n, q === 0.5 ? lo50! : lo95!, q === 0.5 ? hi50! : hi95!, q) / 1000;
  };
  const count = (name: string) => row[`_t_${name}`] as number;
  return {
    requests: count("requests"),
    errors: count("errors"),
    streamed: count("streamed"),
    input_tokens: count("input_tokens"),
    cache_read_tokens: count("cache_read_tokens"),
    cache_write_tokens: count("cache_write_tokens"),
    cache_write_1h_tokens: count("cache_write_1h_tokens"),
    output_tokens: count("output_tokens"),
    reasoning_tokens: count("reasoning_tokens"),
    cost_usd: usdOfNano(row._t_cost_nano as string),
    unpriced_requests: count("unpriced_requests"),
    cache_hit_ratio: row._t_cache_hit_ratio as number | null,
    latency_p50_ms: ms(row._t_latency_us, 0.5),
    latency_p95_ms: ms(row._t_latency_us, 0.95),
    ttfb_p50_ms: ms(row._t_ttfb_us, 0.5),
    ttfb_p95_ms: ms(row._t_ttfb_us, 0.95),
  };
}

/** The stored columns that make up a record without its bodies (duckdb/analytics-sql.ts's LIST_COLUMNS), as `readRecord` wants them. */
export const LIST_COLUMNS = `id, started_at_us, duration_ms, ttfb_ms, provider, operation, method, path, status, model, response_model,
  streamed, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost_nano, cost_source, session_id,
  user_id, project, tags, finish_reason, error_type, truncated, trace_id`;

/**
 * A row selected with LIST_COLUMNS (and others) as DuckDB gives it: started_at
 * as its text, cost_usd as a decimal string, booleans as booleans, no tags as
 * null (the table keeps [] for none; the recorder never writes an empty list).
 * Keys in the record's order; the row's other columns follow as they are.
 */
export function readRecord(row: Row): Row {
  const { started_at_us, cost_nano, ...rest } = row;
  const out: Row = {};
  for (const [key, value] of Object.entries(rest)) {
    if (key === "duration_ms") out.started_at = timestamptzText(started_at_us as number);
    if (key === "cost_source") out.cost_usd = cost_nano === null || cost_nano === undefined ? null : usdOfNano(cost_nano as number);
    if (key === "streamed" || key === "truncated" || key === "billable") out[key] = value === null ? null : value === 1 || value === true;
    else if (key === "tags") out[key] = Array.isArray(value) && value.length > 0 ? value : null;
    else out[key] = value;
  }
  return out;
}

export const SORT_KEYS: Record<SortField, string> = {
  started_at: "started_at_us",
  cost_usd: "coalesce(cost_nano, -1000000000)",
  duration_ms: "duration_ms",
  output_tokens: "coalesce(output_tokens, -1)",
};

export const GROUP_KEYS: Record<GroupBy, string> = {
  provider: "provider",
  model: MODEL,
  project: "project",
  user: "user_id",
};

/** A bucket's width in µs: buckets are whole multiples of it since the epoch, in UTC (as DuckDB's bucketSql). */
export const BUCKET_US: Record<Bucket, number> = { minute: 60_000_000, hour: 3_600_000_000, day: 86_400_000_000 };

/** An instant given to the store (a filter bound) → µs; what the API validated, so unreadable is a bug upstream. */
function boundMicros(text: string, field: string): number {
  const us = parseInstantMicros(text);
  if (us === undefined) throw new RangeError(`${field} is not an instant: ${text}`);
  return us;
}

/** A filter as a WHERE clause with its values inlined. */
export function where(filter: RequestFilter, extra: string[] = []): string {
  const parts: string[] = [];
  if (filter.from) parts.push(`started_at_us >= ${boundMicros(filter.from, "from")}`);
  if (filter.to) parts.push(`started_at_us < ${boundMicros(filter.to, "to")}`);
  if (filter.provider) parts.push(`provider = ${literal(filter.provider)}`);
  if (filter.model) parts.push(`(model = ${literal(filter.model)} OR response_model = ${literal(filter.model)})`);
  if (filter.status === "error") parts.push(IS_ERROR);
  else if (filter.status === "ok") parts.push(`NOT ${IS_ERROR}`);
  else if (filter.status !== undefined) parts.push(`status = ${Math.trunc(Number(filter.status))}`);
  if (filter.session) parts.push(`session_id = ${literal(filter.session)}`);
  if (filter.user) parts.push(`user_id = ${literal(filter.user)}`);
  if (filter.project) parts.push(`project = ${literal(filter.project)}`);
  if (filter.tag) parts.push(`has(tags, ${literal(filter.tag)})`);
  if (filter.minCost) parts.push(`cost_nano >= ${nanoUsd(filter.minCost)}`);
  if (filter.streamed !== undefined) parts.push(`streamed = ${filter.streamed ? 1 : 0}`);
  if (filter.unpriced === true) parts.push(IS_UNPRICED);
  else if (filter.unpriced === false) parts.push(`NOT ${IS_UNPRICED}`);
  parts.push(...extra);
  return parts.length ? `WHERE ${parts.join(" AND ")}` : "";
}

/** `WHERE …` or `AND …` after it: one more condition. */
export const and = (whereSql: string, condition: string) => `${whereSql} ${whereSql ? "AND" : "WHERE"} ${condition}`;
