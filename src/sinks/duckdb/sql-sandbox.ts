// DuckDB's own sandbox: the primary boundary around user SQL (`loupe sql`,
// `POST /api/sql`, `POST /_loupe/sql`). The AST vetting of sql-guard.ts runs
// first, as defence in depth.
//
// What DuckDB 1.5 (as bundled in @duckdb/node-api 1.5.6) allows, measured:
// - enable_external_access, allowed_directories, allowed_paths,
//   lock_configuration, disabled_filesystems, autoload/autoinstall_known_extensions,
//   allow_community_extensions and TimeZone are GLOBAL settings
//   (duckdb_settings().scope): `SET SESSION enable_external_access = false` is
//   refused ("can only be set globally"), and a plain SET on one connection
//   disables external access for every connection of the instance. There is
//   no per-connection sandbox.
// - Once external access is off it cannot be turned back on ("Cannot enable
//   external access while database is running"), and allowed_directories /
//   allowed_paths can no longer change ("Cannot change allowed_directories when
//   enable_external_access is disabled"). allowed_directories cannot be passed
//   as creation config (node-api's set_config fails for the list), so it is SET
//   first. Symlinks inside an allowed folder that lead out of it are refused.
// - DuckDB always allows its own files: the database file, its WAL and its temp
//   folder (`<db>.tmp`, added to allowed_directories by itself). So
//   `COPY … TO '<the database file>' (USE_TMP_FILE false)` overwrote a live
//   database file on a locked instance, in a read-only transaction: what
//   refuses it is DuckDB's statement type, checked before anything runs
//   (runLimited), and the AST vetting.
// - A second DuckDBInstance on the same file in the same process opens without
//   error (POSIX locks do not conflict within one process; even read-write, a
//   second writer), also with access_mode READ_ONLY or as `ATTACH … (READ_ONLY)` from an in-memory
//   instance, but it reads its own snapshot of the file: rows written since by
//   the owning instance are not seen, and checkpoints of the owner rewrite
//   blocks under it. ATTACHing the file a second time into the same instance is
//   refused ("Unique file handle conflict"). So user SQL cannot get an instance
//   of its own that sees live records.
// - `BEGIN TRANSACTION READ ONLY` exists (measured; the docs' "Transaction
//   Management" page does not list it): in it, any write to an attached
//   database fails ("transaction is launched in read-only mode"): INSERT,
//   UPDATE, DELETE, CREATE, DROP, ALTER, nextval. It does not stop COPY … TO,
//   temporary objects, ATTACH ':memory:' or SET VARIABLE (all undone or gone
//   with the rollback and the connection), nor CHECKPOINT or VACUUM.
// - lock_configuration refuses SET, RESET and PRAGMA settings on every
//   connection, but not the functions enable_logging / enable_profiling, which
//   change the logger (global) and the profiler (per connection) anyway. A
//   file logger aimed outside the allowed folders makes every later statement
//   of the instance fail, Loupe's own included: only the AST vetting
//   (sql-guard.ts) refuses those functions.
// - Replacement scans (`FROM 'file.csv'`) are not even tried with external
//   access off ("Table with name … does not exist").
//
// The arrangement, therefore: the one instance that owns the file runs with
// external access off, its configuration locked, and exactly one allowed
// folder of Loupe's own (`privateDir`, 0700, removed on close). Loupe's own
// file access goes through that folder: record batches and copies of journal
// segments are read from it, and a Parquet export first writes a snapshot there
// that an unsandboxed in-memory instance, which never sees user SQL nor the
// database file, turns into the export. Each user statement runs on a fresh
// connection (per-connection state never outlives it), in a read-only
// transaction that is always rolled back, and only if DuckDB prepares it as a
// SELECT (runLimited). See
// https://duckdb.org/docs/stable/operations_manual/securing_duckdb/overview
// and https://duckdb.org/docs/stable/configuration/overview (settings).

import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { copyFileSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { loadDuckDB } from "./load-duckdb.ts";
import { exportParquet, utcDayStart, type ParquetExportResult } from "./parquet-export.ts";
import { InvalidQueryError, runLimited, UnsafeQueryError, type LimitedResult } from "./sql-guard.ts";

export interface UserQueryLimits {
  maxRows: number;
  timeoutMs: number;
}

export interface SandboxedDatabase {
  /** The instance owning the database file. Sandboxed once `lock` has run. */
  readonly instance: DuckDBInstance;
  /** The only folder (besides DuckDB's own files) DuckDB may read or write once locked. */
  readonly privateDir: string;
  /**
   * Turns external access off (only privateDir stays reachable) and locks the
   * configuration, for every connection of the instance, now and later. Run it
   * once, after Loupe's own setup (schema, views, global settings).
   */
  lock(connection: DuckDBConnection): Promise<void>;
  /** A fresh path in privateDir for a file DuckDB is to read. */
  newFilePath(suffix: string): string;
  /**
   * Runs `read(copies)` with copies of `paths` in privateDir (removed after);
   * an error's message names the original files.
   */
  withCopies<T>(paths: readonly string[], read: (copies: string[]) => Promise<T>): Promise<T>;
  /** exportParquet (parquet-export.ts) from a snapshot, into any folder; see exportFromSnapshot. */
  exportParquet(connection: DuckDBConnection, dir: string, since?: Date): Promise<ParquetExportResult>;
  /**
   * Runs one user statement in the sandbox (runUserQuery). `vet` runs first, on
   * the same connection and transaction (the AST vetting); without it only
   * DuckDB's sandbox stands between the statement and the data.
   */
  runUserQuery(sql: string, limits: UserQueryLimits, vet?: (connection: DuckDBConnection) => Promise<void>): Promise<LimitedResult>;
  /** Removes privateDir. Close the instance first. */
  removePrivateDir(): void;
}

/**
 * Opens (or creates) the database file on an instance that nothing can make
 * fetch or load an extension (json, parquet and icu are built in), with a
 * private folder for Loupe's own file access. Call `lock` before any user SQL.
 */
export async function openSandboxedDatabase(path: string, options: { readOnly?: boolean } = {}): Promise<SandboxedDatabase> {
  const duckdb = await loadDuckDB();
  // realpath: DuckDB compares canonical paths, and tmpdir() may be a symlink.
  const privateDir = realpathSync(mkdtempSync(join(tmpdir(), "loupe-duckdb-")));
  let instance: DuckDBInstance;
  try {
    instance = await duckdb.DuckDBInstance.create(path, {
      ...(options.readOnly ? { access_mode: "READ_ONLY" } : {}),
      autoinstall_known_extensions: "false",
      autoload_known_extensions: "false",
      allow_community_extensions: "false",
      // Memory DuckDB's allocator frees goes back to the system once 8 MB are
      // free (the default keeps up to 128 MB), from a background thread: after
      // storing a burst's records the gateway's RSS falls back instead of
      // staying ~100 MB up (bench/memory.ts).
      allocator_flush_threshold: "8MB",
      allocator_background_threads: "true",
      // An in-memory database's temp folder would be `.tmp` in the working
      // directory, and DuckDB keeps its temp folder reachable: keep it private.
      ...(path === ":memory:" || path === "" ? { temp_directory: join(privateDir, "spill") } : {}),
    });
  } catch (error) {
    rmSync(privateDir, { recursive: true, force: true });
    throw error;
  }
  let files = 0;
  const newFilePath = (suffix: string) => join(privateDir, `${++files}${suffix}`);
  return {
    instance,
    privateDir,
    lock: (connection) => lockDown(connection, privateDir),
    newFilePath,
    withCopies: (paths, read) => withCopies(paths, newFilePath, read),
    exportParquet: (connection, dir, since) => exportFromSnapshot(connection, newFilePath(".parquet"), dir, since),
    runUserQuery: (sql, limits, vet) => runUserQuery(instance, sql, limits, vet),
    removePrivateDir: () => rmSync(privateDir, { recursive: true, force: true }),
  };
}

const sqlString = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * The settings, in the order DuckDB requires: allowed_directories can only be
 * set while external access is on; lock_configuration last, since afterwards
 * nothing (SET, RESET, PRAGMA) can change any setting. DuckDB docs: "Securing
 * DuckDB" (enable_external_access, allowed_directories, lock_configuration).
 */
async function lockDown(connection: DuckDBConnection, privateDir: string): Promise<void> {
  await connection.run(`SET allowed_directories = [${sqlString(privateDir)}]`);
  await connection.run("SET enable_external_access = false");
  await connection.run("SET lock_configuration = true");
}

async function withCopies<T>(paths: readonly string[], newFilePath: (suffix: string) => string, read: (copies: string[]) => Promise<T>): Promise<T> {
  const copies: string[] = [];
  try {
    for (const path of paths) {
      const copy = newFilePath(`-${basename(path)}`);
      copyFileSync(path, copy);
      copies.push(copy);
    }
    return await read(copies);
  } catch (error) {
    throw namingOriginals(error, copies, paths);
  } finally {
    for (const copy of copies) rmSync(copy, { force: true });
  }
}

/** DuckDB names the file it could not read: the copy. Name the original instead. */
function namingOriginals(error: unknown, copies: readonly string[], originals: readonly string[]): unknown {
  if (!(error instanceof Error)) return error;
  let message = error.message;
  copies.forEach((copy, i) => (message = message.replaceAll(copy, originals[i]!)));
  if (message !== error.message) error.message = message;
  return error;
}

/**
 * The sandboxed instance cannot write to a folder chosen after it was locked,
 * so: one COPY writes a snapshot of the rows to export (from `since`'s UTC day
 * on, as exportParquet rounds it) into privateDir, then a throwaway in-memory
 * instance with file access, which holds nothing but that snapshot, runs the
 * unchanged exportParquet over it into `dir` (partitions, atomic renames and
 * all). Costs one more write and read of the exported rows.
 */
async function exportFromSnapshot(connection: DuckDBConnection, snapshot: string, dir: string, since?: Date): Promise<ParquetExportResult> {
  if (since !== undefined && Number.isNaN(since.getTime())) throw new RangeError("since is not a valid date");
  const where = since ? `WHERE started_at >= CAST(${sqlString(utcDayStart(since).toISOString())} AS TIMESTAMPTZ)` : "";
  const duckdb = await loadDuckDB();
  try {
    // One statement reads one snapshot, as exportParquet's own COPY did.
    await connection.run(`COPY (SELECT * FROM requests ${where}) TO ${sqlString(snapshot)} (FORMAT parquet, COMPRESSION zstd)`);
    const helper = await duckdb.DuckDBInstance.create(":memory:", {
      autoinstall_known_extensions: "false",
      autoload_known_extensions: "false",
      temp_directory: `${snapshot}.tmp`,
    });
    const helperConnection = await helper.connect();
    try {
      await helperConnection.run("SET TimeZone = 'UTC'"); // as on the database's instance
      await helperConnection.run(`CREATE VIEW requests AS SELECT * FROM read_parquet(${sqlString(snapshot)})`);
      return await exportParquet(helperConnection, since ? { dir, since } : { dir });
    } finally {
      helperConnection.closeSync();
      helper.closeSync();
    }
  } finally {
    rmSync(snapshot, { force: true });
    rmSync(`${snapshot}.tmp`, { recursive: true, force: true });
  }
}

/**
 * One user statement: on a fresh connection (nothing it sets, creates or
 * breaks on its connection outlives it: session variables, temporary objects,
 * macros, profiling), in `BEGIN TRANSACTION READ ONLY` (DuckDB refuses every
 * write to the records), always rolled back, through runLimited (row limit,
 * timeout by interrupt, SELECT only by DuckDB's own statement type). DuckDB's
 * refusals reach the caller as UnsafeQueryError, its errors about the query
 * itself (binder, conversion …) as InvalidQueryError.
 */
async function runUserQuery(
  instance: DuckDBInstance,
  sql: string,
  limits: UserQueryLimits,
  vet?: (connection: DuckDBConnection) => Promise<void>,
): Promise<LimitedResult> {
  const connection = await instance.connect();
  try {
    await connection.run("BEGIN TRANSACTION READ ONLY");
    if (vet) await vet(connection);
    return await runLimited(connection, sql, limits);
  } catch (error) {
    throw asCallerError(error);
  } finally {
    await rollBack(connection);
    connection.closeSync();
  }
}

async function rollBack(connection: DuckDBConnection): Promise<void> {
  try {
    await connection.run("ROLLBACK");
  } catch {
    // No transaction left (the statement ended it): closing discards the rest.
  }
}

/** How DuckDB words a refusal of its sandbox (external access, read-only transaction, locked configuration). */
const SANDBOX_REFUSALS = [/^Permission Error: /, /transaction is launched in read-only mode/, /the configuration has been locked/];

/**
 * DuckDB's errors about the query as written, by the type that starts their
 * message (ExceptionTypeToString, src/common/exception.cpp): the caller's
 * mistake (400), not the gateway's failure (500). Others (IO, out of memory,
 * internal) stay as they are.
 */
const QUERY_ERRORS = /^(Parser|Syntax|Binder|Catalog|Conversion|Invalid Input|Out of Range|Mismatch Type|Invalid type|Unknown Type|Decimal|Divide by Zero|Not implemented|Parameter Not Resolved|Parameter Not Allowed) Error: /;

function asCallerError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof UnsafeQueryError) return error;
  const message = error.message;
  if (SANDBOX_REFUSALS.some((pattern) => pattern.test(message))) return new UnsafeQueryError(`refused by DuckDB's sandbox: ${message.split("\n")[0]}`);
  if (QUERY_ERRORS.test(message)) return new InvalidQueryError(message, { cause: error });
  return error;
}
