import { IS_ERROR, IS_UNPRICED, MODEL } from "./clickhouse-analytics-sql.ts";

/**
 * DuckDB's documented views (duckdb/views.ts: `sessions`, `daily_usage`,
 * `model_usage`) for SQL over ClickHouse's `requests`, with the same names,
 * columns and conventions. They are not created in ClickHouse: the SQL guard
 * puts each in the query as a subquery where it is named, so nothing needs
 * the right to create views, and every replica reads the views of its own
 * version. Where ClickHouse 18.16 makes them differ:
 *
 * - Instants (`first_at`, `last_at`, `first_seen`, `last_seen`) are
 *   `DateTime('UTC')`, whole seconds: 18.16 has no DateTime64
 *   (`requests.started_at_us` keeps the µs).
 * - `daily_usage`'s percentiles interpolate as DuckDB's quantile_cont does,
 *   over every value of the group in memory.
 */

/** DuckDB's quantile_cont(values, q) over a sorted array: `lo * (1 - d) + hi * d` at (n - 1) * q; NULL when empty. */
function quantileCont(sorted: string, q: number): string {
  const rn = `((length(${sorted}) - 1) * ${q})`;
  const lo = `${sorted}[toUInt64(floor(${rn})) + 1]`;
  const hi = `${sorted}[toUInt64(ceil(${rn})) + 1]`;
  const d = `(${rn} - floor(${rn}))`;
  return `if(length(${sorted}) = 0, NULL, if(floor(${rn}) = ceil(${rn}), ${lo}, ${lo} * (1 - ${d}) + ${hi} * ${d}))`;
}

const TOKEN_SUMS = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"];
/** Inside: the sums under other names (an alias may not be a column's name in ClickHouse); outside: renamed back. */
const SUMS_INSIDE = TOKEN_SUMS.map((c) => `sum(${c}) AS _${c}`).join(", ");
const SUMS_OUTSIDE = TOKEN_SUMS.map((c) => `_${c} AS ${c}`).join(", ");

/** The views' SELECTs over `table` (qualified), by name. */
export function clickHouseViews(table: string): ReadonlyMap<string, string> {
  const from = `FROM ${table} AS requests FINAL`;
  const sessions = `SELECT session_id, calls, first_at, last_at, duration_s, providers, models, ${SUMS_OUTSIDE}, _cost_usd AS cost_usd,
    unpriced_calls, errors, _project AS project, _user_id AS user_id, first_prompt
  FROM (
    SELECT session_id, count() AS calls,
      toDateTime(intDiv(min(started_at_us), 1000000), 'UTC') AS first_at,
      toDateTime(intDiv(max(started_at_us), 1000000), 'UTC') AS last_at,
      round((max(started_at_us + toInt64(round(duration_ms * 1000))) - min(started_at_us)) / 1000000, 3) AS duration_s,
      arraySort(groupUniqArray(provider)) AS providers,
      arraySort(groupUniqArray(${MODEL})) AS models,
      ${SUMS_INSIDE}, sum(cost_usd) AS _cost_usd,
      countIf(${IS_UNPRICED}) AS unpriced_calls, countIf(${IS_ERROR}) AS errors,
      any(project) AS _project, any(user_id) AS _user_id,
      argMinIf(prompt_preview, started_at_us, prompt_preview IS NOT NULL AND coalesce(request_class, 'main') = 'main') AS first_prompt
    ${from} WHERE session_id IS NOT NULL GROUP BY session_id)
  ORDER BY last_at DESC, session_id`;

  const dailyUsage = `SELECT day, provider, _model AS model, calls, errors, ${SUMS_OUTSIDE}, _cost_usd AS cost_usd, unpriced_calls,
    ${quantileCont("_durations", 0.5)} AS p50_duration_ms, ${quantileCont("_durations", 0.95)} AS p95_duration_ms,
    ${quantileCont("_ttfbs", 0.5)} AS p50_ttfb_ms, ${quantileCont("_ttfbs", 0.95)} AS p95_ttfb_ms
  FROM (
    SELECT toDate(started_at) AS day, provider, ${MODEL} AS _model, count() AS calls, countIf(${IS_ERROR}) AS errors,
      ${SUMS_INSIDE}, sum(cost_usd) AS _cost_usd, countIf(${IS_UNPRICED}) AS unpriced_calls,
      arraySort(groupArray(duration_ms)) AS _durations, arraySort(groupArray(ttfb_ms)) AS _ttfbs
    ${from} GROUP BY day, provider, _model)
  ORDER BY day DESC, cost_usd DESC NULLS LAST, provider, model NULLS LAST`;

  // avg_cost_usd as DuckDB's DECIMAL division makes it, rounded to the nano-USD (ClickHouse's would cut the digits
  // off): in integer nano-USD, half up. Both branches of if() are computed, and a division by 0 fails: hence greatest().
  const modelUsage = `SELECT provider, _model AS model, calls, errors, ${SUMS_OUTSIDE}, _cost_usd AS cost_usd, priced_calls, unpriced_calls,
    if(priced_calls = 0, NULL, CAST(intDiv(2 * _cost_nano + priced_calls, greatest(2 * priced_calls, 1)) AS Nullable(Decimal(38, 9))) / 1000000000) AS avg_cost_usd,
    if(_input_tokens > 0, _cache_read_tokens / _input_tokens, NULL) AS cache_hit_ratio, first_seen, last_seen
  FROM (
    SELECT provider, ${MODEL} AS _model, count() AS calls, countIf(${IS_ERROR}) AS errors,
      ${SUMS_INSIDE}, sum(cost_usd) AS _cost_usd, sum(cost_nano) AS _cost_nano, count(cost_usd) AS priced_calls, countIf(${IS_UNPRICED}) AS unpriced_calls,
      min(started_at) AS first_seen, max(started_at) AS last_seen
    ${from} GROUP BY provider, _model)
  ORDER BY cost_usd DESC NULLS LAST, calls DESC, provider, model NULLS LAST`;

  return new Map([
    ["sessions", sessions],
    ["daily_usage", dailyUsage],
    ["model_usage", modelUsage],
  ]);
}
