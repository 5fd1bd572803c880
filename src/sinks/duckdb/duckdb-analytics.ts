import type { DuckDBConnection, DuckDBValue } from "@duckdb/node-api";
import type { AnalyticsStore, Page, RateLimitLatest, RateLimitPoint, Row, Totals } from "../analytics.ts";
import { and, bucketSql, decodeCursor, encodeCursor, GROUP_KEYS, LIST_COLUMNS, MODEL, readTotals, SORT_KEYS, TOTALS, where, type Where } from "./analytics-sql.ts";
import { IS_MAIN_TURN, IS_UNPRICED } from "./views.ts";

/** What a session's calls show beyond a list's columns: which agent made each. */
const AGENT_COLUMNS = "agent_id, parent_agent_id, agent_type, request_class";

/** The analytics questions, answered with parameterized SQL over `requests`. */
export function createDuckDBAnalytics(connection: DuckDBConnection): AnalyticsStore {
  async function rows(sql: string, params: DuckDBValue[] = []): Promise<Row[]> {
    const reader = await connection.runAndReadAll(sql, params);
    return reader.getRowObjectsJson() as Row[];
  }
  /**
   * Many rows, in `order` (over the query's output columns): DuckDB writes them as one JSON text, which costs
   * about a third of reading them cell by cell (a 6,000-call session: 95 ms instead of 155 ms).
   */
  async function manyRows(sql: string, params: DuckDBValue[], order: string): Promise<Row[]> {
    const reader = await connection.runAndReadAll(`SELECT to_json(list(t ORDER BY ${order}))::VARCHAR AS j FROM (${sql}) t`, params);
    const text = reader.getRows()[0]?.[0];
    return typeof text === "string" ? (JSON.parse(text) as Row[]) : [];
  }
  /** Rows selected with TOTALS. */
  const totalsRows = async (sql: string, params: DuckDBValue[]) => (await rows(sql, params)).map(readTotals);
  const totals = async (w: Where) => (await totalsRows(`SELECT ${TOTALS} FROM requests ${w.sql}`, w.params))[0] as Totals;

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
          ${AGENT_COLUMNS}, billable FROM requests WHERE id = ?`,
        [id],
      );
      return found[0];
    },

    async summary(filter) {
      const w = where(filter);
      const cacheReads = await rows(
        `SELECT provider, ${MODEL} AS model, sum(cache_read_tokens)::DOUBLE AS cache_read_tokens
         FROM requests ${and(w, `cache_read_tokens > 0 AND ${MODEL} IS NOT NULL`)} GROUP BY ALL`,
        w.params,
      );
      return { totals: await totals(w), cacheReads: cacheReads as never };
    },

    async timeseries(filter, bucket, groupBy, options = {}) {
      const w = where(filter);
      const { key, label } = bucketSql(bucket);
      let group = groupBy ? GROUP_KEYS[groupBy] : "NULL";
      const params = [...w.params];
      if (groupBy && options.top !== undefined) {
        // The top groups first (a cheap pass without quantiles), then every other group's rows under one name, so
        // "(other)" gets its figures, quantiles included, from its own rows.
        const top = (await rows(
          `SELECT ${group} AS g FROM requests ${w.sql} GROUP BY 1 ORDER BY sum(cost_usd) DESC NULLS LAST, count(*) DESC, g NULLS LAST LIMIT ${options.top}`,
          w.params,
        )).map((r) => r.g as string | null);
        const named = top.filter((g): g is string => g !== null);
        const kept = [named.length ? `${group} IN (${named.map(() => "?").join(", ")})` : "false", top.includes(null) ? `${group} IS NULL` : "false"];
        group = `CASE WHEN ${kept.join(" OR ")} THEN ${group} ELSE '(other)' END`;
        params.unshift(...named);
      }
      const points = await manyRows(`SELECT ${label} AS bucket, ${group} AS "group", ${TOTALS} FROM requests ${w.sql} GROUP BY ${key}, "group"`, params, `t.bucket, t."group" NULLS FIRST`);
      return points.map(readTotals) as never;
    },

    async breakdown(filter, by) {
      const w = where(filter);
      const keys = by === "model" ? `provider, ${MODEL} AS model` : "provider";
      // Calls per cost source; the calls without one are unpriced (counted in unpriced_requests) or had nothing to price.
      const sources =
        by === "model" ? `, histogram(coalesce(cost_source, CASE WHEN coalesce(${IS_UNPRICED}, false) THEN 'unpriced' ELSE 'none' END)) AS _sources` : "";
      const found = await totalsRows(`SELECT ${keys}, ${TOTALS}${sources} FROM requests ${w.sql} GROUP BY ALL ORDER BY sum(cost_usd) DESC NULLS LAST, count(*) DESC`, w.params);
      if (by === "model") {
        for (const row of found) {
          const histogram = (row._sources ?? []) as { key: string; value: string | number }[];
          row.cost_sources = Object.fromEntries(histogram.map(({ key, value }) => [key, Number(value)]));
          delete row._sources;
        }
      }
      return found as never;
    },

    async sessions(filter, page) {
      const extra: Where[] = [{ sql: "session_id IS NOT NULL", params: [] }];
      const w = where(filter, extra);
      const having = page.cursor ? (() => {
        const [value, id] = decodeCursor(page.cursor);
        return { sql: "HAVING (max(started_at) < ?::TIMESTAMPTZ OR (max(started_at) = ?::TIMESTAMPTZ AND session_id < ?))", params: [value, value, id] };
      })() : { sql: "", params: [] };
      // Two passes: pick the page cheaply, then aggregate only its sessions (bench/ANALYTICS.md: 500 → 120 ms at 20k sessions).
      const found = await totalsRows(
        `WITH page AS (
           SELECT session_id FROM requests ${w.sql} GROUP BY session_id ${having.sql}
           ORDER BY max(started_at) DESC, session_id DESC LIMIT ${page.limit + 1})
         SELECT session_id, min(started_at)::VARCHAR AS first_at, max(started_at)::VARCHAR AS last_at, list_sort(list(DISTINCT ${MODEL}) FILTER (WHERE ${MODEL} IS NOT NULL)) AS models,
           any_value(user_id) AS user_id, any_value(project) AS project, ${TOTALS}
         FROM requests ${and(w, "session_id IN (SELECT session_id FROM page)")}
         GROUP BY session_id ORDER BY max(started_at) DESC, session_id DESC`,
        [...w.params, ...having.params, ...w.params],
      );
      const more = found.length > page.limit;
      const items = found.slice(0, page.limit);
      const last = items.at(-1);
      return { items, next_cursor: more && last ? encodeCursor(last.last_at, last.session_id) : null };
    },

    async session(id) {
      // One statement, one scan: the session's rows are read once into a CTE, and its totals, its agents and its
      // calls come out of it as JSON text (a 6,000-call session: 105 ms instead of 150 ms for three scans).
      const json = (select: string, order?: string) => `(SELECT to_json(${order ? `list(t ORDER BY ${order})` : "t"})::VARCHAR FROM (${select}) t)`;
      const reader = await connection.runAndReadAll(
        `WITH s AS MATERIALIZED (SELECT * FROM requests WHERE session_id = ?)
         SELECT
           ${json(`SELECT session_id, min(started_at)::VARCHAR AS first_at, max(started_at)::VARCHAR AS last_at,
               list_sort(list(DISTINCT ${MODEL}) FILTER (WHERE ${MODEL} IS NOT NULL)) AS models,
               any_value(user_id) AS user_id, any_value(project) AS project,
               arg_min(coalesce(json_extract_string(request_body, '$.messages[0].content'), json_extract_string(request_body, '$.contents[0].parts[0].text'), json_extract_string(request_body, '$.input')), started_at) FILTER (WHERE ${IS_MAIN_TURN}) AS first_prompt,
               ${TOTALS}
             FROM s GROUP BY session_id`)} AS session,
           -- An agent's parent and type as its first call that names them gave them (Claude Code sends them on each call).
           ${json(
             `SELECT agent_id, arg_min(parent_agent_id, started_at) FILTER (WHERE parent_agent_id IS NOT NULL) AS parent_agent_id,
               arg_min(agent_type, started_at) FILTER (WHERE agent_type IS NOT NULL) AS agent_type,
               min(started_at)::VARCHAR AS first_at, max(started_at)::VARCHAR AS last_at, ${TOTALS}
             FROM s GROUP BY agent_id`,
             "t.first_at::TIMESTAMPTZ, t.agent_id NULLS FIRST",
           )} AS agents,
           -- (Ordered by the instant again: the output's started_at is text.)
           ${json(`SELECT ${LIST_COLUMNS}, ${AGENT_COLUMNS} FROM s`, "t.started_at::TIMESTAMPTZ, t.id")} AS calls`,
        [id],
      );
      const [session, agents, calls] = (reader.getRows()[0] ?? []).map((text) => (typeof text === "string" ? (JSON.parse(text) as unknown) : undefined));
      if (!session) return undefined;
      return { session: readTotals(session as Row), agents: (agents as Row[]).map(readTotals), calls: calls as Row[] };
    },

    async users(filter) {
      const w = where(filter, [{ sql: "user_id IS NOT NULL", params: [] }]);
      return totalsRows(
        `SELECT user_id, min(started_at)::VARCHAR AS first_at, max(started_at)::VARCHAR AS last_at, count(DISTINCT session_id)::DOUBLE AS sessions, ${TOTALS}
         FROM requests ${w.sql} GROUP BY user_id ORDER BY sum(cost_usd) DESC NULLS LAST, user_id`,
        w.params,
      );
    },

    async projects(filter) {
      // As users: calls without a project are left out.
      const w = where(filter, [{ sql: "project IS NOT NULL", params: [] }]);
      return totalsRows(
        `SELECT project, min(started_at)::VARCHAR AS first_at, max(started_at)::VARCHAR AS last_at,
           count(DISTINCT session_id)::DOUBLE AS sessions, count(DISTINCT user_id)::DOUBLE AS users, ${TOTALS}
         FROM requests ${w.sql} GROUP BY project ORDER BY sum(cost_usd) DESC NULLS LAST, count(*) DESC, project`,
        w.params,
      );
    },

    async rateLimits(filter, bucket) {
      const w = where({ from: filter.from, to: filter.to, provider: filter.provider }, [{ sql: "ratelimit IS NOT NULL", params: [] }]);
      // One row per call and header; each header's value in the group's latest call that carried it (arg_max); one row per group.
      const latestPer = (groups: Record<string, string>) => {
        const names = Object.keys(groups).join(", ");
        return `
        WITH h AS (
          SELECT started_at, provider, ratelimit->>'organization' AS organization, key_id,
            unnest(map_entries(json_transform(ratelimit->'headers', '"MAP(VARCHAR, VARCHAR)"'))) AS e
          FROM requests ${w.sql}),
        v AS (
          SELECT ${Object.entries(groups).map(([name, sql]) => `${sql} AS ${name}`).join(", ")}, e.key AS name,
            arg_max(e.value, started_at) AS value, max(started_at) AS seen, list(DISTINCT key_id) AS keys
          FROM h GROUP BY ALL)
        SELECT ${names}, max(seen)::VARCHAR AS last_at, json_group_object(name, value) AS headers, list_sort(list_distinct(flatten(list(keys)))) AS key_ids
        FROM v GROUP BY ${names}`;
      };
      const points = await manyRows(
        latestPer({ bucket: bucketSql(bucket).label, provider: "provider", organization: "organization", key_id: "key_id" }),
        w.params,
        "t.bucket, t.provider, t.organization NULLS FIRST, t.key_id NULLS FIRST",
      );
      for (const point of points) delete point.key_ids;
      const latest = await manyRows(latestPer({ provider: "provider", organization: "organization" }), w.params, "t.provider, t.organization NULLS FIRST");
      return { points: points as unknown as RateLimitPoint[], latest: latest as unknown as RateLimitLatest[] };
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
