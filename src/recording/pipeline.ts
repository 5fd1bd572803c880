import { closeSync, existsSync, fdatasyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { PriceBook } from "../pricing/price-book.ts";
import type { ProviderLookup } from "../providers/registry.ts";
import type { RecordSink } from "../sinks/sink.ts";
import { createFaultLog } from "./fault-log.ts";
import { journalFiles, recordSegment, syncFolder, type SegmentReader } from "./journal.ts";
import type { UnjournaledEvent } from "./journal-writer.ts";
import { openRecordQueue, type RecordQueue } from "./record-queue.ts";
import { createRecorder } from "./recorder.ts";

/**
 * Off the request path: sealed journal segments (call events) → the recorder
 * → record segments (record-queue.ts) → every sink, each at its own pace.
 *
 *   journal/NNNNNNNN.ndjson ─recorder─▶ journal/records/<seq>.ndjson ─┬─▶ DuckDB (own cursor)
 *                                                                     └─▶ OTLP   (own cursor)
 *
 * The first sink is the one the gateway waits for (`recordFiles` resolves
 * once it has the records: DuckDB, which `/api` and `loupe sql` read); the
 * others are fed in the background and never hold it up. Used by the
 * recording worker, and by `loupe sql` on a journal a crash left.
 */
export interface Pipeline {
  /** Records journal segments that still exist (a retry finds them recorded), then stores every pending record into the first sink. */
  recordFiles(paths: readonly string[]): Promise<void>;
  /** Records events the journal refused, then stores them as `recordFiles` does. */
  recordEvents(events: readonly UnjournaledEvent[]): Promise<void>;
  /**
   * Records the segments a previous run left in the journal folder (with
   * `priceBook` and `providers`, the book and declared providers that run
   * used) and stores them into the first sink, skipping ids it has. Returns
   * how many records were made.
   */
  replay(priceBook: PriceBook, providers?: ProviderLookup): Promise<number>;
  /** Offers every sink every record made so far and waits for their answers (SIGTERM, tests); what a sink refuses stays queued. */
  drain(): Promise<void>;
  /** Record segments a sink has yet to take. */
  backlog(sink: string): number;
  /** Offers one sink what it has yet to take now (a read that wants every record there), and waits for its answer. */
  catchUp(sink: string): Promise<void>;
  /** The price book (and providers) of the calls journaled from now on (after `replay`). */
  usePriceBook(book: PriceBook, providers?: ProviderLookup): void;
}

export interface PipelineOptions {
  journalDir: string;
  /** DuckDB first (see above), then the others. */
  sinks: readonly RecordSink[];
  /** The price book of the calls journaled from now on (`usePriceBook` changes it). */
  priceBook: PriceBook;
  /** Their providers, when the config declares some (provider-snapshot.ts); default the registered ones. */
  providers?: ProviderLookup | undefined;
  /** `loupe sql`: keep the other sinks' cursors (and backlog) for the gateway's next start. */
  keepOtherSinks?: boolean;
  /** What could not be read while recording (each call is recorded anyway), and sink failures. */
  onProblem(message: string): void;
  /**
   * LOUPE_JOURNAL_FSYNC interval or always: a record segment is on the device
   * before the journal segment it comes from is deleted (else a power loss
   * could take both the durable journal segment and its records).
   */
  durable?: boolean | undefined;
}

/** A backlog goes to a sink in batches of at most this many segments. */
const MAX_SEGMENTS_PER_TAKE = 64;
/** The longest a failing sink waits before its segments are offered again. */
const MAX_RETRY_DELAY_MS = 60_000;

export function openPipeline(options: PipelineOptions): Pipeline {
  const { journalDir, sinks, onProblem } = options;
  const [first, ...others] = sinks;
  if (!first) throw new Error("a pipeline needs a sink");
  const primary: RecordSink = first;
  const names = sinks.map((sink) => sink.name);
  const queue = openRecordQueue(join(journalDir, "records"), options.keepOtherSinks ? undefined : names, names);
  let recorder = createRecorder(options.priceBook, onProblem, options.providers);
  // Segments up to here may hold records a sink already has (a crash before its acknowledgement).
  let replayUpTo = 0;
  const runners = new Map(sinks.map((sink) => [sink.name, createSinkRunner(sink, queue, () => replayUpTo)]));

  /** Makes the records of one journal segment into the next record segment, then deletes the journal segment. */
  function record(path: string, read: SegmentReader) {
    const seq = queue.nextSeq();
    const target = queue.pathOf(seq);
    const rows = recordSegment(path, target, read, { durable: options.durable });
    if (rows > 0) queue.added(seq);
    else unlinkSync(target);
    unlinkSync(path);
    return rows;
  }

  // A sink that failed waits before it is offered its segments again (doubling, up to a minute): a dead
  // backend costs a try now and then, not one per flush. Its segments wait on disk meanwhile.
  const backoff = new Map<string, { delayMs: number; timer?: ReturnType<typeof setTimeout> | undefined }>();
  // A backend down for an hour is said when it goes, once a minute meanwhile, and when it is back (fault-log.ts).
  const faults = createFaultLog(onProblem);
  function feed(sink: RecordSink) {
    const waiting = backoff.get(sink.name);
    if (waiting?.timer) return;
    runners
      .get(sink.name)!
      .run()
      .then(
        () => {
          backoff.delete(sink.name);
          faults.recovered(sink.name, `${sink.name}: takes records again; its backlog is delivered`);
        },
        (error: Error) => {
          const delayMs = Math.min((waiting?.delayMs ?? 500) * 2, MAX_RETRY_DELAY_MS);
          faults.failed(sink.name, `${sink.name}: ${error.message} (records wait on disk for it; tried again in ${delayMs / 1000} s, then up to once a minute)`);
          const timer = setTimeout(() => {
            backoff.set(sink.name, { delayMs });
            feed(sink);
          }, delayMs);
          timer.unref?.();
          backoff.set(sink.name, { delayMs, timer });
        },
      );
  }

  function feedOthers() {
    for (const sink of others) feed(sink);
  }

  async function store() {
    feedOthers();
    await runners.get(primary.name)!.run();
  }

  return {
    async recordFiles(paths) {
      for (const path of paths) if (existsSync(path)) record(path, recorder);
      await store();
    },
    async recordEvents(events) {
      const seq = queue.nextSeq();
      const target = queue.pathOf(seq);
      const lines = events.map((event) => (event.body ? recorder.entry(event.head, event.body) : recorder.line(event.head))).filter(Boolean);
      if (lines.length > 0) {
        // Same as a recorded segment: whole, or not there.
        const out = openSync(`${target}.tmp`, "w");
        try {
          writeSync(out, `${lines.join("\n")}\n`);
          if (options.durable) fdatasyncSync(out);
        } finally {
          closeSync(out);
        }
        renameSync(`${target}.tmp`, target);
        if (options.durable) syncFolder(dirname(target));
        queue.added(seq);
      }
      await store();
    },
    async replay(priceBook, providers) {
      const leftRecorder = createRecorder(priceBook, onProblem, providers);
      let made = 0;
      for (const path of journalFiles(journalDir)) made += record(path, leftRecorder);
      replayUpTo = Math.max(0, ...names.flatMap((name) => queue.pending(name).map((segment) => segment.seq)));
      await store();
      return made;
    },
    async drain() {
      // A sink that fails keeps its segments for the next start: draining reports, it does not throw.
      const results = await Promise.allSettled([...runners.values()].map((runner) => runner.run()));
      for (const result of results) if (result.status === "rejected") onProblem(`draining: ${(result.reason as Error).message}`);
    },
    backlog: (sink) => queue.pending(sink).length,
    async catchUp(name) {
      const sink = sinks.find((s) => s.name === name);
      if (!sink || backoff.get(name)?.timer) return;
      await runners.get(name)!.run();
    },
    usePriceBook(book, providers) {
      recorder = createRecorder(book, onProblem, providers);
    },
  };
}

/**
 * Feeds one sink from the queue, one batch at a time. `run` takes what is
 * pending when it starts, after any run in progress; runs asked for while one
 * waits to start are one run (a slow sink never piles up work to do).
 */
function createSinkRunner(sink: RecordSink, queue: RecordQueue, replayUpTo: () => number) {
  let tail: Promise<void> = Promise.resolve();
  let waiting = false;
  async function takePending() {
    waiting = false;
    for (;;) {
      const batch = queue.pending(sink.name).slice(0, MAX_SEGMENTS_PER_TAKE);
      if (batch.length === 0) return;
      await sink.take(
        batch.map((segment) => segment.path),
        { replay: batch[0]!.seq <= replayUpTo() },
      );
      queue.ack(sink.name, batch.at(-1)!.seq);
    }
  }
  return {
    run(): Promise<void> {
      if (waiting) return tail;
      waiting = true;
      tail = tail.catch(() => undefined).then(takePending);
      return tail;
    },
  };
}
