import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REQUEST_COLUMNS, type RequestRecord } from "../../record.ts";
import { openDuckDBStore } from "../duckdb/duckdb-store.ts";
import { utcDayStart, type ParquetExportResult } from "../duckdb/parquet-export.ts";
import { usdOfNano } from "./clickhouse-rows.ts";
import type { ClickHouseStore } from "./clickhouse-store.ts";

/** Records per append to the staging file while they stream out of ClickHouse. */
const ROWS_PER_APPEND = 50_000;

/** The stored columns read back, each once (`FINAL` merges any duplicate a replay left). */
const SELECT = REQUEST_COLUMNS.map(([name]) => (name === "started_at" ? "started_at_us" : name === "cost_usd" ? "cost_nano" : name)).join(", ");

/** A row read back from ClickHouse as the record it was stored from. */
export function recordOfRow(row: Record<string, unknown>): RequestRecord {
  const record: Record<string, unknown> = {};
  for (const [name, type] of REQUEST_COLUMNS) {
    if (name === "started_at") record[name] = new Date(Number(row.started_at_us) / 1000).toISOString();
    else if (name === "cost_usd") record[name] = row.cost_nano === null || row.cost_nano === undefined ? null : usdOfNano(row.cost_nano as number);
    else if (type === "BOOLEAN") record[name] = row[name] === null || row[name] === undefined ? null : Number(row[name]) === 1;
    else if (type === "VARCHAR[]") record[name] = Array.isArray(row[name]) && row[name].length > 0 ? row[name] : null;
    else record[name] = row[name] ?? null;
  }
  return record as unknown as RequestRecord;
}

/**
 * `loupe export --parquet` when ClickHouse holds the log. Debian's ClickHouse
 * (18.16) cannot write Parquet, so the rows are read back (streamed, from
 * `since`'s UTC day on) into a staging DuckDB file and written by the same
 * exporter as DuckDB's records (parquet-export.ts): the same layout, types
 * and replace-per-day rule.
 */
export async function exportClickHouseParquet(store: ClickHouseStore, dir: string, since: string | undefined): Promise<ParquetExportResult> {
  const from = since ? utcDayStart(new Date(since)).getTime() * 1000 : undefined;
  if (from !== undefined && Number.isNaN(from)) throw new RangeError("since is not a valid date");
  const staging = join(tmpdir(), `loupe-export-${process.pid}-${Date.now()}.duckdb`);
  const duck = await openDuckDBStore(staging);
  try {
    let lines: string[] = [];
    const flush = async () => {
      if (lines.length === 0) return;
      await duck.append(`${lines.join("\n")}\n`);
      lines = [];
    };
    await store.eachBatch(`SELECT ${SELECT} FROM ${store.table} FINAL${from === undefined ? "" : ` WHERE started_at_us >= ${from}`}`, async (rows) => {
      for (const row of rows) lines.push(JSON.stringify(recordOfRow(row)));
      if (lines.length >= ROWS_PER_APPEND) await flush();
    });
    await flush();
    return await duck.exportParquet(dir, since);
  } finally {
    await duck.close();
    for (const suffix of ["", ".wal", ".loupe.json"]) rmSync(`${staging}${suffix}`, { force: true });
  }
}
