import type { DuckDBConnection, DuckDBValue } from "@duckdb/node-api";
import type { AnalyticsStore, Bucket, GroupBy, Page, RequestFilter, Row, SortField, Totals } from "../analytics.ts";
import { IS_UNPRICED } from "./views.ts";

const IS_ERROR = "(status >= 400 OR error_type IS NOT NULL)";

/** The figures every aggregate view shares; counts as DOUBLE (exact below 2^53), money as an exact decimal string. */
const TOTALS = `
  count(*)::DOUBLE AS requests,
  count(*) FILTER (WHERE ${IS_ERROR})::DOUBLE AS errors,
  count(*) FILTER (WHERE streamed)::DOUBLE AS streamed,
  coalesce(sum(input_tokens), 0)::DOUBLE AS input_tokens,
  coalesce(sum(cache_read_tokens), 0)::DOUBLE AS cache_read_tokens,
  coalesce(sum(cache_write_tokens), 0)::DOUBLE AS cache_write_tokens,
  coalesce(sum(output_tokens), 0)::DOUBLE AS output_tokens,
  coalesce(sum(reasoning_tokens), 0)::DOUBLE AS reasoning_tokens,
  coalesce(sum(cost_usd), 0)::DECIMAL(38,9)::VARCHAR AS cost_usd,
  count(*) FILTER (WHERE ${IS_UNPRICED})::DOUBLE AS unpriced_requests,
  CASE WHEN sum(input_tokens) > 0 THEN sum(cache_read_tokens)::DOUBLE / sum(input_tokens) END AS cache_hit_ratio,
  quantile_cont(duration_ms, 0.5) AS latency_p50_ms,
  quantile_cont(duration_ms, 0.95) AS latency_p95_ms,
  quantile_cont(ttfb_ms, 0.5) AS ttfb_p50_ms,
  quantile_cont(ttfb_ms, 0.95) AS ttfb_p95_ms`;

/** A record without its bodies: what lists show. */
const LIST_COLUMNS = `id, started_at::VARCHAR AS started_at, duration_ms, ttfb_ms, provider, operation, method, path, status, model, response_model,
  streamed, input_tokens::DOUBLE AS input_tokens, cache_read_tokens::DOUBLE AS cache_read_tokens, cache_write_tokens::DOUBLE AS cache_write_tokens,
  output_tokens::DOUBLE AS output_tokens, reasoning_tokens::DOUBLE AS reasoning_tokens, cost_usd::VARCHAR AS cost_usd, cost_source, session_id,
  user_id, project, tags, finish_reason, error_type, truncated, trace_id`;

const SORT_KEYS: Record<SortField, string> = {
  started_at: "started_at",
  cost_usd: "coalesce(cost_usd, -1)",
  duration_ms: "duration_ms",
  output_tokens: "coalesce(output_tokens, -1)",
};

const GROUP_KEYS: Record<GroupBy, string> = {
  provider: "provider",
  model: "coalesce(response_model, model)",
  project: "project",
  user: "user_id",
};

const BUCKETS: Record<Bucket, string> = { minute: "minute", hour: "hour", day: "day" };

interface Where {
  sql: string;
  params: DuckDBValue[];
}

function where(filter: RequestFilter, extra: Where[] = []): Where {
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
  for (const e of extra) add(e.sql, ...e.params);
  return { sql: parts.length ? `WHERE ${parts.join(" AND ")}` : "", params };
}

const encodeCursor = (value: unknown, id: unknown) => Buffer.from(JSON.stringify([value, id])).toString("base64url");

export class InvalidCursorError extends Error {
  override name = "InvalidCursorError";
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === "string" && typeof parsed[1] === "string") return [parsed[0], parsed[1]];
  } catch {
    // fall through
  }
  throw new InvalidCursorError("cursor is not one this API issued");
}

/** The analytics questions, answered with parameterized SQL over `requests`. */
export function createDuckDBAnalytics(connection: DuckDBConnection): AnalyticsStore {
  async function rows(sql: string, params: DuckDBValue[] = []): Promise<Row[]> {
    const reader = await connection.runAndReadAll(sql, params);
    return reader.getRowObjectsJson() as Row[];
  }
  const totals = async (w: Where) => (await rows(`SELECT ${TOTALS} FROM requests ${w.sql}`, w.params))[0] as unknown as Totals;

  return {
    async listRequests(filter, page) {
      const key = SORT_KEYS[page.sort];
      const dir = page.order === "asc" ? "ASC" : "DESC";
      const cmp = page.order === "asc" ? ">" : "<";
      const extra: Where[] = [];
      if (page.cursor) {
        const [value, id] = decodeCursor(page.cursor);
        const cast = page.sort === "started_at" ? "::TIMESTAMPTZ" : "::DOUBLE";
        extra.push({ sql: `(${key} ${cmp} ?${cast} OR (${key} = ?${cast} AND id ${cmp} ?))`, params: [value, value, id] });
      }
      const w = where(filter, extra);
      // Sort and cut on the raw columns first; convert only the page's rows (bench/ANALYTICS.md: 390 → 35 ms at 1M rows).
      const found = await rows(
        `SELECT ${LIST_COLUMNS}, ${key}::VARCHAR AS _sort
         FROM (SELECT * FROM requests ${w.sql} ORDER BY ${key} ${dir}, id ${dir} LIMIT ${page.limit + 1})
         ORDER BY ${key} ${dir}, id ${dir}`,
        w.params,
      );
      const more = found.length > page.limit;
      const items = found.slice(0, page.limit);
      const last = items.at(-1);
      const next = more && last ? encodeCursor(last._sort, last.id) : null;
      for (const item of items) delete item._sort;
      return { items, next_cursor: next } satisfies Page;
    },

    async getRequest(id) {
      const found = await rows(
        `SELECT ${LIST_COLUMNS}, cache_write_1h_tokens::DOUBLE AS cache_write_1h_tokens, price_version, error_message, request_bytes::DOUBLE AS request_bytes,
          response_bytes::DOUBLE AS response_bytes, upstream_request_id, usage_raw::VARCHAR AS usage_raw, request_body, response_body,
          agent_id, parent_agent_id, request_class, agent_type FROM requests WHERE id = ?`,
        [id],
      );
      return found[0];
    },

    async summary(filter) {
      const w = where(filter);
      const cacheReads = await rows(
        `SELECT provider, coalesce(response_model, model) AS model, sum(cache_read_tokens)::DOUBLE AS cache_read_tokens
         FROM requests ${w.sql} ${w.sql ? "AND" : "WHERE"} cache_read_tokens > 0 AND coalesce(response_model, model) IS NOT NULL GROUP BY ALL`,
        w.params,
      );
      return { totals: await totals(w), cacheReads: cacheReads as never };
    },

    async timeseries(filter, bucket, groupBy) {
      const w = where(filter);
      const group = groupBy ? GROUP_KEYS[groupBy] : "NULL";
      return (await rows(
        `SELECT date_trunc('${BUCKETS[bucket]}', started_at AT TIME ZONE 'UTC')::VARCHAR AS bucket, ${group} AS "group", ${TOTALS}
         FROM requests ${w.sql} GROUP BY ALL ORDER BY bucket, "group" NULLS FIRST`,
        w.params,
      )) as never;
    },

    async breakdown(filter, by) {
      const w = where(filter);
      const keys = by === "model" ? `provider, coalesce(response_model, model) AS model` : "provider";
      return (await rows(`SELECT ${keys}, ${TOTALS} FROM requests ${w.sql} GROUP BY ALL ORDER BY sum(cost_usd) DESC NULLS LAST, count(*) DESC`, w.params)) as never;
    },

    async sessions(filter, page) {
      const extra: Where[] = [{ sql: "session_id IS NOT NULL", params: [] }];
      const w = where(filter, extra);
      const having = page.cursor ? (() => {
        const [value, id] = decodeCursor(page.cursor);
        return { sql: "HAVING (max(started_at) < ?::TIMESTAMPTZ OR (max(started_at) = ?::TIMESTAMPTZ AND session_id < ?))", params: [value, value, id] };
      })() : { sql: "", params: [] };
      // Two passes: pick the page cheaply, then aggregate only its sessions (bench/ANALYTICS.md: 500 → 120 ms at 20k sessions).
      const found = await rows(
        `WITH page AS (
           SELECT session_id FROM requests ${w.sql} GROUP BY session_id ${having.sql}
           ORDER BY max(started_at) DESC, session_id DESC LIMIT ${page.limit + 1})
         SELECT session_id, min(started_at)::VARCHAR AS first_at, max(started_at)::VARCHAR AS last_at, list(DISTINCT coalesce(response_model, model)) FILTER (WHERE coalesce(response_model, model) IS NOT NULL) AS models,
           any_value(user_id) AS user_id, any_value(project) AS project, ${TOTALS}
         FROM requests ${w.sql} ${w.sql ? "AND" : "WHERE"} session_id IN (SELECT session_id FROM page)
         GROUP BY session_id ORDER BY max(started_at) DESC, session_id DESC`,
        [...w.params, ...having.params, ...w.params],
      );
      const more = found.length > page.limit;
      const items = found.slice(0, page.limit);
      const last = items.at(-1);
      return { items, next_cursor: more && last ? encodeCursor(last.last_at, last.session_id) : null };
    },

    async session(id) {
      const w = where({ session: id });
      const [session] = await rows(
        `SELECT session_id, min(started_at)::VARCHAR AS first_at, max(started_at)::VARCHAR AS last_at,
           list(DISTINCT coalesce(response_model, model)) FILTER (WHERE coalesce(response_model, model) IS NOT NULL) AS models,
           any_value(user_id) AS user_id, any_value(project) AS project,
           arg_min(coalesce(json_extract_string(request_body, '$.messages[0].content'), json_extract_string(request_body, '$.contents[0].parts[0].text'), json_extract_string(request_body, '$.input')), started_at) AS first_prompt,
           ${TOTALS}
         FROM requests ${w.sql} GROUP BY session_id`,
        w.params,
      );
      if (!session) return undefined;
      const calls = await rows(`SELECT ${LIST_COLUMNS} FROM requests ${w.sql} ORDER BY started_at, id`, w.params);
      return { session, calls };
    },

    async users(filter) {
      const w = where(filter, [{ sql: "user_id IS NOT NULL", params: [] }]);
      return rows(
        `SELECT user_id, min(started_at)::VARCHAR AS first_at, max(started_at)::VARCHAR AS last_at, count(DISTINCT session_id)::DOUBLE AS sessions, ${TOTALS}
         FROM requests ${w.sql} GROUP BY user_id ORDER BY sum(cost_usd) DESC NULLS LAST, user_id`,
        w.params,
      );
    },

    async usageSummary(now) {
      const at = new Date(now);
      const day = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
      const week = new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * 86_400_000); // ISO weeks start on Monday
      const month = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
      const range = (from: Date) => where({ from: from.toISOString(), to: new Date(at.getTime() + 1).toISOString() });
      return { today: await totals(range(day)), this_week: await totals(range(week)), this_month: await totals(range(month)) };
    },
  };
}
