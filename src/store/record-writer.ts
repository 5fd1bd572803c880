import type { RequestRecord } from "../record.ts";
import type { Journal } from "./journal.ts";

/** Where batches of records go, as NDJSON (one record per line): DuckDB now, ClickHouse later. */
export interface RecordSink {
  append(ndjson: string): Promise<void>;
}

export interface RecordWriterStats {
  written: number;
  stored: number;
  queued: number;
  storeFailures: number;
  journalFailures: number;
  lastError?: string | undefined;
}

export interface RecordWriter {
  /** Journals the record (synchronously) and queues it for the sink. Never throws. */
  write(record: RequestRecord): void;
  /** Stores everything queued; resolves when the queue is empty or the sink failed. */
  flush(): Promise<void>;
  stats(): RecordWriterStats;
}

export interface RecordWriterOptions {
  journal: Journal;
  sink: RecordSink;
  intervalMs: number;
  batchRows: number;
  onError?: (message: string) => void;
}

/**
 * Batches records off the request path: a call pays only for one journal
 * line; rows reach the sink in batches every `intervalMs` (or sooner when a
 * batch is full). A failed batch stays queued, in order, and is retried with
 * backoff; the journal keeps it safe meanwhile, so nothing is lost.
 */
export function createRecordWriter(options: RecordWriterOptions): RecordWriter {
  const { journal, sink, intervalMs, batchRows } = options;
  // Each record's JSON line with whether the journal has it, so acknowledgements count only those.
  const queue: { line: string; journaled: boolean }[] = [];
  const stats: RecordWriterStats = { written: 0, stored: 0, queued: 0, storeFailures: 0, journalFailures: 0 };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let retryDelay = intervalMs;

  const report = (message: string) => {
    stats.lastError = message;
    options.onError?.(message);
  };

  function schedule(delay: number) {
    if (timer || running) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, delay);
    timer.unref?.();
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.slice(0, batchRows);
      try {
        await sink.append(batch.map((entry) => entry.line).join("\n"));
      } catch (error) {
        stats.storeFailures++;
        report(`storing ${batch.length} record(s) failed, will retry: ${(error as Error).message}`);
        retryDelay = Math.min(retryDelay * 2 || 100, 30_000);
        return;
      }
      queue.splice(0, batch.length);
      stats.stored += batch.length;
      retryDelay = intervalMs;
      try {
        journal.acknowledge(batch.filter((entry) => entry.journaled).length);
      } catch (error) {
        report(`journal cleanup failed: ${(error as Error).message}`);
      }
    }
  }

  function flush(): Promise<void> {
    running ??= drain().finally(() => {
      running = undefined;
      if (queue.length > 0) schedule(retryDelay);
    });
    return running;
  }

  return {
    write(record) {
      stats.written++;
      let journaled = false;
      let line: string;
      try {
        line = JSON.stringify(record);
      } catch (error) {
        report(`record ${record.id} cannot be serialised: ${(error as Error).message}`);
        return;
      }
      try {
        journal.append(line);
        journaled = true;
      } catch (error) {
        stats.journalFailures++;
        report(`journal write failed: ${(error as Error).message}`);
      }
      queue.push({ line, journaled });
      if (queue.length >= batchRows) void flush();
      else schedule(intervalMs);
    },
    flush,
    stats: () => ({ ...stats, queued: queue.length }),
  };
}
