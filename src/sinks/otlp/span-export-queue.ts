import { OtlpExportError, type OtlpPost } from "./otlp-post.ts";
import type { FinishedSpan, SpanBatch } from "./otlp-spans.ts";

/** Export health, for `/livez` and the log. */
export interface ExportCounters {
  spansExported: number;
  exportFailures: number;
  lastError?: string | undefined;
}

export interface SpanExportQueue {
  add(span: FinishedSpan): void;
  /**
   * Resolves once the backlog is at most half full, or at once while exports
   * fail (spans would only wait to be dropped): lets a producer with a backlog
   * of its own go at the backend's pace instead of overflowing.
   */
  whenRoom(): Promise<void>;
  /**
   * Sends what is batched now, and resolves once every span added so far is
   * answered: exported, or given up on (a failed batch is retried first).
   */
  settled(): Promise<void>;
  /** Spans given up on so far: a full backlog, or a batch that failed for good. */
  readonly dropped: number;
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
  /** Transient failures are retried this many times, after `retryDelayMs`, then twice that, and so on. */
  maxRetries?: number;
  retryDelayMs?: number;
}

/** A batch taken from the encoder: its request body, and what it counted against the backlog. */
interface Sealed {
  body: Uint8Array;
  spans: number;
  bytes: number;
  /** Failed tries so far. */
  tries: number;
}

/** A retry never waits longer than this, whatever Retry-After says. */
const MAX_RETRY_DELAY_MS = 30_000;

/**
 * Batches finished spans and exports them in the background: the request path
 * only encodes a span into the open batch. A slow or dead backend fills a
 * bounded backlog; beyond it spans are dropped and counted as failures, so
 * memory stays bounded and calls never wait.
 */
export function createSpanExportQueue(options: SpanExportOptions): SpanExportQueue {
  const { batch, post, counters, onError, maxBatchSpans = 512, delayMs = 1000, maxPendingSpans = 16_384, maxPendingBytes = 32 * 2 ** 20, maxInFlight = 2 } = options;
  const { maxRetries = 4, retryDelayMs = 1000 } = options;
  const ready: Sealed[] = [];
  // Batches waiting out a backoff before they are sent again.
  const backingOff = new Map<ReturnType<typeof setTimeout>, Sealed>();
  const inFlight = new Set<Promise<void>>();
  let pendingSpans = 0; // in the open batch, ready, or in flight
  let pendingBytes = 0;
  let stopped = false;
  let failing = false;
  let roomWaiters: (() => void)[] = [];
  let settledWaiters: (() => void)[] = [];
  let dropped = 0;
  function wakeSettledWaiters() {
    if (settledWaiters.length === 0 || pendingSpans > 0) return;
    const waiters = settledWaiters;
    settledWaiters = [];
    for (const wake of waiters) wake();
  }
  const hasRoom = () => failing || stopped || (pendingSpans <= maxPendingSpans / 2 && pendingBytes <= maxPendingBytes / 2);
  function wakeRoomWaiters() {
    if (roomWaiters.length === 0 || !hasRoom()) return;
    const waiters = roomWaiters;
    roomWaiters = [];
    for (const wake of waiters) wake();
  }

  function fail(message: string, count = 1) {
    counters.exportFailures += count;
    counters.lastError = message;
    onError(message);
  }

  function seal() {
    if (batch.spans === 0) return;
    ready.push({ spans: batch.spans, bytes: batch.bytes, body: batch.take(), tries: 0 });
  }

  function send(next: Sealed) {
    let retrying = false;
    const done = post(next.body).then(
      () => {
        counters.spansExported += next.spans;
        failing = false;
      },
      (error: Error) => {
        failing = true;
        const retry = error instanceof OtlpExportError && error.retryable && !stopped && next.tries < maxRetries;
        fail(`trace export failed${retry ? " (will retry)" : ""}: ${error.message}`);
        if (!retry) dropped += next.spans;
        if (retry) {
          retrying = true;
          next.tries++;
          const wait = Math.min((error as OtlpExportError).retryAfterMs ?? retryDelayMs * 2 ** (next.tries - 1), MAX_RETRY_DELAY_MS);
          const timer = setTimeout(() => {
            backingOff.delete(timer);
            ready.unshift(next);
            pump();
          }, wait);
          timer.unref();
          backingOff.set(timer, next);
        }
      },
    );
    const settled = done.finally(() => {
      inFlight.delete(settled);
      // A batch being retried still counts against the backlog.
      if (!retrying) {
        pendingSpans -= next.spans;
        pendingBytes -= next.bytes;
      }
      wakeSettledWaiters();
      pump();
      wakeRoomWaiters();
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
      if (stopped) {
        dropped++;
        return;
      }
      if (pendingSpans >= maxPendingSpans || pendingBytes >= maxPendingBytes) {
        dropped++;
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
    settled() {
      seal();
      pump();
      return pendingSpans === 0 ? Promise.resolve() : new Promise<void>((resolve) => settledWaiters.push(resolve));
    },
    get dropped() {
      return dropped;
    },
    whenRoom() {
      return hasRoom() ? Promise.resolve() : new Promise<void>((resolve) => roomWaiters.push(resolve));
    },
    async shutdown() {
      if (stopped) return;
      stopped = true;
      wakeRoomWaiters();
      clearInterval(timer);
      // Batches in backoff get their last try now.
      for (const [retry, waiting] of backingOff) {
        clearTimeout(retry);
        ready.push(waiting);
      }
      backingOff.clear();
      seal();
      pump(Infinity);
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      // Nothing more will be sent: whoever waits for answers has them all.
      const waiters = settledWaiters;
      settledWaiters = [];
      for (const wake of waiters) wake();
    },
  };
}
