/**
 * Documented views over `requests`, so `loupe sql` answers the common
 * questions in one line:
 *
 *   loupe sql "SELECT * FROM sessions LIMIT 10"
 *   loupe sql "SELECT * FROM daily_usage WHERE day >= current_date - 7"
 *   loupe sql "SELECT * FROM model_usage"
 *
 * Conventions shared by all three views:
 * - `model` is `coalesce(response_model, model)`: the model that answered, else the one asked for.
 * - An error is `status >= 400 OR error_type IS NOT NULL` (in-stream errors arrive with status 200).
 * - An unpriced call is a billable one (`billable`: its endpoint charges for tokens, as the
 *   recorder learned from the provider) that reported tokens but has `cost_usd IS NULL`
 *   (no known price). Never counted as $0.
 * - Token sums are BIGINT and NULL when no call of the group reported that kind (NULL = not reported, not 0).
 * - `cost_usd` sums are exact DECIMAL(38,9) over priced calls only.
 * - Days are UTC, whatever the session's TimeZone setting.
 *
 * The views are stored in the database file (CREATE OR REPLACE on every open
 * keeps them in step with this file), so a directly opened file has them too.
 */
import type { DuckDBConnection } from "@duckdb/node-api";

const MODEL = "coalesce(response_model, model)";
const IS_ERROR = "(status >= 400 OR error_type IS NOT NULL)";
/** A billable call that reported tokens, without a price (see above). */
export const IS_UNPRICED = "(cost_usd IS NULL AND billable AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL))";

const TOKEN_SUMS = `
    sum(input_tokens)::BIGINT AS input_tokens,
    sum(output_tokens)::BIGINT AS output_tokens,
    sum(cache_read_tokens)::BIGINT AS cache_read_tokens,
    sum(cache_write_tokens)::BIGINT AS cache_write_tokens,
    sum(reasoning_tokens)::BIGINT AS reasoning_tokens`;

/**
 * `sessions` — one row per `session_id` (calls without a session are left out), most recent first.
 *
 * | column | type | meaning |
 * |---|---|---|
 * | session_id | VARCHAR | the session (x-loupe-session, Claude Code's session id, …) |
 * | calls | BIGINT | calls in the session |
 * | first_at / last_at | TIMESTAMPTZ | start of the first / of the last call |
 * | duration_s | DOUBLE | seconds from the first call's start to the end of the last call to finish |
 * | providers | VARCHAR[] | distinct providers, sorted |
 * | models | VARCHAR[] | distinct models (response model, else requested), sorted; `[]` when none |
 * | input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens | BIGINT | sums |
 * | cost_usd | DECIMAL(38,9) | exact sum over priced calls |
 * | unpriced_calls | BIGINT | billable calls with tokens but no price |
 * | errors | BIGINT | calls with status >= 400 or an error_type |
 * | project, user_id | VARCHAR | any non-null value seen in the session |
 * | first_prompt | VARCHAR | the `prompt_preview` of the session's earliest main-turn call that has one (`request_class` 'main', or NULL for clients other than Claude Code: not its title, compaction or subagent calls): the first thing the user wrote (≤ 200 chars, whitespace collapsed); NULL unless bodies are logged (`x-loupe-log-body: full`) |
 */
/** A turn the user wrote: Claude Code's main thread, or any call of a client that names no request class. */
export const IS_MAIN_TURN = "coalesce(request_class, 'main') = 'main'";

const SESSIONS = `CREATE OR REPLACE VIEW sessions AS
SELECT
  session_id,
  count(*) AS calls,
  min(started_at) AS first_at,
  max(started_at) AS last_at,
  round(date_diff('microsecond', min(started_at), max(started_at + to_microseconds(round(duration_ms * 1000)::BIGINT))) / 1e6, 3) AS duration_s,
  list_sort(list(DISTINCT provider)) AS providers,
  coalesce(list_sort(list(DISTINCT ${MODEL}) FILTER (WHERE ${MODEL} IS NOT NULL)), []::VARCHAR[]) AS models,${TOKEN_SUMS},
  sum(cost_usd) AS cost_usd,
  count(*) FILTER (WHERE ${IS_UNPRICED}) AS unpriced_calls,
  count(*) FILTER (WHERE ${IS_ERROR}) AS errors,
  any_value(project) AS project,
  any_value(user_id) AS user_id,
  arg_min(prompt_preview, started_at) FILTER (WHERE prompt_preview IS NOT NULL AND ${IS_MAIN_TURN}) AS first_prompt
FROM requests
WHERE session_id IS NOT NULL
GROUP BY session_id
ORDER BY last_at DESC, session_id`;

/**
 * `daily_usage` — one row per UTC day × provider × model, most recent day first, costliest first.
 *
 * | column | type | meaning |
 * |---|---|---|
 * | day | DATE | UTC day of started_at |
 * | provider | VARCHAR | |
 * | model | VARCHAR | response model, else requested model (NULL for calls without one) |
 * | calls | BIGINT | |
 * | errors | BIGINT | status >= 400 or an error_type |
 * | input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens | BIGINT | sums |
 * | cost_usd | DECIMAL(38,9) | exact sum over priced calls |
 * | unpriced_calls | BIGINT | billable calls with tokens but no price |
 * | p50_duration_ms, p95_duration_ms | DOUBLE | interpolated percentiles of total duration |
 * | p50_ttfb_ms, p95_ttfb_ms | DOUBLE | the same for time to first byte (NULL when none recorded) |
 */
const DAILY_USAGE = `CREATE OR REPLACE VIEW daily_usage AS
SELECT
  timezone('UTC', started_at)::DATE AS day,
  provider,
  ${MODEL} AS model,
  count(*) AS calls,
  count(*) FILTER (WHERE ${IS_ERROR}) AS errors,${TOKEN_SUMS},
  sum(cost_usd) AS cost_usd,
  count(*) FILTER (WHERE ${IS_UNPRICED}) AS unpriced_calls,
  quantile_cont(duration_ms, 0.5) AS p50_duration_ms,
  quantile_cont(duration_ms, 0.95) AS p95_duration_ms,
  quantile_cont(ttfb_ms, 0.5) AS p50_ttfb_ms,
  quantile_cont(ttfb_ms, 0.95) AS p95_ttfb_ms
FROM requests
GROUP BY ALL
ORDER BY day DESC, cost_usd DESC NULLS LAST, provider, model NULLS LAST`;

/**
 * `model_usage` — one row per provider × model over all time, costliest first.
 *
 * | column | type | meaning |
 * |---|---|---|
 * | provider | VARCHAR | |
 * | model | VARCHAR | response model, else requested model |
 * | calls | BIGINT | |
 * | errors | BIGINT | status >= 400 or an error_type |
 * | input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens | BIGINT | sums |
 * | cost_usd | DECIMAL(38,9) | exact sum over priced calls |
 * | priced_calls | BIGINT | calls with a cost (including exact $0) |
 * | unpriced_calls | BIGINT | billable calls with tokens but no price |
 * | avg_cost_usd | DECIMAL(38,9) | cost_usd / priced_calls (unpriced calls are not averaged in as $0) |
 * | cache_hit_ratio | DOUBLE | sum(cache_read_tokens) / sum(input_tokens) (input includes cache reads); NULL without input tokens |
 * | first_seen / last_seen | TIMESTAMPTZ | first / last call |
 */
const MODEL_USAGE = `CREATE OR REPLACE VIEW model_usage AS
SELECT
  provider,
  ${MODEL} AS model,
  count(*) AS calls,
  count(*) FILTER (WHERE ${IS_ERROR}) AS errors,${TOKEN_SUMS},
  sum(cost_usd) AS cost_usd,
  count(cost_usd) AS priced_calls,
  count(*) FILTER (WHERE ${IS_UNPRICED}) AS unpriced_calls,
  CAST(sum(cost_usd) / nullif(count(cost_usd), 0) AS DECIMAL(38,9)) AS avg_cost_usd,
  CASE WHEN sum(input_tokens) > 0 THEN sum(cache_read_tokens)::DOUBLE / sum(input_tokens) END AS cache_hit_ratio,
  min(started_at) AS first_seen,
  max(started_at) AS last_seen
FROM requests
GROUP BY ALL
ORDER BY cost_usd DESC NULLS LAST, calls DESC, provider, model NULLS LAST`;

/** The statements creating (or updating) the views; run after `requests` exists with all its columns. */
export const VIEW_SQL: readonly string[] = [SESSIONS, DAILY_USAGE, MODEL_USAGE];

/** Names of the views, for `loupe --help`, the README and tests. */
export const VIEW_NAMES = ["sessions", "daily_usage", "model_usage"] as const;

/** Creates or replaces the views. Idempotent; call after the `requests` table is created and migrated. */
export async function createViews(connection: DuckDBConnection): Promise<void> {
  for (const sql of VIEW_SQL) await connection.run(sql);
}
