import type { OtlpPost } from "./otlp-post.ts";
import type { FinishedSpan, SpanBatch } from "./otlp-spans.ts";

/** Export health, for `/livez` and the log. */
export interface ExportCounters {
  spansExported: number;
  exportFailures: number;
  lastError?: string | undefined;
}

export interface SpanExportQueue {
  add(span: FinishedSpan): void;
  /** Sends everything pending at once and waits for the answers (each bounded by the export timeout); then stops. */
  shutdown(): Promise<void>;
}

export interface SpanExportOptions {
  batch: SpanBatch;
  post: OtlpPost;
  counters: ExportCounters;
  onError: (message: string) => void;
  /** A batch goes out when it holds this many spans… */
  maxBatchSpans?: number;
  /** …or when it is this old. */
  delayMs?: number;
  /** Spans waiting (encoded, not yet answered) beyond which new ones are dropped. */
  maxPendingSpans?: number;
  maxPendingBytes?: number;
  maxInFlight?: number;
}

/** A batch taken from the encoder: its request body, and what it counted against the backlog. */
interface Sealed {
  body: Uint8Array;
  spans: number;
  bytes: number;
}

/**
 * Batches finished spans and exports them in the background: the request path
 * only encodes a span into the open batch. A slow or dead backend fills a
 * bounded backlog; beyond it spans are dropped and counted as failures, so
 * memory stays bounded and calls never wait.
 */
export function createSpanExportQueue(options: SpanExportOptions): SpanExportQueue {
  const { batch, post, counters, onError, maxBatchSpans = 512, delayMs = 1000, maxPendingSpans = 16_384, maxPendingBytes = 32 * 2 ** 20, maxInFlight = 2 } = options;
  const ready: Sealed[] = [];
  const inFlight = new Set<Promise<void>>();
  let pendingSpans = 0; // in the open batch, ready, or in flight
  let pendingBytes = 0;
  let stopped = false;

  function fail(message: string, count = 1) {
    counters.exportFailures += count;
    counters.lastError = message;
    onError(message);
  }

  function seal() {
    if (batch.spans === 0) return;
    ready.push({ spans: batch.spans, bytes: batch.bytes, body: batch.take() });
  }

  function send(next: Sealed) {
    const done = post(next.body).then(
      () => void (counters.spansExported += next.spans),
      (error: Error) => fail(`trace export failed: ${error.message}`),
    );
    const settled = done.finally(() => {
      inFlight.delete(settled);
      pendingSpans -= next.spans;
      pendingBytes -= next.bytes;
      pump();
    });
    inFlight.add(settled);
  }

  function pump(limit = maxInFlight) {
    while (inFlight.size < limit && ready.length > 0) send(ready.shift()!);
  }

  const timer = setInterval(() => {
    seal();
    pump();
  }, delayMs);
  timer.unref();

  return {
    add(span) {
      if (stopped) return;
      if (pendingSpans >= maxPendingSpans || pendingBytes >= maxPendingBytes) {
        fail(`trace export backlog full (${pendingSpans} spans waiting): span dropped`);
        return;
      }
      const before = batch.bytes;
      batch.add(span);
      pendingSpans++;
      pendingBytes += batch.bytes - before;
      if (batch.spans >= maxBatchSpans) {
        seal();
        pump();
      }
    },
    async shutdown() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      seal();
      pump(Infinity);
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
