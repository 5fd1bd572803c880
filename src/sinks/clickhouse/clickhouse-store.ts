import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from "@clickhouse/client";
import { urlWithoutCredentials } from "../../http/url-without-credentials.ts";
import { toTsvLine } from "./clickhouse-rows.ts";
import { columnDefinitions, createTableSql, INSERT_COLUMNS, quoteName } from "./clickhouse-schema.ts";

/** Where the shared log is: LOUPE_CLICKHOUSE_URL, _DATABASE, _USER, _PASSWORD. */
export interface ClickHouseOptions {
  url: string;
  database: string;
  user?: string | undefined;
  password?: string | undefined;
  /** The longest one request (an insert batch, a query) may take. Default 30 s. */
  requestTimeoutMs?: number | undefined;
}

/** A row to insert: the record's columns as `toClickHouseRow` makes them. */
export type ClickHouseRow = Record<string, unknown>;

/** The ClickHouse side of the record store (the sink writes, the analytics read). */
export interface ClickHouseStore {
  readonly database: string;
  /** The server's version, as `SELECT version()` answered when the store opened. */
  readonly version: string;
  /** `database.requests`, quoted: what queries name. */
  readonly table: string;
  /**
   * Inserts rows in one request. `missingOnly`: first asks which of their ids
   * are stored already (by their time range and ids) and inserts the others,
   * for a batch that may be in already. Returns how many rows were sent.
   */
  insert(rows: readonly ClickHouseRow[], options?: { missingOnly?: boolean }): Promise<number>;
  /** Runs a statement that returns nothing (DDL, ALTER … DELETE). */
  run(sql: string): Promise<void>;
  /** Runs a query and hands its rows over in batches as they stream in (an export: never all in memory). */
  eachBatch<T = Record<string, unknown>>(sql: string, handle: (rows: T[]) => Promise<void>): Promise<void>;
  /** Runs a query and returns its rows (JSONEachRow, 64-bit integers as numbers). */
  rows<T = Record<string, unknown>>(sql: string, options?: { signal?: AbortSignal; settings?: Record<string, string | number> }): Promise<T[]>;
  close(): Promise<void>;
}

/** Ids per existence check: well under ClickHouse's default max_query_size (256 KiB) for ids of up to ~40 characters. */
const IDS_PER_CHECK = 4_000;

/** The store could not open: the message says what to fix. */
export class ClickHouseUnavailableError extends Error {
  override name = "ClickHouseUnavailableError";
}

/** A ClickHouse string literal. */
export const literal = (value: string) => `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;

/**
 * Connects, checks the credentials with a real query (ClickHouse answers
 * /ping whatever they are), and creates or migrates the database and table.
 */
export async function openClickHouseStore(options: ClickHouseOptions): Promise<ClickHouseStore> {
  const client = createClient({
    url: options.url,
    username: options.user ?? "default",
    password: options.password ?? "",
    request_timeout: options.requestTimeoutMs ?? 30_000,
    // Settings a read-only user may not change are left alone; these are sent with each query that needs them.
    clickhouse_settings: {},
    application: "loupe",
    // Failures reach the pipeline, which reports each once (with its back-off), not per request.
    log: { level: ClickHouseLogLevel.OFF },
  });
  const where = `ClickHouse at ${redactUrl(options.url)} as user ${options.user ?? "default"}`;
  let version: string;
  try {
    version = String((await queryRows<{ v: string }>(client, "SELECT version() AS v"))[0]?.v);
  } catch (error) {
    await client.close().catch(() => {});
    throw new ClickHouseUnavailableError(`${where}: ${describe(error)}`);
  }
  const table = `${quoteName(options.database)}.requests`;
  try {
    await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteName(options.database)}` });
    await client.command({ query: createTableSql(options.database) });
    await addMissingColumns(client, options.database, table);
  } catch (error) {
    await client.close().catch(() => {});
    throw new ClickHouseUnavailableError(`${where}: could not create table ${options.database}.requests: ${describe(error)}`);
  }

  /** Which of these rows' ids the table has: by their time range (the table's order) and ids, a few thousand per query (ClickHouse caps a query at 256 KiB). */
  async function storedIds(rows: readonly ClickHouseRow[]): Promise<Set<string>> {
    const stored = new Set<string>();
    for (let i = 0; i < rows.length; i += IDS_PER_CHECK) {
      const part = rows.slice(i, i + IDS_PER_CHECK);
      let low = Infinity;
      let high = -Infinity;
      for (const row of part) {
        const at = row.started_at_us as number;
        if (at < low) low = at;
        if (at > high) high = at;
      }
      const ids = part.map((row) => literal(String(row.id))).join(",");
      const found = await queryRows<{ id: string }>(client, `SELECT id FROM ${table} WHERE started_at_us >= ${low} AND started_at_us <= ${high} AND id IN (${ids})`);
      for (const row of found) stored.add(row.id);
    }
    return stored;
  }

  return {
    database: options.database,
    version,
    table,
    async insert(rows, { missingOnly = false } = {}) {
      let values = rows;
      if (missingOnly && rows.length > 0) {
        const stored = await storedIds(rows);
        values = rows.filter((row) => !stored.has(String(row.id)));
      }
      if (values.length === 0) return 0;
      let body = `INSERT INTO ${table} (${INSERT_COLUMNS.join(", ")}) FORMAT TabSeparated\n`;
      for (const row of values) body += `${toTsvLine(row, INSERT_COLUMNS)}\n`;
      await client.command({ query: body });
      return values.length;
    },
    rows: (sql, queryOptions) => queryRows(client, sql, queryOptions),
    async run(sql) {
      await client.command({ query: sql });
    },
    async eachBatch<T>(sql: string, handle: (rows: T[]) => Promise<void>) {
      const result = await client.query({ query: sql, format: "JSONEachRow", clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
      for await (const rows of result.stream<T>()) await handle(rows.map((row) => row.json<T>()));
    },
    close: () => client.close(),
  };
}

async function queryRows<T>(client: ClickHouseClient, sql: string, options: { signal?: AbortSignal; settings?: Record<string, string | number> } = {}): Promise<T[]> {
  const result = await client.query({
    query: sql,
    format: "JSONEachRow",
    ...(options.signal ? { abort_signal: options.signal } : {}),
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0, ...options.settings } as ClickHouseSettings,
  });
  return result.json<T>();
}

async function addMissingColumns(client: ClickHouseClient, database: string, table: string): Promise<void> {
  const existing = new Set(
    (await queryRows<{ name: string }>(client, `SELECT name FROM system.columns WHERE database = ${literal(database)} AND table = 'requests'`)).map((row) => row.name),
  );
  for (const [name, type] of columnDefinitions()) {
    if (!existing.has(name)) await client.command({ query: `ALTER TABLE ${table} ADD COLUMN ${name} ${type}` });
  }
}

/** The URL as a log line may show it (urlWithoutCredentials), without the trailing slash: `ClickHouse at http://host:8123`. */
export const redactUrl = (url: string) => urlWithoutCredentials(url).replace(/\/$/, "");

/** ClickHouse's own message, first line, without its stack or the `e.what()` tail; or the network error's. */
function describe(error: unknown): string {
  const e = error as { message?: string; code?: string; cause?: { code?: string; message?: string } };
  const message = (e?.message ?? String(error)).split("\n")[0]!.replace(/,? e\.what\(\) = .*$/, "").trim();
  const code = e?.code ?? e?.cause?.code;
  if (code === "ECONNREFUSED") return `connection refused (is ClickHouse running there?)`;
  if (code === "ENOTFOUND") return `host not found`;
  return message || String(code ?? "unknown error");
}
