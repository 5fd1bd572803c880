import { readFileSync } from "node:fs";
import type { RequestRecord } from "../../record.ts";
import type { RecordSink } from "../sink.ts";
import { toClickHouseRow } from "./clickhouse-rows.ts";
import type { ClickHouseRow, ClickHouseStore } from "./clickhouse-store.ts";

/** Rows per insert request: ClickHouse wants few, large inserts (each makes a part to merge); a batch this size is ~15 MB of text. */
const ROWS_PER_INSERT = 50_000;

/**
 * Records into ClickHouse's `requests`, beside DuckDB and OTLP with a cursor
 * of its own (pipeline.ts): the segments of a take go in inserts of up to
 * ROWS_PER_INSERT rows, the next batch read and converted while the last one
 * is sent (memory stays at two batches), and while ClickHouse is slow or down
 * the segments wait on disk in the record queue and the pipeline offers them
 * again later.
 *
 * Exactly once: a batch that may already be stored — on replay after a crash,
 * or offered again after an insert that failed (it may have landed anyway) —
 * is inserted missing-ids-only.
 */
export function createClickHouseSink(store: Pick<ClickHouseStore, "insert">): RecordSink & { readonly inserted: () => number } {
  let retrying = false;
  let inserted = 0;
  return {
    name: "clickhouse",
    inserted: () => inserted,
    async take(paths, { replay }) {
      const missingOnly = replay || retrying;
      let sending: Promise<void> = Promise.resolve();
      const send = (rows: ClickHouseRow[]) => {
        const previous = sending;
        sending = previous.then(async () => {
          inserted += await store.insert(rows, { missingOnly });
        });
        // Surfaces a failure now rather than after converting the rest; a rejected `sending` is awaited below too.
        return previous;
      };
      try {
        let rows: ClickHouseRow[] = [];
        for (const path of paths) {
          for (const line of readFileSync(path, "utf8").split("\n")) {
            if (!line) continue;
            rows.push(toClickHouseRow(JSON.parse(line) as RequestRecord));
            if (rows.length >= ROWS_PER_INSERT) {
              await send(rows);
              rows = [];
            }
          }
        }
        if (rows.length > 0) await send(rows);
        await sending;
        retrying = false;
      } catch (error) {
        retrying = true;
        // Let an insert still in flight finish (or fail) before the segments can be offered again.
        await sending.catch(() => {});
        throw error;
      }
    },
  };
}
