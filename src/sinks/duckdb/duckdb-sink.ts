import type { RecordSink } from "../sink.ts";
import type { DuckDBStore } from "./duckdb-store.ts";

/** Records into the DuckDB file: a batch of segments is one statement (DuckDB's own JSON reader). */
export function createDuckDBSink(store: Pick<DuckDBStore, "appendFiles">, options: { onStored?: (paths: readonly string[]) => void } = {}): RecordSink {
  return {
    name: "duckdb",
    async take(paths, { replay }) {
      // On replay, ids already stored are skipped: a record is stored once.
      await store.appendFiles([...paths], { missingOnly: replay });
      // New records (not a previous run's), once queryable: the live tail's feed.
      if (!replay) options.onStored?.(paths);
    },
  };
}
