import type { DuckDBConnection } from "@duckdb/node-api";
import { rmSync, writeFileSync } from "node:fs";
import type { AccessStore } from "../../keys/access-store.ts";
import { REQUEST_COLUMNS } from "../../record.ts";
import type { AnalyticsStore } from "../analytics.ts";
import type { QueryLimits, QueryResult } from "../sql-errors.ts";
import { createAccessTables, createDuckDBAccessStore } from "./access-tables.ts";
import { createDuckDBAnalytics } from "./duckdb-analytics.ts";
import type { ParquetExportResult } from "./parquet-export.ts";
import { pruneOlderThan } from "./retention.ts";
import { assertSafeQuery } from "./sql-guard.ts";
import { openSandboxedDatabase } from "./sql-sandbox.ts";
import { createViews, VIEW_NAMES } from "./views.ts";

export type { QueryLimits, QueryResult } from "../sql-errors.ts";

const DEFAULT_LIMITS: QueryLimits = { maxRows: 100_000, timeoutMs: 30_000 };

/** The DuckDB side of the record store. One process holds the file (DuckDB's rule). */
export interface DuckDBStore {
  /** Appends records given as NDJSON (one `RequestRecord` per line) in one transaction. Throws on failure. */
  /** `missingOnly`: records whose id is stored already are skipped. */
  append(ndjson: string | Uint8Array, options?: { missingOnly?: boolean }): Promise<void>;
  /**
   * Appends the records of NDJSON files (record segments) in one transaction.
   * `missingOnly` skips ids already stored. Returns how many rows were added.
   */
  appendFiles(paths: string[], options?: { missingOnly?: boolean }): Promise<number>;
  /** Appends the records of Parquet files as `exportParquet` writes them, skipping ids already stored. Returns how many rows were added. */
  appendParquet(paths: string[]): Promise<number>;
  /**
   * Runs one read-only statement (SELECT, WITH, DESCRIBE, SHOW) over `requests`
   * and the views: no files, network, extensions, settings or writes. DuckDB's
   * sandbox is the boundary (sql-sandbox.ts), the AST vetting (sql-guard.ts)
   * defence in depth; a refusal is an UnsafeQueryError, a query DuckDB
   * cannot run as written (unknown column, failed cast) an InvalidQueryError.
   */
  queryReadOnly(sql: string, limits?: QueryLimits): Promise<QueryResult>;
  checkpoint(): Promise<void>;
  /** Writes the records as date-partitioned Parquet (`date=YYYY-MM-DD/`), from `since` (a UTC day) on. */
  exportParquet(dir: string, since?: string): Promise<ParquetExportResult>;
  /** Deletes records older than `days` days; returns how many. */
  prune(days: number): Promise<number>;
  /** The analytics API's questions, on a connection of their own (a long query never holds up appends). */
  analytics: AnalyticsStore;
  /** Gateway keys, provider keys, limits and the admin audit (access-tables.ts), on a connection of their own. */
  access: AccessStore;
  close(): Promise<void>;
}

const createTableSql = `CREATE TABLE IF NOT EXISTS requests (${REQUEST_COLUMNS.map(([name, type]) => `${name} ${type}`).join(", ")})`;

/** read_json's column spec: every column typed, so nothing is guessed from a batch. */
const jsonColumns = `{${REQUEST_COLUMNS.map(([name, type]) => `'${name}': '${type === "JSON" ? "VARCHAR" : type}'`).join(", ")}}`;


/**
 * Opens (and creates or migrates) the database file. The instance is
 * sandboxed (sql-sandbox.ts) once set up: external access off but for one
 * private folder, configuration locked, for Loupe's own connections too. So
 * DuckDB reads files only from that folder (batches, copies of record
 * segments), exports go through a snapshot there, and no SET can run later.
 */
export async function openDuckDBStore(path: string, options: { readOnly?: boolean } = {}): Promise<DuckDBStore> {
  const sandbox = await openSandboxedDatabase(path, options);
  const { instance } = sandbox;
  const connection = await instance.connect();
  // Read-only (a file that cannot be written: duckdb-file.ts): as it is, tables and views included.
  // Otherwise one transaction, so one commit (a WAL write and sync) rather than one per statement: ~10 on a new file.
  if (!options.readOnly) {
    await connection.run("BEGIN TRANSACTION");
    try {
      await connection.run(createTableSql);
      await addMissingColumns(connection);
      await createViews(connection);
      await createAccessTables(connection);
      await connection.run("COMMIT");
    } catch (error) {
      await connection.run("ROLLBACK").catch(() => {});
      throw error;
    }
  }
  // Timestamps render and bucket in UTC whatever the machine's zone. GLOBAL:
  // each user query gets a connection of its own later, and after lock nothing
  // can SET it any more.
  await connection.run("SET GLOBAL TimeZone = 'UTC'");
  const readConnection = await instance.connect();
  // Its own connection: an access transaction never takes in a concurrent append.
  const accessConnection = await instance.connect();
  await sandbox.lock(connection);
  let sqlQueue: Promise<unknown> = Promise.resolve();

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
    // In the sandbox's private folder: the one place DuckDB may read from.
    const file = sandbox.newFilePath("-batch.ndjson");
    writeFileSync(file, ndjson);
    try {
      return await connection.run(insertSql(readJson([file]), missingOnly));
    } finally {
      rmSync(file, { force: true });
    }
  }

  return {
    async append(ndjson, { missingOnly = false } = {}) {
      if (ndjson.length === 0) return;
      await insertFrom(ndjson, missingOnly);
    },
    async appendFiles(paths, { missingOnly = false } = {}) {
      if (paths.length === 0) return 0;
      // Copies: the journal folder is not one DuckDB may read (sql-sandbox.ts).
      return sandbox.withCopies(paths, async (copies) => Number((await connection.run(insertSql(readJson(copies), missingOnly))).rowsChanged));
    },
    async appendParquet(paths) {
      if (paths.length === 0) return 0;
      const list = (copies: string[]) => `[${copies.map((p) => `'${p.replaceAll("'", "''")}'`).join(", ")}]`;
      return sandbox.withCopies(paths, async (copies) =>
        Number((await connection.run(`INSERT INTO requests BY NAME SELECT * FROM read_parquet(${list(copies)}) r WHERE r.id NOT IN (SELECT id FROM requests)`)).rowsChanged),
      );
    },
    analytics: createDuckDBAnalytics(readConnection),
    access: createDuckDBAccessStore(accessConnection),
    queryReadOnly(sql, limits = DEFAULT_LIMITS) {
      // One at a time: user SQL never takes more than one query's CPU and memory.
      const vet = (sqlConnection: DuckDBConnection) =>
        assertSafeQuery(sqlConnection, sql, { allowedTables: ["requests", ...VIEW_NAMES], namesKey: instance });
      const run = sqlQueue.then(() => sandbox.runUserQuery(sql, limits, vet));
      sqlQueue = run.catch(() => undefined);
      return run;
    },
    async checkpoint() {
      await connection.run("CHECKPOINT");
    },
    // On the read connection: a long export never holds up appends.
    exportParquet: (dir, since) => sandbox.exportParquet(readConnection, dir, since ? new Date(since) : undefined),
    prune: (days) => pruneOlderThan(connection, days),
    async close() {
      await sqlQueue;
      readConnection.closeSync();
      accessConnection.closeSync();
      connection.closeSync();
      instance.closeSync();
      sandbox.removePrivateDir();
    },
  };
}

/** The rule for records made before the recorder set `billable` (recorder.ts uses the same for their journal lines). */
const BACKFILL_BILLABLE = "UPDATE requests SET billable = (cost_source IS DISTINCT FROM 'free') WHERE billable IS NULL";

async function addMissingColumns(connection: DuckDBConnection): Promise<void> {
  // pragma_table_info, not information_schema.columns: that view took 40-230 ms here, this one ~1 ms (start-up: bench/startup.ts).
  const reader = await connection.runAndReadAll(`SELECT name FROM pragma_table_info('main.requests')`);
  const existing = new Set(reader.getRowsJson().map((row) => String(row[0])));
  for (const [name, type] of REQUEST_COLUMNS) {
    if (!existing.has(name)) await connection.run(`ALTER TABLE requests ADD COLUMN ${name} ${type}`);
  }
  // Records stored before `billable` existed: a call that was not charged for lack of a billable endpoint was priced "free".
  if (!existing.has("billable")) await connection.run(BACKFILL_BILLABLE);
}
