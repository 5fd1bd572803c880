// `loupe export --parquet DIR`: the records as date-partitioned Parquet
// (Hive layout), readable by DuckDB, ClickHouse, Spark, pandas/pyarrow, Polars:
//
//   DIR/date=2026-01-31/requests-0.parquet
//
// Read back with `read_parquet('DIR/**/*.parquet', hive_partitioning = true)` (DuckDB),
// `pd.read_parquet('DIR')`, `spark.read.parquet('DIR')`, ClickHouse `file('DIR/**/*.parquet', Parquet)`.
//
// - Partition = UTC date of started_at. The `date` column is in the path, not in the files.
// - Types: started_at TIMESTAMP (UTC-adjusted, µs), cost_usd DECIMAL(38,9), tags LIST<STRING>,
//   usage_raw plain STRING (JSON text: the Parquet JSON annotation is not understood everywhere),
//   token columns INT64; zstd compression.
// - Re-running is safe: every partition written replaces that partition's previous
//   `requests-*.parquet` files; partitions not written are left alone. `since` is rounded
//   down to UTC midnight, so a written partition always holds its whole day, and
//   exporting since X never truncates or deletes older days (e.g. ones retention has
//   already pruned from the database). DuckDB's own OVERWRITE option is not used: it
//   empties the whole target folder, older days included.
// - Consistent while the gateway writes: one COPY statement reads one snapshot.
//   Files are written under hidden `.loupe-<run>-N.parquet.tmp` names (no `*.parquet`
//   glob matches them; Spark and pyarrow skip dot files) and then renamed over the old
//   ones, so readers see whole files only. A crash leaves at most such temp files,
//   removed by a later export once an hour old.

import type { DuckDBConnection } from "@duckdb/node-api";
import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { REQUEST_COLUMNS } from "../../record.ts";

export interface ParquetExportOptions {
  /** Target folder (created if missing). */
  dir: string;
  /** Export only the UTC days from this instant's day on (rounded down to 00:00 UTC). */
  since?: Date;
}

export interface ParquetExportResult {
  /** Parquet files written. */
  files: number;
  /** Records written. */
  rows: number;
  /** Absolute target folder. */
  dir: string;
}

const PARTITION = /^date=\d{4}-\d{2}-\d{2}$/;
const FINAL = /^requests-(\d+)\.parquet$/;
const TEMP = /^\.loupe-([0-9a-f]+)-(\d+)\.parquet\.tmp$/;
/** Temp files of another run are removed once this old (a concurrent export may still be using younger ones). */
const STALE_TEMP_MS = 60 * 60 * 1000;

const sqlString = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** Every column of `requests`, in order, with JSON as plain text. */
const SELECT_COLUMNS = REQUEST_COLUMNS.map(([name, type]) => (type === "JSON" ? `CAST(${name} AS VARCHAR) AS ${name}` : name)).join(", ");

/** 00:00 UTC of the day containing `at`. */
export function utcDayStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
}

/** Writes the records as date-partitioned Parquet under `options.dir`; see the file comment. */
export async function exportParquet(connection: DuckDBConnection, options: { dir: string; since?: Date }): Promise<ParquetExportResult> {
  const dir = resolve(options.dir);
  if (options.since !== undefined && Number.isNaN(options.since.getTime())) throw new RangeError("since is not a valid date");
  mkdirSync(dir, { recursive: true });

  const run = randomUUID().replaceAll("-", "").slice(0, 16);
  const conditions = ["started_at IS NOT NULL"];
  // An ISO string made by Date itself: safe to inline (COPY takes no parameters).
  if (options.since) conditions.push(`started_at >= CAST(${sqlString(utcDayStart(options.since).toISOString())} AS TIMESTAMPTZ)`);
  const sql = `COPY (
      SELECT ${SELECT_COLUMNS}, CAST(timezone('UTC', started_at) AS DATE) AS date
      FROM requests WHERE ${conditions.join(" AND ")}
    ) TO ${sqlString(dir)} (
      FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date), OVERWRITE_OR_IGNORE,
      FILENAME_PATTERN ${sqlString(`.loupe-${run}-{i}`)}, FILE_EXTENSION 'parquet.tmp'
    )`;

  let rows: number;
  try {
    rows = Number((await connection.run(sql)).rowsChanged);
  } catch (error) {
    removeTemps(dir, (tempRun) => tempRun === run);
    throw error;
  }

  let files = 0;
  for (const partition of partitions(dir)) {
    const path = join(dir, partition);
    const entries = readdirSync(path);
    const mine = entries.filter((name) => TEMP.exec(name)?.[1] === run);
    if (mine.length === 0) continue; // a day this run did not write: untouched
    const written = new Set<string>();
    for (const name of mine) {
      const final = `requests-${TEMP.exec(name)![2]}.parquet`;
      renameSync(join(path, name), join(path, final)); // atomic replacement of a same-named old file
      written.add(final);
      files++;
    }
    for (const name of entries) {
      if (FINAL.test(name) && !written.has(name)) rmSync(join(path, name), { force: true });
    }
  }
  removeTemps(dir, (tempRun, path) => tempRun !== run && isStale(path));
  return { files, rows, dir };
}

function partitions(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && PARTITION.test(entry.name))
    .map((entry) => entry.name);
}

function removeTemps(dir: string, remove: (run: string, path: string) => boolean): void {
  for (const partition of partitions(dir)) {
    for (const name of readdirSync(join(dir, partition))) {
      const match = TEMP.exec(name);
      const path = join(dir, partition, name);
      if (match && remove(match[1]!, path)) rmSync(path, { force: true });
    }
  }
}

function isStale(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > STALE_TEMP_MS;
  } catch {
    return false;
  }
}
