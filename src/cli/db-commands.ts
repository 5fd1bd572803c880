import { openDuckDBStore, type DuckDBStore, type QueryResult } from "../sinks/duckdb/duckdb-store.ts";
import { replayJournal } from "../recording/replay.ts";
import { journalPath, readDiscovery } from "./discovery.ts";

/**
 * DuckDB lets one process hold a database file. A command that needs it asks
 * the serving gateway when one holds the file (its local admin endpoint, with
 * the key from the discovery file); otherwise it opens the file itself, after
 * replaying any journal a crashed gateway left, so no record is missing.
 */
async function onDatabase<T>(db: string, pricesFile: string | undefined, endpoint: string, body: unknown, direct: (store: DuckDBStore) => Promise<T>): Promise<T> {
  const server = readDiscovery(db);
  if (server) {
    const response = await fetch(`${server.url}${endpoint}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-loupe-local-key": server.key },
      body: JSON.stringify(body),
    });
    const answer = (await response.json()) as T & { error?: string };
    if (!response.ok) throw new Error(answer.error ?? `server answered ${response.status}`);
    return answer;
  }
  const store = await openDuckDBStore(db, { pricesFile, onProblem: (message) => console.error(`[loupe] ${message}`) });
  try {
    if (db !== ":memory:") await replayJournal(journalPath(db), store);
    return await direct(store);
  } finally {
    await store.close();
  }
}

/** `loupe sql`: one vetted read-only query. */
export function runSql(sql: string, db: string, pricesFile?: string): Promise<QueryResult> {
  return onDatabase(db, pricesFile, "/_loupe/sql", { sql }, (store) => store.queryReadOnly(sql));
}

/** `loupe export --parquet`: date-partitioned Parquet in `dir` (absolute). */
export function runExport(db: string, dir: string, since: string | undefined, pricesFile?: string): Promise<unknown> {
  return onDatabase(db, pricesFile, "/_loupe/export", { dir, since }, (store) => store.exportParquet(dir, since));
}
