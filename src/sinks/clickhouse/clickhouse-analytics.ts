import { decodeCursor, encodeCursor, InvalidCursorError } from "../analytics-cursor.ts";
import type { AnalyticsStore, Page, RateLimitLatest, RateLimitPoint, RequestFilter, Row, SortField } from "../analytics.ts";
import { and, BUCKET_US, GROUP_KEYS, IS_MAIN_TURN, IS_UNPRICED, LIST_COLUMNS, MODEL, readRecord, SORT_KEYS, TOTALS, totalsOf, where } from "./clickhouse-analytics-sql.ts";
import { firstPrompt } from "./first-prompt.ts";
import { nanoUsd, usdOfNano } from "./clickhouse-rows.ts";
import { literal } from "./clickhouse-store.ts";
import { rateLimitSql } from "./rate-limit-sql.ts";
import { doubleText, parseInstantMicros, timestampText, timestamptzText } from "./duckdb-text.ts";

/** Where the analytics read: a table of records (clickhouse-schema.ts) and a way to run a query (ClickHouseStore fits). */
export interface ClickHouseSource {
  /** The table, as queries name it: `` `loupe`.requests ``. */
  readonly table: string;
  /** Runs a query, returning its JSONEachRow rows with 64-bit integers as numbers. */
  rows<T = Row>(sql: string): Promise<T[]>;
}

export interface ClickHouseAnalyticsOptions {
  /**
   * Read the table with FINAL (default): each record once even if a duplicate
   * row got in before the ReplacingMergeTree merged it away. False only for
   * measurements (bench/analytics-clickhouse.ts).
   */
  final?: boolean;
}

/** What a session's calls show beyond a list's columns: which agent made each. */
const AGENT_COLUMNS = "agent_id, parent_agent_id, agent_type, request_class";
/** Bodies read per query while looking for a session's first prompt. */
const PROMPT_PAGE = 10;

/**
 * The analytics questions over ClickHouse's `requests`, answered as DuckDB
 * answers them (duckdb-analytics.ts): the same fields, types and values for the
 * same records. ClickHouse 18.16 has no CTEs over queries, window functions,
 * JSON paths or query parameters, so a few answers take more than one query
 * (listed per method) and literals are inlined.
 */
export function createClickHouseAnalytics(source: ClickHouseSource, options: ClickHouseAnalyticsOptions = {}): AnalyticsStore {
  const table = options.final === false ? source.table : `${source.table} FINAL`;
  /**
   * For reading rows by their id: without FINAL (which merges every part in the key range it reads, the whole
   * table for a lookup by id: 835 ms against 23 at 1M rows), since every copy of a record is the record.
   */
  const rowsTable = source.table;
  const rows = (sql: string) => source.rows<Row>(sql);
  /** Rows selected with TOTALS, as `shape` orders their other fields. */
  const totalsRows = async (sql: string, shape: (row: Row) => Row) => (await rows(sql)).map((row): Row => ({ ...shape(row), ...totalsOf(row) }));
  const totals = async (whereSql: string) => totalsOf((await rows(`SELECT ${TOTALS} FROM ${table} ${whereSql}`))[0]!);
  const span = (row: Row) => ({ first_at: timestamptzText(row._first_us as number), last_at: timestamptzText(row._last_us as number) });
  const models = (row: Row) => ((row._models as string[]).length > 0 ? row._models : null);

  return {
    async listRequests(filter, page) {
      const key = SORT_KEYS[page.sort];
      const dir = page.order === "asc" ? "ASC" : "DESC";
      const extra: string[] = [];
      if (page.cursor) {
        const [value, id] = decodeCursor(page.cursor);
        const at = sortLiteral(page.sort, value);
        const cmp = page.order === "asc" ? ">" : "<";
        extra.push(`(${key} ${cmp} ${at} OR (${key} = ${at} AND id ${cmp} ${literal(id)}))`);
      }
      // Two queries: the page's keys sorted and cut on two columns, then only its rows read whole (ClickHouse reads
      // every selected column of every matching row before sorting). Each record once: copies (alike, and side by
      // side in this order) are dropped here, and the keys asked again for more when some were; not FINAL, which
      // merges before it filters, nor LIMIT 1 BY, which makes 18.16 sort every row instead of keeping the top n.
      const keysSql = (n: number) => `SELECT started_at_us, id, ${key} AS _sort FROM ${rowsTable} ${where(filter, extra)} ORDER BY _sort ${dir}, id ${dir} LIMIT ${n}`;
      let keys: Row[] = [];
      for (let n = page.limit + 1; ; n *= 2) {
        const found = await rows(keysSql(n));
        keys = found.filter((k, i) => i === 0 || k.id !== found[i - 1]!.id || k.started_at_us !== found[i - 1]!.started_at_us);
        if (keys.length > page.limit || found.length < n) break;
      }
      keys = keys.slice(0, page.limit + 1);
      const more = keys.length > page.limit;
      const picked = keys.slice(0, page.limit);
      const byId = new Map<unknown, Row>();
      if (picked.length > 0) {
        const found = await rows(
          `SELECT ${LIST_COLUMNS} FROM ${rowsTable} WHERE started_at_us IN (${[...new Set(picked.map((k) => k.started_at_us))].join(", ")}) AND id IN (${picked.map((k) => literal(String(k.id))).join(", ")})`,
        );
        for (const row of found) byId.set(row.id, readRecord(row));
      }
      const last = picked.at(-1);
      return {
        items: picked.map((k) => byId.get(k.id)!).filter(Boolean),
        next_cursor: more && last ? encodeCursor(sortText(page.sort, last._sort as number), last.id) : null,
      } satisfies Page;
    },

    async getRequest(id) {
      const found = await rows(
        `SELECT ${LIST_COLUMNS}, cache_write_1h_tokens, price_version, error_message, request_bytes, response_bytes, upstream_request_id, usage_raw,
           request_body, response_body, ${AGENT_COLUMNS}, billable FROM ${rowsTable} WHERE id = ${literal(id)} LIMIT 1`,
      );
      return found[0] ? readRecord(found[0]) : undefined;
    },

    async summary(filter) {
      const whereSql = where(filter);
      const [cacheReads, all] = await Promise.all([
        rows(`SELECT provider, ${MODEL} AS _model, sum(cache_read_tokens) AS _reads FROM ${table} ${and(whereSql, `cache_read_tokens > 0 AND ${MODEL} IS NOT NULL`)} GROUP BY provider, _model`),
        totals(whereSql),
      ]);
      return { totals: all, cacheReads: cacheReads.map((r) => ({ provider: r.provider as string, model: r._model as string, cache_read_tokens: r._reads as number })) };
    },

    async timeseries(filter, bucket, groupBy, options = {}) {
      const whereSql = where(filter);
      let group = groupBy ? GROUP_KEYS[groupBy] : "NULL";
      if (groupBy && options.top !== undefined) {
        // The top groups first (a cheap pass without quantiles), then every other group's rows under one name.
        const top = (await rows(
          `SELECT ${group} AS _g FROM ${table} ${whereSql} GROUP BY _g ORDER BY sum(cost_nano) DESC NULLS LAST, count() DESC, _g NULLS LAST LIMIT ${Math.trunc(options.top)}`,
        )).map((r) => r._g as string | null);
        const named = top.filter((g): g is string => g !== null);
        const kept = [named.length ? `${group} IN (${named.map(literal).join(", ")})` : "0", top.includes(null) ? `${group} IS NULL` : "0"];
        group = `CASE WHEN ${kept.join(" OR ")} THEN ${group} ELSE '(other)' END`;
      }
      const width = BUCKET_US[bucket];
      const points = await totalsRows(
        `SELECT intDiv(started_at_us, ${width}) AS _bucket, ${group} AS _group, ${TOTALS} FROM ${table} ${whereSql} GROUP BY _bucket, _group ORDER BY _bucket, _group NULLS FIRST`,
        (row) => ({ bucket: timestampText((row._bucket as number) * width), group: row._group }),
      );
      return points as never;
    },

    async breakdown(filter, by) {
      const whereSql = where(filter);
      const keys = by === "model" ? `provider, ${MODEL} AS _model` : "provider";
      const groupBy = by === "model" ? "provider, _model" : "provider";
      // DuckDB leaves the order of ties open; here they go by name.
      const found = totalsRows(
        `SELECT ${keys}, ${TOTALS} FROM ${table} ${whereSql} GROUP BY ${groupBy} ORDER BY sum(cost_nano) DESC NULLS LAST, count() DESC, ${groupBy.replace("_model", "_model NULLS LAST")}`,
        (row) => (by === "model" ? { provider: row.provider, model: row._model } : { provider: row.provider }),
      );
      if (by === "provider") return (await found) as never;
      // Calls per cost source; those without one are unpriced (counted in unpriced_requests) or had nothing to price.
      // A second query: 18.16's sumMap takes no String keys.
      const sources = rows(
        `SELECT provider, ${MODEL} AS _model, coalesce(cost_source, if(${IS_UNPRICED}, 'unpriced', 'none')) AS _source, count() AS _calls
         FROM ${table} ${whereSql} GROUP BY provider, _model, _source`,
      );
      const [items, counts] = await Promise.all([found, sources]);
      const byModel = new Map<string, Record<string, number>>();
      for (const c of counts) {
        const k = JSON.stringify([c.provider, c._model]);
        byModel.set(k, { ...byModel.get(k), [c._source as string]: c._calls as number });
      }
      return items.map((item) => ({ ...item, cost_sources: byModel.get(JSON.stringify([item.provider, item.model])) ?? {} })) as never;
    },

    async sessions(filter, page) {
      const whereSql = where(filter, ["session_id IS NOT NULL"]);
      let having = "";
      if (page.cursor) {
        const [value, id] = decodeCursor(page.cursor);
        const at = cursorInstant(value);
        having = `HAVING max(started_at_us) < ${at} OR (max(started_at_us) = ${at} AND session_id < ${literal(id)})`;
      }
      // The page picked cheaply in a subquery, then only its sessions aggregated.
      const found = await totalsRows(
        `SELECT session_id, min(started_at_us) AS _first_us, max(started_at_us) AS _last_us, arraySort(groupUniqArray(${MODEL})) AS _models,
           argMin(user_id, started_at_us) AS _user_id, argMin(project, started_at_us) AS _project, ${TOTALS}
         FROM ${table} ${and(whereSql, `session_id IN (
           SELECT session_id FROM ${table} ${whereSql} GROUP BY session_id ${having}
           ORDER BY max(started_at_us) DESC, session_id DESC LIMIT ${page.limit + 1})`)}
         GROUP BY session_id ORDER BY _last_us DESC, session_id DESC`,
        (row) => ({ session_id: row.session_id, ...span(row), models: models(row), user_id: row._user_id, project: row._project }),
      );
      const more = found.length > page.limit;
      const items = found.slice(0, page.limit);
      const last = items.at(-1);
      return { items, next_cursor: more && last ? encodeCursor(last.last_at, last.session_id) : null };
    },

    async session(id) {
      // The session's time span first (one scan of two columns, without FINAL: copies do not move it); it then bounds
      // the four queries to the parts of the table that hold the session (the table is ordered by time), so FINAL
      // merges only those, and they run together (at 1M rows: 785 ms with FINAL over the whole table, ~60 ms so).
      const bySession = `session_id = ${literal(id)}`;
      const [bounds] = await rows(`SELECT min(started_at_us) AS _first_us, max(started_at_us) AS _last_us FROM ${rowsTable} WHERE ${bySession} HAVING count() > 0`);
      if (!bounds) return undefined;
      const inSession = `${bySession} AND started_at_us >= ${bounds._first_us as number} AND started_at_us <= ${bounds._last_us as number}`;
      const [[head], agents, calls, prompt] = await Promise.all([
        rows(
          `SELECT session_id, min(started_at_us) AS _first_us, max(started_at_us) AS _last_us, arraySort(groupUniqArray(${MODEL})) AS _models,
             argMin(user_id, started_at_us) AS _user_id, argMin(project, started_at_us) AS _project, ${TOTALS}
           FROM ${table} WHERE ${inSession} GROUP BY session_id`,
        ),
        // An agent's parent and type as its first call that names them gave them (Claude Code sends them on each call).
        totalsRows(
          `SELECT agent_id, argMin(parent_agent_id, started_at_us) AS _parent, argMin(agent_type, started_at_us) AS _type,
             min(started_at_us) AS _first_us, max(started_at_us) AS _last_us, ${TOTALS}
           FROM ${table} WHERE ${inSession} GROUP BY agent_id ORDER BY _first_us, agent_id NULLS FIRST`,
          (row) => ({ agent_id: row.agent_id, parent_agent_id: row._parent, agent_type: row._type, ...span(row) }),
        ),
        rows(`SELECT ${LIST_COLUMNS}, ${AGENT_COLUMNS} FROM ${rowsTable} WHERE ${inSession} ORDER BY started_at_us, id LIMIT 1 BY started_at_us, id`),
        firstPrompt((offset) =>
          rows(
            `SELECT request_body FROM ${rowsTable} WHERE ${inSession} AND ${IS_MAIN_TURN} AND request_body IS NOT NULL
             ORDER BY started_at_us, id LIMIT 1 BY started_at_us, id LIMIT ${offset}, ${PROMPT_PAGE}`,
          ),
        PROMPT_PAGE),
      ]);
      if (!head) return undefined;
      const session = { session_id: head.session_id, ...span(head), models: models(head), user_id: head._user_id, project: head._project, first_prompt: prompt, ...totalsOf(head) };
      return { session, agents, calls: calls.map(readRecord) };
    },

    async users(filter) {
      return totalsRows(
        `SELECT user_id, min(started_at_us) AS _first_us, max(started_at_us) AS _last_us, coalesce(uniqExact(session_id), 0) AS _sessions, ${TOTALS}
         FROM ${table} ${where(filter, ["user_id IS NOT NULL"])} GROUP BY user_id ORDER BY sum(cost_nano) DESC NULLS LAST, user_id`,
        (row) => ({ user_id: row.user_id, ...span(row), sessions: row._sessions }),
      );
    },

    async projects(filter) {
      // As users: calls without a project are left out.
      return totalsRows(
        `SELECT project, min(started_at_us) AS _first_us, max(started_at_us) AS _last_us, coalesce(uniqExact(session_id), 0) AS _sessions, coalesce(uniqExact(user_id), 0) AS _users, ${TOTALS}
         FROM ${table} ${where(filter, ["project IS NOT NULL"])} GROUP BY project ORDER BY sum(cost_nano) DESC NULLS LAST, count() DESC, project`,
        (row) => ({ project: row.project, ...span(row), sessions: row._sessions, users: row._users }),
      );
    },

    async rateLimits(filter, bucket) {
      const whereSql = where({ from: filter.from, to: filter.to, provider: filter.provider }, ["ratelimit IS NOT NULL"]);
      const headers = (row: Row) => Object.fromEntries((row._names as string[]).map((name, i) => [name, (row._values as string[])[i]!]));
      const [points, latest] = await Promise.all([
        rows(rateLimitSql(table, whereSql, { bucketUs: BUCKET_US[bucket] })),
        rows(rateLimitSql(table, whereSql, {})),
      ]);
      return {
        points: points.map((row): RateLimitPoint => ({
          bucket: timestampText((row._bucket as number) * BUCKET_US[bucket]),
          provider: row.provider as string,
          organization: row._organization as string | null,
          key_id: row.key_id as string | null,
          last_at: timestamptzText(row._last_us as number),
          headers: headers(row),
        })),
        latest: latest.map((row): RateLimitLatest => ({
          provider: row.provider as string,
          organization: row._organization as string | null,
          key_ids: row._key_ids as string[],
          last_at: timestamptzText(row._last_us as number),
          headers: headers(row),
        })),
      };
    },

    async usageSummary(now) {
      const at = new Date(now);
      const day = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
      const week = new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * 86_400_000); // ISO weeks start on Monday
      const month = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
      const range = (from: Date) => where({ from: from.toISOString(), to: new Date(at.getTime() + 1).toISOString() } satisfies RequestFilter);
      const [today, thisWeek, thisMonth] = await Promise.all([totals(range(day)), totals(range(week)), totals(range(month))]);
      return { today, this_week: thisWeek, this_month: thisMonth };
    },
  };
}

/** A cursor's instant (DuckDB's text of it) → µs. */
function cursorInstant(value: string): number {
  const us = parseInstantMicros(value);
  if (us === undefined) throw new InvalidCursorError("cursor is not one this API issued");
  return us;
}

/** A cursor's sort value as a ClickHouse literal of the sort key's type (a double by its exact bits). */
function sortLiteral(sort: SortField, value: string): string {
  if (sort === "started_at") return String(cursorInstant(value));
  try {
    if (sort === "cost_usd") return String(nanoUsd(value));
  } catch {
    throw new InvalidCursorError("cursor is not one this API issued");
  }
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number)) throw new InvalidCursorError("cursor is not one this API issued");
  if (sort === "output_tokens") return String(Math.trunc(number));
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(number);
  return `reinterpretAsFloat64(unhex('${bytes.toString("hex")}'))`;
}

/** The sort value as DuckDB's `key::VARCHAR` renders it, for the cursor. */
function sortText(sort: SortField, value: number): string {
  if (sort === "started_at") return timestamptzText(value);
  if (sort === "cost_usd") return usdOfNano(value);
  if (sort === "duration_ms") return doubleText(value);
  return String(value);
}
