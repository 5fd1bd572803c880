import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REQUEST_COLUMNS } from "../../record.ts";
import type { AnalyticsStore } from "../analytics.ts";
import { createDuckDBAnalytics } from "./duckdb-analytics.ts";
import { exportParquet, type ParquetExportResult } from "./parquet-export.ts";
import { pruneOlderThan } from "./retention.ts";
import { assertSafeQuery, runLimited } from "./sql-guard.ts";
import { createViews, VIEW_NAMES } from "./views.ts";
import { loadDuckDB } from "./load-duckdb.ts";

export interface QueryResult {
  columns: string[];
  rows: unknown[][];
  /** More rows matched than were returned. */
  truncated?: boolean;
}

export interface QueryLimits {
  maxRows: number;
  timeoutMs: number;
}

const DEFAULT_LIMITS: QueryLimits = { maxRows: 100_000, timeoutMs: 30_000 };

/** The DuckDB side of the record store. One process holds the file (DuckDB's rule). */
export interface DuckDBStore {
  /** Appends records given as NDJSON (one `RequestRecord` per line) in one transaction. Throws on failure. */
  append(ndjson: string | Uint8Array): Promise<void>;
  /**
   * Appends the records of NDJSON files (record segments) in one transaction.
   * `missingOnly` skips ids already stored. Returns how many rows were added.
   */
  appendFiles(paths: string[], options?: { missingOnly?: boolean }): Promise<number>;
  /**
   * Runs one vetted read-only statement (SELECT, WITH, DESCRIBE, SHOW) over
   * `requests` and the views: no files, network, extensions or settings (sql-guard.ts).
   */
  queryReadOnly(sql: string, limits?: QueryLimits): Promise<QueryResult>;
  checkpoint(): Promise<void>;
  /** Writes the records as date-partitioned Parquet (`date=YYYY-MM-DD/`), from `since` (a UTC day) on. */
  exportParquet(dir: string, since?: string): Promise<ParquetExportResult>;
  /** Deletes records older than `days` days; returns how many. */
  prune(days: number): Promise<number>;
  /** The analytics API's questions, on a connection of their own (a long query never holds up appends). */
  analytics: AnalyticsStore;
  close(): Promise<void>;
}

const createTableSql = `CREATE TABLE IF NOT EXISTS requests (${REQUEST_COLUMNS.map(([name, type]) => `${name} ${type}`).join(", ")})`;

/** read_json's column spec: every column typed, so nothing is guessed from a batch. */
const jsonColumns = `{${REQUEST_COLUMNS.map(([name, type]) => `'${name}': '${type === "JSON" ? "VARCHAR" : type}'`).join(", ")}}`;

let batchCounter = 0;

/** Opens (and creates or migrates) the database file. */
export async function openDuckDBStore(path: string): Promise<DuckDBStore> {
  const duckdb = await loadDuckDB();
  // json, parquet and icu are built in; nothing may fetch or load another extension (user SQL included).
  const instance: DuckDBInstance = await duckdb.DuckDBInstance.create(path, {
    autoinstall_known_extensions: "false",
    autoload_known_extensions: "false",
  });
  const connection = await instance.connect();
  await connection.run(createTableSql);
  await addMissingColumns(connection);
  await createViews(connection);
  const readConnection = await instance.connect();
  // User SQL gets a connection of its own: its timeout interrupts only itself.
  const sqlConnection = await instance.connect();
  let sqlQueue: Promise<unknown> = Promise.resolve();
  // Timestamps render and bucket in UTC whatever the machine's zone.
  for (const c of [connection, readConnection, sqlConnection]) await c.run("SET TimeZone = 'UTC'");

  /**
   * Bulk-loads NDJSON with DuckDB's own JSON reader: a batch is one statement,
   * parsed in C++ (measured ~8 µs/row against ~15 for a per-value appender).
   */
  const readJson = (paths: string[]) =>
    `read_json([${paths.map((p) => `'${p.replaceAll("'", "''")}'`).join(", ")}], format = 'newline_delimited', columns = ${jsonColumns})`;
  const insertSql = (source: string, missingOnly: boolean) =>
    missingOnly
      ? `INSERT INTO requests SELECT * FROM (SELECT DISTINCT ON (id) * FROM ${source}) r WHERE r.id NOT IN (SELECT id FROM requests)`
      : `INSERT INTO requests SELECT * FROM ${source}`;

  async function insertFrom(ndjson: string | Uint8Array, missingOnly: boolean) {
    const file = join(tmpdir(), `loupe-batch-${process.pid}-${++batchCounter}.ndjson`);
    writeFileSync(file, ndjson);
    try {
      return await connection.run(insertSql(readJson([file]), missingOnly));
    } finally {
      rmSync(file, { force: true });
    }
  }

  return {
    async append(ndjson) {
      if (ndjson.length === 0) return;
      await insertFrom(ndjson, false);
    },
    async appendFiles(paths, { missingOnly = false } = {}) {
      if (paths.length === 0) return 0;
      return Number((await connection.run(insertSql(readJson(paths), missingOnly))).rowsChanged);
    },
    analytics: createDuckDBAnalytics(readConnection),
    queryReadOnly(sql, limits = DEFAULT_LIMITS) {
      // One at a time: an interrupt is per connection.
      const run = sqlQueue.then(async () => {
        await assertSafeQuery(sqlConnection, sql, { allowedTables: ["requests", ...VIEW_NAMES] });
        return runLimited(sqlConnection, sql, limits);
      });
      sqlQueue = run.catch(() => undefined);
      return run;
    },
    async checkpoint() {
      await connection.run("CHECKPOINT");
    },
    // On the read connection: a long export never holds up appends.
    exportParquet: (dir, since) => exportParquet(readConnection, since ? { dir, since: new Date(since) } : { dir }),
    prune: (days) => pruneOlderThan(connection, days),
    async close() {
      await sqlQueue;
      sqlConnection.closeSync();
      readConnection.closeSync();
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** The rule for records made before the recorder set \`billable\` (recorder.ts uses the same for their journal lines). */
const BACKFILL_BILLABLE = "UPDATE requests SET billable = (cost_source IS DISTINCT FROM 'free') WHERE billable IS NULL";

async function addMissingColumns(connection: DuckDBConnection): Promise<void> {
  const reader = await connection.runAndReadAll(
    `SELECT column_name FROM information_schema.columns WHERE table_name = 'requests' AND table_schema = 'main'`,
  );
  const existing = new Set(reader.getRowsJson().map((row) => String(row[0])));
  for (const [name, type] of REQUEST_COLUMNS) {
    if (!existing.has(name)) await connection.run(`ALTER TABLE requests ADD COLUMN ${name} ${type}`);
  }
  // Records stored before \`billable\` existed: a call that was not charged for lack of a billable endpoint was priced "free".
  if (!existing.has("billable")) await connection.run(BACKFILL_BILLABLE);
}
