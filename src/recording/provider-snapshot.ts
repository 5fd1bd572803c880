import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { declaredProviderSchema, type DeclaredProvider } from "../providers/declare-provider.ts";
import { checkDeclaredIds, createRegistry, providerById, type ProviderLookup } from "../providers/registry.ts";

/**
 * The providers a journal's calls were taken under travel with the journal,
 * as its price book does (price-snapshot.ts): the gateway's recording worker
 * writes the providers its config file declares into the journal folder when
 * it starts, and whoever records what a crash left behind — the next start,
 * or `loupe sql` on the file — finds those calls' providers there.
 */
const SNAPSHOT = "declared-providers.json";

/** The providers of the calls in `journalDir`: the registered ones, plus those its gateway declared (if any). */
export function journalProviders(journalDir: string): ProviderLookup {
  const snapshot = join(journalDir, SNAPSHOT);
  if (!existsSync(snapshot)) return providerById;
  try {
    const declared = z.array(declaredProviderSchema).parse(JSON.parse(readFileSync(snapshot, "utf8")));
    // An id a later version registered (or one declared twice) is no longer a declared provider's.
    const seen = new Set<string>();
    return createRegistry(declared.filter(({ id }) => checkDeclaredIds([{ id }]).length === 0 && !seen.has(id) && seen.add(id))).providerById;
  } catch {
    return providerById;
  }
}

/** Records the providers the gateway's config declares (or that it declares none) for the calls journaled from now on. */
export function snapshotProviders(journalDir: string, declared: readonly DeclaredProvider[]): void {
  mkdirSync(journalDir, { recursive: true });
  const snapshot = join(journalDir, SNAPSHOT);
  if (declared.length === 0) return rmSync(snapshot, { force: true });
  writeFileSync(`${snapshot}.tmp`, JSON.stringify(declared));
  renameSync(`${snapshot}.tmp`, snapshot);
}
