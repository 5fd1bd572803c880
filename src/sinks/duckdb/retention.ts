/**
 * Retention: drop records older than N days (e.g. after exporting them to Parquet).
 */
import type { DuckDBConnection } from "@duckdb/node-api";

const DAY_MS = 86_400_000;

export interface PruneOptions {
  /**
   * CHECKPOINT after a delete that removed rows, so the freed blocks are reused by
   * the next writes instead of the file growing (default true). Best effort: a
   * checkpoint DuckDB cannot take right now is skipped (its automatic one follows).
   */
  checkpoint?: boolean;
}

/**
 * Deletes the records whose started_at is before `now − days × 24 h` and
 * returns how many. One DELETE statement: safe while appends continue (new
 * rows are never older than the cutoff; DuckDB's MVCC keeps both consistent).
 */
export async function pruneOlderThan(connection: DuckDBConnection, days: number, now: Date = new Date(), options: PruneOptions = {}): Promise<number> {
  if (!Number.isInteger(days) || days <= 0) throw new RangeError(`retention days must be a positive integer, got ${days}`);
  if (Number.isNaN(now.getTime())) throw new RangeError("now is not a valid date");
  const cutoff = new Date(now.getTime() - days * DAY_MS);
  if (Number.isNaN(cutoff.getTime())) throw new RangeError(`retention of ${days} days is out of range`);
  const result = await connection.run("DELETE FROM requests WHERE started_at < CAST($1 AS TIMESTAMPTZ)", [cutoff.toISOString()]);
  const deleted = Number(result.rowsChanged);
  if (deleted > 0 && options.checkpoint !== false) {
    try {
      await connection.run("CHECKPOINT");
    } catch {
      // e.g. another transaction is open: DuckDB's automatic checkpoint reclaims the space later.
    }
  }
  return deleted;
}
