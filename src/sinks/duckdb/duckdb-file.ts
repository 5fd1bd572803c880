import { accessSync, constants, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { AccessStore } from "../../keys/access-store.ts";
import type { AnalyticsStore } from "../analytics.ts";
import { openDuckDBStore, type DuckDBStore } from "./duckdb-store.ts";

/**
 * The DuckDB file as a gateway that runs for months keeps it. What can
 * happen to the file, and what is done (each said once, when it happens and
 * when it is over; records wait in the journal meanwhile, on disk, and go in
 * once they can — the DuckDB sink fails until then, so nothing is lost):
 *
 * - **It cannot be written** (its permissions) at start: it is opened
 *   read-only. The API, `loupe sql`, keys and limits read it; new records
 *   wait. Before each batch the file is tried again, and once it can be
 *   written it is opened read-write and the backlog goes in.
 * - **It is not a DuckDB database** (garbage bytes), **or DuckDB finds it
 *   corrupt** (a block failing its checksum) at start: it is moved
 *   aside (`<db>.corrupt-<time>`, nothing is deleted) and a new file takes
 *   the records from now on. Keys, provider keys and limits stored in the
 *   old file are not loaded (said so).
 * - **It is deleted (or replaced) while the gateway runs**: noticed before and
 *   after each batch by its inode. What the open handle still reads — the
 *   records, keys, provider keys and limits — is copied into a new file at
 *   the same path, which takes the records from then on; a batch stored as
 *   the file went is stored again (ids already there are skipped).
 * - **DuckDB gave up on the instance** after an I/O failure (a full disk:
 *   "database has been invalidated"): it is opened again before the next
 *   batch.
 *
 * Anything else that stops the file from opening at start stops the start,
 * with DuckDB's message.
 */
export interface DuckDBFileOptions {
  /** A line for the operator: what happened to the file and what was done. */
  log(message: string): void;
}

type Identity = { dev: number; ino: number };

const isGarbage = (reason: string) => /not a valid DuckDB database file/i.test(reason);
/** DuckDB's own blocks failing their checksums (bit rot, a torn copy, a bad disk): read as unreadable as garbage. */
const isCorrupt = (reason: string) => /corrupt database file|does not match stored checksum/i.test(reason);
const firstLine = (error: unknown) => String((error as Error)?.message ?? error).split("\n")[0]!;
const identityOf = (path: string): Identity | undefined => {
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat ? { dev: stat.dev, ino: stat.ino } : undefined;
};
const canWrite = (path: string) => {
  try {
    accessSync(path, constants.W_OK);
    accessSync(dirname(path), constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

export async function openDuckDBFile(path: string, options: DuckDBFileOptions): Promise<DuckDBStore> {
  if (path === ":memory:" || path === "") return openDuckDBStore(path);
  let readOnly = false;
  let broken = false;
  let current = await openAtStart();
  let identity = identityOf(path);
  // A swap in progress (a reopen): every use waits for it.
  let swapping: Promise<void> | undefined;

  async function openAtStart(): Promise<DuckDBStore> {
    try {
      return await openDuckDBStore(path);
    } catch (error) {
      let reason = firstLine(error);
      if (/permission denied|read-only file system/i.test(reason) && existsSync(path)) {
        try {
          const store = await openDuckDBStore(path, { readOnly: true });
          readOnly = true;
          options.log(`DuckDB file ${path} cannot be written (${reason}): opened read-only; the API and keys read it, new records wait in the journal (/livez records.queued) and go in once it can be written`);
          return store;
        } catch (readError) {
          reason = firstLine(readError);
          if (!isGarbage(reason) && !isCorrupt(reason)) throw readError;
        }
      }
      if (isGarbage(reason)) return setAside(reason, "is not a DuckDB database");
      if (isCorrupt(reason)) return setAside(reason, "is corrupt");
      throw error;
    }
  }

  /** A file that is no DuckDB database, or one DuckDB finds corrupt: kept, under another name, and a new one made. */
  async function setAside(reason: string, what: string): Promise<DuckDBStore> {
    const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    renameSync(path, aside);
    if (existsSync(`${path}.wal`)) renameSync(`${path}.wal`, `${aside}.wal`);
    options.log(
      `DuckDB file ${path} ${what} (${reason}): moved to ${aside}; a new file takes the records from now on. ` +
        `Gateway keys, provider keys and limits stored in the old file are not loaded: restore the file from a backup, or define them again`,
    );
    return openDuckDBStore(path);
  }

  /** The store to use now: reopened first if the file went, DuckDB gave up on it, or it can be written again. */
  async function live(): Promise<DuckDBStore> {
    while (swapping) await swapping;
    const now = identityOf(path);
    const gone = !now || !identity || now.dev !== identity.dev || now.ino !== identity.ino;
    const reason = gone ? "deleted" : broken ? "invalidated" : readOnly && canWrite(path) ? "writable" : undefined;
    if (reason) {
      swapping = reopen(reason).finally(() => (swapping = undefined));
      await swapping;
    }
    return current;
  }

  async function reopen(reason: "deleted" | "invalidated" | "writable") {
    const old = current;
    if (reason !== "deleted") {
      await old.close().catch(() => {});
      try {
        current = await openDuckDBStore(path);
      } catch (error) {
        // Not yet: read-only as it was, or (invalidated) tried again before the next batch.
        if (reason === "writable") current = await openDuckDBStore(path, { readOnly: true });
        throw error;
      }
      readOnly = false;
      broken = false;
      identity = identityOf(path);
      options.log(reason === "writable" ? `DuckDB file ${path} can be written again: the records that waited in the journal go in now` : `DuckDB file ${path} opened again after DuckDB gave up on it`);
      return;
    }
    // What the open handle still reads, copied out before it is closed (its WAL is at the path the new file's goes to).
    const copy = mkdtempSync(join(tmpdir(), "loupe-recover-"));
    let rows = 0;
    let access: Awaited<ReturnType<AccessStore["loadAccess"]>> | undefined;
    try {
      rows = (await old.exportParquet(copy)).rows;
      access = await old.access.loadAccess();
    } catch (error) {
      options.log(`DuckDB file ${path} was deleted, and what it held could not all be read back: ${firstLine(error)}`);
    }
    await old.close().catch(() => {});
    try {
      current = await openDuckDBStore(path);
      identity = identityOf(path);
      readOnly = false;
      broken = false;
      const files = readdirSync(copy, { recursive: true, encoding: "utf8" }).filter((name) => name.endsWith(".parquet")).map((name) => join(copy, name));
      await current.appendParquet(files);
      if (access) await current.access.saveAccess(access);
      options.log(`DuckDB file ${path} was deleted while the gateway ran: a new file holds the ${rows} record(s) and the keys and limits it still had, and takes the records from now on`);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }

  /** After a write: DuckDB's words for an instance it will not use again. */
  function noteFailure(error: unknown): never {
    if (/invalidated|FATAL Error/i.test(firstLine(error))) broken = true;
    throw error;
  }

  const changed = () => {
    const now = identityOf(path);
    return !now || !identity || now.dev !== identity.dev || now.ino !== identity.ino;
  };

  const readOnlyError = () => new Error(`DuckDB file ${path} cannot be written: records wait in the journal until it can`);

  // Every method goes to the store of the moment (`live`): a reopen swaps it under them.
  const analytics = Object.fromEntries(
    Object.keys(current.analytics).map((name) => [name, async (...args: unknown[]) => ((await live()).analytics as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args)]),
  ) as unknown as AnalyticsStore;
  const access: AccessStore = {
    loadAccess: async () => (await live()).access.loadAccess(),
    saveAccess: async (stored) => (await live()).access.saveAccess(stored),
    audit: async (entry) => (await live()).access.audit(entry),
    listAudit: async (limit) => (await live()).access.listAudit(limit),
    // Read-only: the keys' last use is not kept meanwhile (it would fail, and be logged, every 10 s).
    touchKeys: async (used) => {
      const store = await live();
      if (!readOnly) await store.access.touchKeys(used);
    },
  };

  return {
    async append(ndjson) {
      const store = await live();
      if (readOnly) throw readOnlyError();
      await store.append(ndjson).catch(noteFailure);
    },
    async appendFiles(paths, appendOptions) {
      let store = await live();
      if (readOnly) throw readOnlyError();
      let added = await store.appendFiles(paths, appendOptions).catch(noteFailure);
      // Deleted while that ran: the batch may be in the deleted file only. Stored again in the new one.
      if (changed()) {
        store = await live();
        added = await store.appendFiles(paths, { missingOnly: true }).catch(noteFailure);
      }
      return added;
    },
    appendParquet: async (paths) => (await live()).appendParquet(paths),
    queryReadOnly: async (sql, limits) => (await live()).queryReadOnly(sql, limits),
    checkpoint: async () => (await live()).checkpoint(),
    exportParquet: async (dir, since) => (await live()).exportParquet(dir, since),
    prune: async (days) => (await live()).prune(days),
    analytics,
    access,
    async close() {
      while (swapping) await swapping.catch(() => {});
      await current.close();
    },
  };
}
