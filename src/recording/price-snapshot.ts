import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { loadPriceBook } from "../pricing/load-prices.ts";
import type { PriceBook } from "../pricing/price-book.ts";

/**
 * The price book a journal's calls are priced with travels with the journal:
 * the gateway copies its operator price file (`LOUPE_PRICES_FILE`) into the
 * journal folder when it starts. Whoever records what a crash left behind —
 * the next start, or `loupe sql` on the file — prices those calls with the
 * book the gateway that took them used, not with whatever the shell has.
 */
const SNAPSHOT = "price-overrides.json";

/** The book the calls in `journalDir` were taken under: the bundled data, plus the overrides snapshot if the gateway had one. */
export function journalPriceBook(journalDir: string): PriceBook {
  const snapshot = join(journalDir, SNAPSHOT);
  return loadPriceBook(existsSync(snapshot) ? snapshot : undefined);
}

/** Records the gateway's overrides file (or that it has none) as the book of the calls journaled from now on. */
export function snapshotPrices(journalDir: string, pricesFile: string | undefined): void {
  mkdirSync(journalDir, { recursive: true });
  const snapshot = join(journalDir, SNAPSHOT);
  if (!pricesFile) return rmSync(snapshot, { force: true });
  copyFileSync(pricesFile, `${snapshot}.tmp`);
  renameSync(`${snapshot}.tmp`, snapshot);
}
