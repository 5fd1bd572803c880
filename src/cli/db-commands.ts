import type { Config } from "../config.ts";
import { exportClickHouseParquet } from "../sinks/clickhouse/clickhouse-export.ts";
import { createClickHouseSql, createClickHouseSqlSource } from "../sinks/clickhouse/clickhouse-sql.ts";
import { openClickHouseStore, type ClickHouseStore } from "../sinks/clickhouse/clickhouse-store.ts";
import { openDuckDBStore, type DuckDBStore, type QueryResult } from "../sinks/duckdb/duckdb-store.ts";
import { recordLeftovers } from "../recording/replay.ts";
import { redactSecrets } from "../recording/redact-secrets.ts";
import { journalPath, readDiscovery } from "./discovery.ts";

/**
 * DuckDB lets one process hold a database file. A command that needs it asks
 * the serving gateway when one holds the file (its local admin endpoint, with
 * the key from the discovery file); otherwise it opens the file itself, after
 * replaying any journal a crashed gateway left, so no record is missing.
 */
async function onDatabase<T>(db: string, endpoint: string, body: unknown, direct: (store: DuckDBStore) => Promise<T>): Promise<T> {
  const server = readDiscovery(db);
  if (server) {
    const response = await fetch(`${server.url}${endpoint}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-loupe-local-key": server.key },
      body: JSON.stringify(body),
    });
    const answer = (await response.json()) as T & { error?: { message?: string } };
    if (!response.ok) throw new Error(answer.error?.message ?? `server answered ${response.status}`);
    return answer;
  }
  const store = await openDuckDBStore(db);
  try {
    // Calls a stopped gateway left in its journal are recorded with that gateway's prices (recording/price-snapshot.ts).
    if (db !== ":memory:") await recordLeftovers(journalPath(db), store, (message) => console.error(`[loupe] ${redactSecrets(message)}`));
    return await direct(store);
  } finally {
    await store.close();
  }
}

/** `loupe sql`: one vetted read-only query (over ClickHouse when it holds the log and no gateway serves the file). */
export async function runSql(sql: string, config: Pick<Config, "db" | "clickhouse">): Promise<QueryResult> {
  const { clickhouse } = config;
  if (clickhouse && !readDiscovery(config.db)) {
    const source = createClickHouseSqlSource(clickhouse);
    try {
      return await createClickHouseSql(source).queryReadOnly(sql);
    } finally {
      await source.close();
    }
  }
  return onDatabase(config.db, "/_loupe/sql", { sql }, (store) => store.queryReadOnly(sql));
}

/**
 * With LOUPE_CLICKHOUSE_URL set and no gateway serving the file, a command
 * reads ClickHouse itself: the log of every replica is there.
 */
async function onClickHouse<T>(settings: NonNullable<Config["clickhouse"]>, use: (store: ClickHouseStore) => Promise<T>): Promise<T> {
  const store = await openClickHouseStore(settings);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** `loupe export --parquet`: date-partitioned Parquet in `dir` (absolute). */
export function runExport(config: Pick<Config, "db" | "clickhouse">, dir: string, since: string | undefined): Promise<unknown> {
  const { clickhouse } = config;
  if (clickhouse && !readDiscovery(config.db)) return onClickHouse(clickhouse, (store) => exportClickHouseParquet(store, dir, since));
  return onDatabase(config.db, "/_loupe/export", { dir, since }, (store) => store.exportParquet(dir, since));
}
