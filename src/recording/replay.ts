import { existsSync } from "node:fs";
import { createDuckDBSink } from "../sinks/duckdb/duckdb-sink.ts";
import type { DuckDBStore } from "../sinks/duckdb/duckdb-store.ts";
import { openPipeline } from "./pipeline.ts";
import { journalPriceBook } from "./price-snapshot.ts";
import { journalProviders } from "./provider-snapshot.ts";

/**
 * For a command that opens the DuckDB file itself (no gateway holds it):
 * records what a stopped or crashed gateway left in its journal, with that
 * gateway's price book and declared providers, through the same recorder, into DuckDB. The other
 * sinks' backlog stays for the gateway's next start. Returns how many records
 * were made from journaled calls.
 */
export async function recordLeftovers(journalDir: string, store: Pick<DuckDBStore, "appendFiles" | "append">, onProblem: (message: string) => void): Promise<number> {
  if (!existsSync(journalDir)) return 0;
  const priceBook = journalPriceBook(journalDir);
  const providers = journalProviders(journalDir);
  const pipeline = openPipeline({ journalDir, sinks: [createDuckDBSink(store)], priceBook, providers, keepOtherSinks: true, onProblem });
  return pipeline.replay(priceBook, providers);
}
