import type { JournalFsync } from "../config.ts";
import type { Journal, JournalSegment } from "./journal.ts";
import { createFaultLog } from "./fault-log.ts";
import { createJournalSync, type JournalSyncStats } from "./journal-sync.ts";

/** An event the journal refused (disk full, say): its line, and the body that follows it if any. */
export interface UnjournaledEvent {
  head: string;
  body?: Uint8Array | undefined;
}

/** The recording side (recording-worker.ts): makes records of events and hands them to every sink. */
export interface RecordingSink {
  /** Records the events of sealed journal segments, in one batch, and stores their records; resolves once DuckDB has them. */
  recordFiles(paths: string[]): Promise<unknown>;
  /** Records and stores events the journal could not take. */
  recordEvents(events: UnjournaledEvent[]): Promise<void>;
}

export interface RecordWriterStats {
  written: number;
  stored: number;
  queued: number;
  storeFailures: number;
  journalFailures: number;
  /**
   * Answered calls that have no record and never will: the journal refused
   * their events (a full disk) while more than `MAX_UNJOURNALED_BYTES` of
   * such events already waited in memory.
   */
  lost: number;
  /** Records DuckDB refused, kept aside in `<db>.rejected.ndjson` (filled in by serve.ts from the worker's events). */
  rejected?: number | undefined;
  lastError?: string | undefined;
  /** LOUPE_JOURNAL_FSYNC and the syncs done (journal-sync.ts). */
  fsync?: JournalSyncStats | undefined;
}

export interface RecordWriter {
  /**
   * Journals a call event (one JSON line: call-event.ts), synchronously; its record is made later. Never throws.
   * With LOUPE_JOURNAL_FSYNC=always, returns a promise that resolves once the event is durable (never rejects):
   * the call's last bytes wait for it.
   */
  write(line: string): Promise<void> | undefined;
  /** Journals a call event and the response body its record is to be read from, as one entry. Never throws; returns as `write`. */
  writeWithBody(head: string, body: Uint8Array): Promise<void> | undefined;
  /** Stores every record written before the call; resolves when they are stored or the sink failed. */
  flush(): Promise<void>;
  /** Resolves once every write so far is as durable as LOUPE_JOURNAL_FSYNC makes it (shutdown). */
  synced(): Promise<void>;
  stats(): RecordWriterStats;
}

export interface RecordWriterOptions {
  journal: Journal;
  sink: RecordingSink;
  /** How long a record may wait in the active segment before it is sealed and stored. */
  intervalMs: number;
  /** A segment this full is sealed at once. */
  batchRows: number;
  onError?: (message: string) => void;
  /** Past this many records waiting in the journal, say so through `onWarning` (at most once a minute). */
  backlogWarningRows?: number;
  onWarning?: (message: string) => void;
  /** Events the journal refused wait in memory up to this (default MAX_UNJOURNALED_BYTES); beyond, they are lost and counted. */
  maxUnjournaledBytes?: number | undefined;
  /** LOUPE_JOURNAL_FSYNC (journal-sync.ts); default `never`. The journal must be opened `syncing` for the others. */
  fsync?: JournalFsync | undefined;
}

/** A backlog is stored in batches of at most this many segments. */
const MAX_SEGMENTS_PER_BATCH = 64;
/**
 * Events the journal refused wait in memory up to this many bytes (a head and
 * its body); past it, a refused event is dropped and counted as lost: a disk
 * that stays full never takes the gateway's memory with it.
 */
export const MAX_UNJOURNALED_BYTES = 64 * 1024 * 1024;

/**
 * Stores records off the request path. A call pays for one journal write (a
 * record line, or a head and response body the store makes the record of);
 * the journal's active segment is sealed every `intervalMs` (or when
 * `batchRows` full) and the sink loads the sealed files as they are, so
 * records never pile up in memory. While the sink is busy, sealed
 * segments queue up on disk, and a backlog goes in bigger batches. A
 * failed batch stays on disk, in order, and is retried with backoff.
 */
export function createRecordWriter(options: RecordWriterOptions): RecordWriter {
  const { journal, sink, intervalMs, batchRows, backlogWarningRows = 100_000, maxUnjournaledBytes = MAX_UNJOURNALED_BYTES } = options;
  let backlogWarnedAt = 0;
  const sealed: JournalSegment[] = [];
  // Events the journal refused (disk full, say): kept here until recorded and stored.
  let unjournaled: UnjournaledEvent[] = [];
  let unjournaledBytes = 0;
  const stats: RecordWriterStats = { written: 0, stored: 0, queued: 0, storeFailures: 0, journalFailures: 0, lost: 0 };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<boolean> | undefined;
  let retryDelay = intervalMs;
  // flush() callers, each waiting for `stored` to reach its target.
  let waiters: { target: number; resolve: () => void }[] = [];

  /** Wakes the flush() callers whose records are stored (all of them when the sink failed). */
  function wake(sinkFailed: boolean) {
    if (waiters.length === 0) return;
    const still = waiters.filter((w) => !sinkFailed && stats.stored + stats.lost < w.target);
    for (const w of waiters) if (!still.includes(w)) w.resolve();
    waiters = still;
  }

  const report = (message: string) => {
    stats.lastError = message;
    options.onError?.(message);
  };
  // Faults that repeat are said once, then once a minute, then when they are over (fault-log.ts).
  const faults = createFaultLog((message) => options.onError?.(message));
  const fault = (kind: string, message: string) => {
    stats.lastError = message;
    faults.failed(kind, message);
  };
  let journalFailing = false;
  const durability = createJournalSync(journal, { mode: options.fsync ?? "never", onError: report });

  function schedule(delay: number) {
    if (timer || running) return;
    timer = setTimeout(() => {
      timer = undefined;
      void store();
    }, delay);
    timer.unref?.();
  }

  function seal() {
    try {
      const segment = journal.seal();
      if (segment) sealed.push(segment);
    } catch (error) {
      fault("seal", `journal segment could not be sealed: ${(error as Error).message}`);
      return;
    }
    faults.recovered("seal", "journal segments are sealed again");
  }

  /** Stores what is sealed (and sealable); false if the sink failed. */
  async function drain(): Promise<boolean> {
    seal();
    while (sealed.length > 0) {
      const batch = sealed.slice(0, MAX_SEGMENTS_PER_BATCH);
      try {
        await sink.recordFiles(batch.map((s) => s.path));
      } catch (error) {
        return failed(`storing ${batch.length} journal segment(s) failed, will retry: ${(error as Error).message}`);
      }
      sealed.splice(0, batch.length);
      for (const segment of batch) {
        stats.stored += segment.rows;
        try {
          journal.release(segment);
        } catch (error) {
          fault("cleanup", `journal cleanup failed: ${(error as Error).message}`);
        }
      }
      wake(false);
      // What came in meanwhile goes in the next batch (at once if full, or if a flush waits for it).
      if (journal.activeRows >= batchRows || waiters.length > 0) seal();
    }
    if (unjournaled.length > 0) {
      const lines = unjournaled;
      try {
        await sink.recordEvents(lines);
      } catch (error) {
        return failed(`storing ${lines.length} unjournaled record(s) failed, will retry: ${(error as Error).message}`);
      }
      unjournaled = unjournaled.slice(lines.length);
      unjournaledBytes = unjournaled.reduce((n, event) => n + eventBytes(event), 0);
      stats.stored += lines.length;
      wake(false);
    }
    retryDelay = intervalMs;
    faults.recovered("store", `storing records works again; ${stats.stored} stored so far`);
    return true;
  }

  function failed(message: string): false {
    stats.storeFailures++;
    wake(true);
    fault("store", message);
    retryDelay = Math.min(retryDelay * 2 || 100, 30_000);
    return false;
  }

  function store(): Promise<boolean> {
    running ??= drain()
      .catch((error: Error) => failed(`storing failed unexpectedly, will retry: ${error.message}`))
      .then((ok) => {
      running = undefined;
      if (journal.activeRows > 0 || sealed.length > 0 || unjournaled.length > 0) {
        if (ok && waiters.length > 0) void store(); // a flush() came in after this drain sealed
        else schedule(ok ? intervalMs : retryDelay);
      }
      return ok;
    });
    return running;
  }

  /**
   * The journal refused an event: it waits in memory (up to MAX_UNJOURNALED_BYTES, else it is lost
   * and counted), and the segment (which may hold part of it) is sealed; its torn tail is dropped
   * when it is recorded.
   */
  function refused(error: unknown, event: UnjournaledEvent) {
    stats.journalFailures++;
    journalFailing = true;
    const bytes = eventBytes(event);
    if (unjournaledBytes + bytes > maxUnjournaledBytes) {
      stats.lost++;
      fault("journal", `journal write failed and ${unjournaled.length} events wait in memory already: the call was answered, its record is lost (${stats.lost} lost so far, /livez records.lost): ${(error as Error).message}`);
    } else {
      unjournaled.push(event);
      unjournaledBytes += bytes;
      fault("journal", `journal write failed, the call's event waits in memory until it can be stored (at most ${Math.round(maxUnjournaledBytes / 2 ** 20)} MiB of them; beyond, records are lost and counted in /livez records.lost): ${(error as Error).message}`);
    }
    seal();
  }

  /** A write the journal took: a failure that was going on is over. */
  function journalWorks() {
    journalFailing = false;
    faults.recovered("journal", `journal writes work again; ${stats.lost} record(s) lost meanwhile`);
  }

  /** After each write: a full segment is sealed and stored now, else within `intervalMs`. */
  function written() {
    if (journal.activeRows >= batchRows) {
      // Sealed now even while a batch is being stored: segment files (and what reads them whole) stay small.
      seal();
      // A load that never lets up outruns storage at background priority: the journal on disk grows.
      if (journal.pending > backlogWarningRows && Date.now() - backlogWarnedAt > 60_000) {
        backlogWarnedAt = Date.now();
        (options.onWarning ?? options.onError)?.(`storage is behind: ${journal.pending} records wait in the journal (on disk) for DuckDB`);
      }
      if (!running) void store();
    } else schedule(intervalMs);
  }

  return {
    write(line) {
      stats.written++;
      try {
        journal.append(line);
      } catch (error) {
        refused(error, { head: line });
        written();
        return undefined;
      }
      if (journalFailing) journalWorks();
      written();
      return durability.afterWrite();
    },
    writeWithBody(head, body) {
      stats.written++;
      try {
        journal.appendWithBody(head, body);
      } catch (error) {
        refused(error, { head, body });
        written();
        return undefined;
      }
      if (journalFailing) journalWorks();
      written();
      return durability.afterWrite();
    },
    flush() {
      const target = stats.written;
      if (stats.stored + stats.lost >= target) return Promise.resolve();
      const stored = new Promise<void>((resolve) => waiters.push({ target, resolve }));
      if (!running) {
        if (timer) clearTimeout(timer);
        timer = undefined;
        void store();
      }
      return stored;
    },
    synced: () => durability.idle(),
    stats: () => ({ ...stats, queued: journal.pending + unjournaled.length, fsync: durability.stats() }),
  };
}

/** What an event the journal refused takes in memory (UTF-16 head, body bytes). */
const eventBytes = (event: UnjournaledEvent) => event.head.length * 2 + (event.body?.byteLength ?? 0);
