import type { RequestRecord } from "../record.ts";
import type { CallTrace, CallTracer } from "./call-tracer.ts";
import { createGenAiMetrics, type GenAiMetrics } from "./genai-metrics.ts";
import { describeClientSpan, type CallDetails } from "./genai-span.ts";
import type { OtlpTarget, TelemetryConfig } from "./otel-config.ts";
import { CONTENT_TYPES, encodeOrigin, type Origin } from "./otlp-common.ts";
import { encodeMetrics } from "./otlp-metrics.ts";
import { createOtlpPost } from "./otlp-post.ts";
import { createSpanBatch, SPAN_FLAGS_HAS_IS_REMOTE, SPAN_FLAGS_IS_REMOTE, SPAN_KIND } from "./otlp-spans.ts";
import { createSampler, type Sampler } from "./sampler.ts";
import { createSpanExportQueue, type ExportCounters, type SpanExportQueue } from "./span-export-queue.ts";
import { formatTraceparent, parseTraceparent, type TraceParent } from "./trace-context.ts";
import { createIdGenerator, type IdGenerator } from "./trace-ids.ts";

/** Export health, for `/livez` and the log. */
export type TelemetryStats = ExportCounters;

export interface Telemetry {
  tracer: CallTracer;
  stats(): TelemetryStats;
  /** Exports what is pending (SIGTERM), then stops. */
  shutdown(): Promise<void>;
}

/** What every traced call shares. */
interface Tracing {
  ids: IdGenerator;
  sample: Sampler;
  spans: SpanExportQueue;
  metrics: GenAiMetrics | undefined;
  onError: (message: string) => void;
}

/**
 * Telemetry set up from the OTEL_* configuration: one SERVER span per call
 * (continuing the caller's trace) and one GenAI CLIENT span per upstream
 * attempt, encoded into OTLP as they end and exported in batches in the
 * background, plus the GenAI client metrics, exported every interval. A
 * dead backend costs dropped batches, never a call. The flow is in README.md.
 */
export function createTelemetry(config: TelemetryConfig, version: string, onError: (message: string) => void): Telemetry {
  const stats: TelemetryStats = { spansExported: 0, exportFailures: 0 };
  const origin = encodeOrigin({ ...config.resourceAttributes, "service.name": config.serviceName, "service.version": version }, { name: "loupe", version });
  const metrics = config.metrics && createGenAiMetrics(Date.now());
  const metricExport = config.metrics && metrics && startMetricExport(config.metrics, origin, metrics, stats, onError);
  const traced: Tracing | undefined = config.traces && {
    ids: createIdGenerator(),
    sample: createSampler(config.sampler.kind, config.sampler.ratio),
    spans: startSpanExport(config.traces, origin, stats, onError),
    metrics,
    onError,
  };

  const tracer: CallTracer = {
    captureContent: config.captureContent,
    begin({ method, path, headers, startTime }): CallTrace {
      const parent = parseTraceparent(headers.get("traceparent"));
      if (!traced) return new UntracedCall(parent?.traceId, metrics, onError);
      const traceId = parent?.traceId ?? traced.ids.traceId();
      const tracestate = parent ? (headers.get("tracestate")?.trim() ?? "") : "";
      return new TracedCall(traced, {
        traceId,
        parent,
        traceState: tracestate || undefined,
        sampled: traced.sample(traceId, parent),
        method,
        path: path.includes("?") ? path.slice(0, path.indexOf("?")) : path,
        startTime,
      });
    },
  };

  return {
    tracer,
    stats: () => ({ ...stats }),
    async shutdown() {
      await Promise.allSettled([traced?.spans.shutdown(), metricExport?.shutdown()]);
    },
  };
}

interface ServerSpan {
  traceId: string;
  parent: TraceParent | undefined;
  traceState: string | undefined;
  sampled: boolean;
  method: string;
  path: string;
  startTime: number;
}

/** Tracing on: the SERVER span is open from `begin`, the CLIENT span from `startUpstream`. */
class TracedCall implements CallTrace {
  readonly traceId: string;
  private readonly spanId: string;
  private clientSpanId: string | undefined;
  private clientStart = 0;

  constructor(
    private readonly tracing: Tracing,
    private readonly server: ServerSpan,
  ) {
    this.traceId = server.traceId;
    this.spanId = tracing.ids.spanId();
  }

  startUpstream(startTime: number): Record<string, string> {
    this.clientSpanId = this.tracing.ids.spanId();
    this.clientStart = startTime;
    const headers: Record<string, string> = { traceparent: formatTraceparent(this.traceId, this.clientSpanId, this.server.sampled) };
    if (this.server.traceState) headers.tracestate = this.server.traceState;
    return headers;
  }

  end(record: RequestRecord, details: CallDetails, endTime: number): void {
    try {
      this.tracing.metrics?.record(record, details);
      if (this.server.sampled) this.exportSpans(record, details, endTime);
    } catch (error) {
      this.tracing.onError(`telemetry for ${record.id} failed: ${(error as Error).message}`);
    }
  }

  private exportSpans(record: RequestRecord, details: CallDetails, endTime: number) {
    const { server, tracing } = this;
    if (this.clientSpanId) {
      const description = describeClientSpan(record, details);
      tracing.spans.add({
        traceId: this.traceId,
        spanId: this.clientSpanId,
        parentSpanId: this.spanId,
        traceState: server.traceState,
        flags: 1 | SPAN_FLAGS_HAS_IS_REMOTE,
        name: description.name,
        kind: SPAN_KIND.client,
        startTime: this.clientStart,
        endTime,
        attributes: description.attributes,
        error: description.error ? { message: record.error_message ?? description.error } : undefined,
      });
    }
    tracing.spans.add({
      traceId: this.traceId,
      spanId: this.spanId,
      parentSpanId: server.parent?.spanId,
      traceState: server.traceState,
      flags: 1 | SPAN_FLAGS_HAS_IS_REMOTE | (server.parent ? SPAN_FLAGS_IS_REMOTE : 0),
      name: `${server.method} ${server.path}`,
      kind: SPAN_KIND.server,
      startTime: server.startTime,
      endTime,
      attributes: {
        "http.request.method": server.method,
        "url.path": server.path,
        "http.response.status_code": record.status,
        "loupe.record.id": record.id,
      },
      error: record.status >= 500 ? { message: undefined } : undefined,
    });
  }
}

/** Tracing off (metrics only): the caller's trace id for the record, its traceparent left as it came. */
class UntracedCall implements CallTrace {
  constructor(
    readonly traceId: string | undefined,
    private readonly metrics: GenAiMetrics | undefined,
    private readonly onError: (message: string) => void,
  ) {}

  startUpstream(): Record<string, string> {
    return {};
  }

  end(record: RequestRecord, details: CallDetails): void {
    try {
      this.metrics?.record(record, details);
    } catch (error) {
      this.onError(`metrics for ${record.id} failed: ${(error as Error).message}`);
    }
  }
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
