import { readFileSync } from "node:fs";
import type { RequestRecord } from "../../record.ts";
import type { RecordSink } from "../sink.ts";
import { toClickHouseRow } from "./clickhouse-rows.ts";
import type { ClickHouseRow, ClickHouseStore } from "./clickhouse-store.ts";

/** Rows per insert request: ClickHouse wants few, large inserts (each makes a part to merge). */
const ROWS_PER_INSERT = 100_000;

/**
 * Records into ClickHouse's `requests`, beside DuckDB and OTLP with a cursor
 * of its own (pipeline.ts): a batch of segments is one insert (the pipeline
 * hands over up to 64 segments, so a backlog goes in large batches), and
 * while ClickHouse is slow or down the segments wait on disk in the record
 * queue and the pipeline offers them again later.
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
      const rows: ClickHouseRow[] = [];
      for (const path of paths) {
        for (const line of readFileSync(path, "utf8").split("\n")) {
          if (line) rows.push(toClickHouseRow(JSON.parse(line) as RequestRecord));
        }
      }
      const missingOnly = replay || retrying;
      try {
        for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) inserted += await store.insert(rows.slice(i, i + ROWS_PER_INSERT), { missingOnly });
        retrying = false;
      } catch (error) {
        retrying = true;
        throw error;
      }
    },
  };
}
