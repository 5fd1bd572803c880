import { journalFiles } from "./journal.ts";
import type { DuckDBStore } from "../sinks/duckdb/duckdb-store.ts";
import { unlinkSync } from "node:fs";

/**
 * Moves records left in a journal (by a crash, or a backlog at shutdown) into
 * the store, straight from the segment files. Records already stored are
 * skipped by id, so replaying twice is harmless, and a line cut short by a
 * crash is skipped; each file goes only after the store has its records.
 */
export async function replayJournal(dir: string, store: DuckDBStore): Promise<{ files: number; added: number }> {
  const files = journalFiles(dir);
  let added = 0;
  // A few segments per statement: a long backlog replays in bounded batches.
  for (let i = 0; i < files.length; i += 16) {
    const batch = files.slice(i, i + 16);
    added += await store.appendFiles(batch, { lenient: true, missingOnly: true });
    for (const file of batch) unlinkSync(file);
  }
  return { files: files.length, added };
}
