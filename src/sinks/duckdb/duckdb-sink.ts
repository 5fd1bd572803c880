import { appendFileSync, readFileSync } from "node:fs";
import type { RecordSink } from "../sink.ts";
import type { DuckDBStore } from "./duckdb-store.ts";

export interface DuckDBSinkOptions {
  /** New records once queryable: the live tail's feed. */
  onStored?: (paths: readonly string[]) => void;
  /** Where records DuckDB refuses are kept (NDJSON, with the reason), instead of holding up every record after them. */
  rejectedFile?: string;
  /** Said when records were refused and kept aside: how many, and a line saying why and where. */
  onRejected?: (count: number, message: string) => void;
}

/**
 * DuckDB refusing what a record says (malformed JSON, a value its column
 * cannot hold) rather than failing to store: offered again, such a record
 * would be refused again, forever, and every record after it would wait.
 */
const refusesRecord = (error: unknown) => /^(Invalid Input|Conversion|Constraint) Error/.test(String((error as Error)?.message ?? error));

/** Records into the DuckDB file: a batch of segments is one statement (DuckDB's own JSON reader). */
export function createDuckDBSink(store: Pick<DuckDBStore, "appendFiles" | "append">, options: DuckDBSinkOptions = {}): RecordSink {
  /**
   * A batch DuckDB refused: stored again in halves until each record DuckDB
   * refuses is alone, and that one kept aside. Ids already stored are skipped
   * (an earlier half, or a retry after a crash), so a record is stored once.
   */
  async function storeAround(lines: string[], refused: { line: string; reason: string }[]): Promise<void> {
    try {
      await store.append(lines.join("\n"), { missingOnly: true });
    } catch (error) {
      if (!refusesRecord(error)) throw error;
      if (lines.length === 1) {
        refused.push({ line: lines[0]!, reason: String((error as Error).message).split("\n")[0]! });
        return;
      }
      const half = Math.ceil(lines.length / 2);
      await storeAround(lines.slice(0, half), refused);
      await storeAround(lines.slice(half), refused);
    }
  }

  return {
    name: "duckdb",
    async take(paths, { replay }) {
      try {
        // On replay, ids already stored are skipped: a record is stored once.
        await store.appendFiles([...paths], { missingOnly: replay });
      } catch (error) {
        if (!refusesRecord(error) || !options.rejectedFile) throw error;
        const refused: { line: string; reason: string }[] = [];
        for (const path of paths) await storeAround(readFileSync(path, "utf8").split("\n").filter(Boolean), refused);
        // Kept before the segments are acknowledged: a crash here stores them again, and keeps them aside again at worst.
        appendFileSync(options.rejectedFile, refused.map(({ line, reason }) => `${JSON.stringify({ reason, record: line })}\n`).join(""));
        options.onRejected?.(
          refused.length,
          `DuckDB refused ${refused.length} record(s) (${refused[0]?.reason ?? "?"}): kept in ${options.rejectedFile}; the records around them are stored`,
        );
      }
      if (!replay) options.onStored?.(paths);
    },
  };
}
