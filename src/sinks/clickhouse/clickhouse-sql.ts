import { ClickHouseLogLevel, createClient, type ClickHouseSettings } from "@clickhouse/client";
import { QueryTimeoutError, UnsafeQueryError, type QueryLimits, type QueryResult } from "../sql-errors.ts";
import { vetClickHouseQuery } from "./clickhouse-sql-guard.ts";
import { quoteName } from "./clickhouse-schema.ts";
import type { ClickHouseOptions } from "./clickhouse-store.ts";
import { clickHouseViews } from "./clickhouse-views.ts";

/** ClickHouse's JSONCompact answer: the columns, then each row as an array. */
export interface CompactResult {
  meta: { name: string; type: string }[];
  data: unknown[][];
}

/** Where people's SQL runs: the log's table, and a way to run a query with settings. */
export interface ClickHouseSqlSource {
  /** The log's table, as queries name it: `` `loupe`.requests ``. */
  readonly table: string;
  /**
   * Runs a query with `settings`, sent in the given order (ClickHouse applies
   * them one by one, and `readonly`, last, forbids changing any after it),
   * and returns its JSONCompact answer. `signal` aborts it. A refusal from
   * ClickHouse is an error whose `code` or message (`Code: 62, …`) carries
   * ClickHouse's error code.
   */
  compact(sql: string, options: { settings: Record<string, string | number>; signal: AbortSignal }): Promise<CompactResult>;
}

const DEFAULT_LIMITS: QueryLimits = { maxRows: 100_000, timeoutMs: 30_000 };
/** How long past the server's own limit the request is given before it is dropped (the server's error says more). */
const ABORT_GRACE_MS = 2_000;
/** ClickHouse's TIMEOUT_EXCEEDED. */
const TIMEOUT_EXCEEDED = "159";

/**
 * Read-only SQL over the log in ClickHouse (`/api/sql`, `loupe sql`), as
 * DuckDB's `queryReadOnly` answers it: the columns, the rows as arrays (64-bit
 * integers as strings, as DuckDB gives BIGINTs; Decimals as JSON numbers), and
 * `truncated` when more than `maxRows` rows matched. The query is vetted and
 * rewritten first (clickhouse-sql-guard.ts: `requests` and the views of
 * clickhouse-views.ts only), then runs
 *
 * - inside `SELECT * FROM (…) LIMIT maxRows + 1`, so no more rows than that
 *   leave the server (not `max_result_rows`: ClickHouse applies it to
 *   subqueries too, and `break` would cut an IN list short without a word);
 * - with `max_execution_time` (whole seconds, rounded up) and `readonly=1`,
 *   sent last: the query cannot write, SET, or call a table function. The
 *   user must be allowed to change settings (a readonly=0 profile, as the
 *   sink's inserts need anyway): ClickHouse refuses settings from a
 *   readonly=1 user.
 *
 * One query at a time, as DuckDB runs them. A refusal or an error in the query
 * is an UnsafeQueryError (400) with ClickHouse's message; a query past its time
 * a QueryTimeoutError (408); anything else (the server unreachable) is thrown
 * as it came.
 */
export function createClickHouseSql(source: ClickHouseSqlSource): { queryReadOnly(sql: string, limits?: QueryLimits): Promise<QueryResult> } {
  const rewrite = { table: source.table, views: clickHouseViews(source.table) };
  let queue: Promise<unknown> = Promise.resolve();

  async function run(sql: string, limits: QueryLimits): Promise<QueryResult> {
    const maxRows = Math.max(0, Math.floor(limits.maxRows));
    const vetted = vetClickHouseQuery(sql, rewrite);
    const settings = { max_execution_time: Math.max(1, Math.ceil(limits.timeoutMs / 1000)), timeout_overflow_mode: "throw", readonly: 1 };
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), limits.timeoutMs + ABORT_GRACE_MS);
    try {
      const result = await source.compact(`SELECT * FROM (\n${vetted}\n) LIMIT ${maxRows + 1}`, { settings, signal: abort.signal });
      const rows = result.data;
      const truncated = rows.length > maxRows;
      return { columns: result.meta.map((column) => column.name), rows: truncated ? rows.slice(0, maxRows) : rows, truncated };
    } catch (error) {
      if (abort.signal.aborted) throw new QueryTimeoutError(limits.timeoutMs);
      const code = errorCode(error);
      if (code === TIMEOUT_EXCEEDED) throw new QueryTimeoutError(limits.timeoutMs);
      if (code !== undefined) throw new UnsafeQueryError(`ClickHouse did not run the query: ${serverMessage(error)}`);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    queryReadOnly(sql, limits = DEFAULT_LIMITS) {
      const next = queue.then(() => run(sql, limits));
      queue = next.catch(() => undefined);
      return next;
    },
  };
}

/** ClickHouse's error code of a refusal (the client's `code`, or `Code: N` in the message as 18.16 words it); undefined for other failures. */
function errorCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e?.code === "string" && /^\d+$/.test(e.code)) return e.code;
  return /^Code: (\d+)/.exec(String(e?.message ?? ""))?.[1];
}

/** ClickHouse's message: its first line, without the `Code: N, e.displayText() = DB::Exception:` frame or the `e.what()` tail. */
function serverMessage(error: unknown): string {
  const message = String((error as { message?: unknown })?.message ?? error).split("\n")[0]!;
  return message
    .replace(/^Code: \d+(, e\.displayText\(\) =|\.) DB::Exception: /, "")
    .replace(/,? e\.what\(\) = .*$/, "")
    .trim();
}

/**
 * A ClickHouseSqlSource on a client of its own (people's queries never wait
 * behind the sink's inserts for a connection), with `options` as the store's.
 */
export function createClickHouseSqlSource(options: ClickHouseOptions): ClickHouseSqlSource & { close(): Promise<void> } {
  const client = createClient({
    url: options.url,
    username: options.user ?? "default",
    password: options.password ?? "",
    request_timeout: options.requestTimeoutMs ?? 300_000,
    application: "loupe-sql",
    log: { level: ClickHouseLogLevel.OFF },
  });
  return {
    table: `${quoteName(options.database)}.requests`,
    async compact(sql, { settings, signal }) {
      const result = await client.query({ query: sql, format: "JSONCompact", clickhouse_settings: settings as ClickHouseSettings, abort_signal: signal });
      return (await result.json()) as unknown as CompactResult;
    },
    close: () => client.close(),
  };
}
