import type { RequestRecord } from "../../record.ts";
import type { CallSpanIds } from "../../telemetry/call-tracer.ts";
import { createCallTracer } from "../../telemetry/create-call-tracer.ts";
import type { CallTracer } from "../../telemetry/call-tracer.ts";
import type { CallTelemetry } from "./call-telemetry.ts";
import { createGenAiMetrics, type GenAiMetrics } from "./genai-metrics.ts";
import { describeAttemptSpan, describeClientSpan, type CallDetails } from "./genai-span.ts";
import type { OtlpTarget, TelemetryConfig } from "../../telemetry/otel-config.ts";
import { CONTENT_TYPES, encodeOrigin, type Origin } from "./otlp-common.ts";
import { encodeMetrics } from "./otlp-metrics.ts";
import { createOtlpPost } from "./otlp-post.ts";
import { createSpanBatch, SPAN_FLAGS_HAS_IS_REMOTE, SPAN_FLAGS_IS_REMOTE, SPAN_KIND } from "./otlp-spans.ts";
import { createSpanExportQueue, type ExportCounters, type SpanExportQueue } from "./span-export-queue.ts";

/** Export health, for `/livez` and the log. */
export type TelemetryStats = ExportCounters;

/** The export side: spans and metrics of finished calls, encoded and sent in the background. */
export interface TelemetryExport {
  /** Encodes a finished call's spans and records its metrics (unless `metrics` is false: a call sent again). Never throws. */
  emit(record: RequestRecord, call: CallTelemetry, options?: { metrics?: boolean }): void;
  /** Resolves when spans may be emitted without overflowing the export backlog (SpanExportQueue.whenRoom). */
  whenRoom(): Promise<void>;
  /** Resolves once every span emitted so far is exported or given up on (SpanExportQueue.settled). */
  settled(): Promise<void>;
  /** Spans given up on so far. */
  dropped(): number;
  stats(): TelemetryStats;
  /** Exports what is pending (SIGTERM), then stops. */
  shutdown(): Promise<void>;
}

/** Both sides in one thread (tests, bench/telemetry.ts): `emit(record, trace.finish(…))`. */
export interface Telemetry extends TelemetryExport {
  tracer: CallTracer;
}

/**
 * Telemetry set up from the OTEL_* configuration: one SERVER span per call
 * (continuing the caller's trace) and one GenAI CLIENT span per upstream
 * attempt, plus the GenAI client metrics. Two halves: the tracer runs where
 * calls are proxied and only decides ids and sampling (a call pays for little
 * more than its `traceparent`); the export encodes spans into OTLP, keeps the
 * histograms and sends them in batches. The gateway runs the export beside
 * storage, at background priority, fed from the journal (main.ts); a dead
 * backend costs dropped batches, never a call. The flow is in README.md.
 */
export function createTelemetry(config: TelemetryConfig, version: string, onError: (message: string) => void): Telemetry {
  return { tracer: createCallTracer(config), ...createTelemetryExport(config, version, onError) };
}

/** The export's half: encode, aggregate, send. */
export function createTelemetryExport(config: TelemetryConfig, version: string, onError: (message: string) => void): TelemetryExport {
  const stats: TelemetryStats = { spansExported: 0, exportFailures: 0 };
  const origin = encodeOrigin({ ...config.resourceAttributes, "service.name": config.serviceName, "service.version": version }, { name: "loupe", version });
  const metrics = config.metrics && createGenAiMetrics(Date.now());
  const metricExport = config.metrics && metrics && startMetricExport(config.metrics, origin, metrics, stats, onError);
  const spans = config.traces && startSpanExport(config.traces, origin, stats, onError);
  return {
    emit(record, call, options) {
      try {
        if (options?.metrics !== false) metrics?.record(record, call.details);
        if (spans && call.spans) exportSpans(spans, record, call.details, call.spans, call.endTime);
      } catch (error) {
        onError(`telemetry for ${record.id} failed: ${(error as Error).message}`);
      }
    },
    whenRoom: () => spans?.whenRoom() ?? Promise.resolve(),
    settled: () => spans?.settled() ?? Promise.resolve(),
    dropped: () => spans?.dropped ?? 0,
    stats: () => ({ ...stats }),
    async shutdown() {
      await Promise.allSettled([spans?.shutdown(), metricExport?.shutdown()]);
    },
  };
}

/**
 * A sampled call's SERVER span and, if it reached the upstream, a CLIENT span
 * per attempt: the failed ones (retries, fallbacks), then the last, which
 * carries the answer.
 */
function exportSpans(queue: SpanExportQueue, record: RequestRecord, details: CallDetails, ids: CallSpanIds, endTime: number) {
  const attempts = ids.attempts;
  if (attempts) {
    for (let i = 0; i < attempts.length; i++) {
      const attempt = attempts[i]!;
      const description = describeAttemptSpan(record, details, attempt, i);
      queue.add({
        traceId: ids.traceId,
        spanId: attempt.spanId,
        parentSpanId: ids.spanId,
        traceState: ids.traceState,
        flags: 1 | SPAN_FLAGS_HAS_IS_REMOTE,
        name: description.name,
        kind: SPAN_KIND.client,
        startTime: attempt.start,
        endTime: attempt.end,
        attributes: description.attributes,
        error: { message: description.error },
      });
    }
  }
  if (ids.clientSpanId) {
    const description = describeClientSpan(record, details);
    queue.add({
      traceId: ids.traceId,
      spanId: ids.clientSpanId,
      parentSpanId: ids.spanId,
      traceState: ids.traceState,
      flags: 1 | SPAN_FLAGS_HAS_IS_REMOTE,
      name: description.name,
      kind: SPAN_KIND.client,
      startTime: ids.clientStart,
      endTime,
      attributes: description.attributes,
      error: description.error ? { message: record.error_message ?? description.error } : undefined,
    });
  }
  queue.add({
    traceId: ids.traceId,
    spanId: ids.spanId,
    parentSpanId: ids.parentSpanId,
    traceState: ids.traceState,
    flags: 1 | SPAN_FLAGS_HAS_IS_REMOTE | (ids.parentSpanId ? SPAN_FLAGS_IS_REMOTE : 0),
    name: `${ids.method} ${ids.path}`,
    kind: SPAN_KIND.server,
    startTime: ids.serverStart,
    endTime,
    attributes: {
      "http.request.method": ids.method,
      "url.path": ids.path,
      "http.response.status_code": record.status,
      "loupe.record.id": record.id,
    },
    error: record.status >= 500 ? { message: undefined } : undefined,
  });
}

function startSpanExport(target: OtlpTarget, origin: Origin, stats: TelemetryStats, onError: (message: string) => void): SpanExportQueue {
  const batch = createSpanBatch(target.protocol, origin);
  return createSpanExportQueue({ batch, post: createOtlpPost(target, batch.contentType), counters: stats, onError });
}

/** Cumulative metrics every `intervalMs`, and once more at shutdown; one export at a time. */
function startMetricExport(
  target: NonNullable<TelemetryConfig["metrics"]>,
  origin: Origin,
  metrics: GenAiMetrics,
  stats: TelemetryStats,
  onError: (message: string) => void,
) {
  const post = createOtlpPost(target, CONTENT_TYPES[target.protocol], Math.min(target.timeoutMs, target.intervalMs));
  let running: Promise<void> | undefined;
  function exportNow(): Promise<void> {
    const snapshot = metrics.snapshot(Date.now());
    if (snapshot.histograms.every((h) => h.points.length === 0)) return Promise.resolve();
    return post(encodeMetrics(target.protocol, origin, snapshot)).catch((error: Error) => {
      stats.exportFailures++;
      stats.lastError = `metric export failed: ${error.message}`;
      onError(stats.lastError);
    });
  }
  const timer = setInterval(() => {
    running ??= exportNow().finally(() => (running = undefined));
  }, target.intervalMs);
  timer.unref();
  return {
    async shutdown() {
      clearInterval(timer);
      await running;
      await exportNow();
    },
  };
}
