import type { JournalFsync } from "../config.ts";
import type { Journal } from "./journal.ts";

/**
 * When the journal's bytes reach the device (LOUPE_JOURNAL_FSYNC). A journal
 * write is in the OS's page cache at once (journal.ts): it survives `kill -9`
 * of the gateway, not a power loss or a kernel crash, until the OS writes it
 * back (Linux: within 30 s). The modes:
 *
 * - `never`: the OS decides.
 * - `interval`: the journal is synced every `FSYNC_INTERVAL_MS` off the
 *   request path; a power loss takes at most the calls answered in the last
 *   interval (and the sync that was running).
 * - `always`: a call's event is on the device before its last byte reaches
 *   its client. Group commit: the first call that finishes asks for a sync at
 *   the end of the event loop's turn (setImmediate), so every call finishing
 *   in that turn shares it; calls that finish while a sync runs wait for the
 *   next one, which starts when it ends. The sync itself (fdatasync per
 *   segment file) runs on the runtime's thread pool, so the event loop keeps
 *   proxying meanwhile, and the busier the gateway, the more calls one sync
 *   covers. Each call holds back only its last bytes (proxy/respond.ts).
 *
 * A sync that fails is reported (at most once a minute) and counted; the
 * calls it covered are answered anyway: recording never fails a call.
 */
export const FSYNC_INTERVAL_MS = 100;

export interface JournalSyncStats {
  mode: JournalFsync;
  /** Syncs that made something durable. */
  syncs: number;
  /** Syncs the OS refused (EIO, ENOSPC): what they covered may not survive a power loss. */
  failures: number;
}

export interface JournalSync {
  /** After a write the journal took: with `always`, resolves once it is durable (never rejects); else undefined. */
  afterWrite(): Promise<void> | undefined;
  /** Resolves once the syncs asked for so far have ended (shutdown: no call's last bytes still wait). */
  idle(): Promise<void>;
  stats(): JournalSyncStats;
  /** Stops the interval's timer. */
  stop(): void;
}

export interface JournalSyncOptions {
  mode: JournalFsync;
  /** `interval`'s period (default `FSYNC_INTERVAL_MS`). */
  intervalMs?: number | undefined;
  onError(message: string): void;
}

export function createJournalSync(journal: Pick<Journal, "sync">, options: JournalSyncOptions): JournalSync {
  const { mode } = options;
  const stats: JournalSyncStats = { mode, syncs: 0, failures: 0 };
  let reportedAt = 0;
  let running: Promise<void> | undefined;
  // The calls waiting for the next sync (`always`): one promise for all of them.
  let group: { promise: Promise<void>; resolve: () => void } | undefined;

  function syncNow(): Promise<void> {
    return journal.sync().then(
      (files) => {
        if (files > 0) stats.syncs++;
      },
      (error: Error) => {
        stats.failures++;
        if (Date.now() - reportedAt < 60_000) return;
        reportedAt = Date.now();
        options.onError(`journal fsync failed (${stats.failures} so far; calls are answered, their events may not survive a power loss): ${error.message}`);
      },
    );
  }

  /** Runs the sync the waiting group asked for; the group that gathers meanwhile goes next. */
  function commit() {
    const waiting = group;
    group = undefined;
    running = syncNow().then(() => {
      running = undefined;
      waiting?.resolve();
      if (group) commit();
    });
  }

  let timer: ReturnType<typeof setInterval> | undefined;
  if (mode === "interval") {
    timer = setInterval(() => {
      if (!running) running = syncNow().then(() => void (running = undefined));
    }, options.intervalMs ?? FSYNC_INTERVAL_MS);
    timer.unref?.();
  }

  return {
    afterWrite() {
      if (mode !== "always") return undefined;
      if (!group) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        group = { promise, resolve };
        // A sync running now started before this write: it waits for the next, which `commit` starts when that one ends.
        if (!running) setImmediate(() => !running && group && commit());
      }
      return group.promise;
    },
    async idle() {
      while (group || running) await (group?.promise ?? running);
    },
    stats: () => ({ ...stats }),
    stop() {
      clearInterval(timer);
    },
  };
}
