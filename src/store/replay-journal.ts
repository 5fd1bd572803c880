import { readJournal, removeJournalFiles } from "./journal.ts";
import type { DuckDBStore } from "./duckdb-store.ts";

/**
 * Moves records left in a journal (by a crash) into the store. Records
 * already stored are skipped by id, so replaying twice is harmless; the
 * journal files go only after the store has everything.
 */
export async function replayJournal(dir: string, store: DuckDBStore): Promise<{ found: number; added: number }> {
  const { lines, files } = readJournal(dir);
  const added = lines.length > 0 ? await store.appendMissing(lines.join("\n")) : 0;
  removeJournalFiles(files);
  return { found: lines.length, added };
}
