import { openDuckDBStore, type QueryResult } from "../store/duckdb-store.ts";
import { replayJournal } from "../store/replay-journal.ts";
import { journalPath, readDiscovery } from "./discovery.ts";

/**
 * Runs one read-only query against the database: through the serving
 * gateway when one holds the file, else by opening the file directly (after
 * replaying any journal a crashed gateway left, so no record is missing).
 */
export async function runSql(sql: string, db: string): Promise<QueryResult> {
  const server = readDiscovery(db);
  if (server) {
    const response = await fetch(`${server.url}/_loupe/sql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-loupe-local-key": server.key },
      body: JSON.stringify({ sql }),
    });
    const body = (await response.json()) as QueryResult & { error?: string };
    if (!response.ok) throw new Error(body.error ?? `server answered ${response.status}`);
    return body;
  }
  const store = await openDuckDBStore(db);
  try {
    if (db !== ":memory:") await replayJournal(journalPath(db), store);
    return await store.queryReadOnly(sql);
  } finally {
    await store.close();
  }
}

/** `loupe export --parquet`: through the serving gateway, else on the file directly. */
export async function runExport(db: string, dir: string, since: string | undefined): Promise<unknown> {
  const server = readDiscovery(db);
  if (server) {
    const response = await fetch(`${server.url}/_loupe/export`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-loupe-local-key": server.key },
      body: JSON.stringify({ dir, since }),
    });
    const body = (await response.json()) as { error?: string };
    if (!response.ok) throw new Error(body.error ?? `server answered ${response.status}`);
    return body;
  }
  const store = await openDuckDBStore(db);
  try {
    if (db !== ":memory:") await replayJournal(journalPath(db), store);
    return await store.exportParquet(dir, since);
  } finally {
    await store.close();
  }
}
