import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Histogram, type Span } from "@opentelemetry/api";
import { W3CTraceContextPropagator, type ExportResult } from "@opentelemetry/core";
import { OTLPMetricExporter as OTLPMetricExporterJson } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as OTLPMetricExporterProto } from "@opentelemetry/exporter-metrics-otlp-proto";
import { OTLPTraceExporter as OTLPTraceExporterJson } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OTLPTraceExporterProto } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  TracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
} from "@opentelemetry/sdk-trace";
import type { RequestRecord } from "../record.ts";
import type { CallTrace, CallTracer } from "./call-tracer.ts";
import { describeClientSpan, describeMetricAttributes, type CallDetails } from "./genai-span.ts";
import type { OtlpTarget, SamplerKind, TelemetryConfig } from "./otel-config.ts";

/** Export health, for `/livez` and the log. */
export interface TelemetryStats {
  spansExported: number;
  exportFailures: number;
  lastError?: string | undefined;
}

export interface Telemetry {
  tracer: CallTracer;
  stats(): TelemetryStats;
  /** Exports what is pending (SIGTERM), then stops. */
  shutdown(): Promise<void>;
}

// Bucket boundaries the GenAI metrics conventions recommend (gen-ai-metrics.md).
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

function createSampler(kind: SamplerKind, ratio: number): Sampler {
  const ratioSampler = new TraceIdRatioBasedSampler(ratio);
  switch (kind) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratioSampler;
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratioSampler });
  }
}

function exporterOptions(target: OtlpTarget) {
  return {
    url: target.url,
    headers: target.headers,
    timeoutMillis: target.timeoutMs,
    ...(target.compression === "gzip" ? { compression: "gzip" as never } : {}),
  };
}

/** Counts what an exporter delivers and fails to deliver; never lets a failure escape. */
function countingSpanExporter(inner: SpanExporter, stats: TelemetryStats, onError: (m: string) => void): SpanExporter {
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      inner.export(spans, (result) => {
        if (result.code === 0) stats.spansExported += spans.length;
        else {
          stats.exportFailures++;
          stats.lastError = `trace export failed: ${result.error?.message ?? "unknown error"}`;
          onError(stats.lastError);
        }
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

function countingMetricExporter(inner: PushMetricExporter, stats: TelemetryStats, onError: (m: string) => void): PushMetricExporter {
  return {
    export(metrics: ResourceMetrics, done: (result: ExportResult) => void) {
      inner.export(metrics, (result) => {
        if (result.code !== 0) {
          stats.exportFailures++;
          stats.lastError = `metric export failed: ${result.error?.message ?? "unknown error"}`;
          onError(stats.lastError);
        }
        done(result);
      });
    },
    forceFlush: () => inner.forceFlush(),
    shutdown: () => inner.shutdown(),
    ...(inner.selectAggregationTemporality ? { selectAggregationTemporality: inner.selectAggregationTemporality.bind(inner) } : {}),
    ...(inner.selectAggregation ? { selectAggregation: inner.selectAggregation.bind(inner) } : {}),
  };
}

const headerGetter = {
  keys: (carrier: Headers) => [...carrier.keys()],
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
};
const recordSetter = { set: (carrier: Record<string, string>, key: string, value: string) => void (carrier[key] = value) };

/**
 * The OpenTelemetry SDK set up from the OTEL_* configuration: a tracer that
 * makes one SERVER span per call (continuing the caller's trace) and one
 * CLIENT span per upstream attempt, plus the GenAI client metrics. Batches are
 * exported in the background; a dead backend costs retries, never a call.
 */
export function createTelemetry(config: TelemetryConfig, version: string, onError: (message: string) => void): Telemetry {
  const stats: TelemetryStats = { spansExported: 0, exportFailures: 0 };
  const resource = resourceFromAttributes({
    ...config.resourceAttributes,
    "service.name": config.serviceName,
    "service.version": version,
  });
  const propagator = new W3CTraceContextPropagator();

  let provider: TracerProvider | undefined;
  if (config.traces) {
    const target = config.traces;
    const exporter = target.protocol === "http/json" ? new OTLPTraceExporterJson(exporterOptions(target)) : new OTLPTraceExporterProto(exporterOptions(target));
    provider = new TracerProvider({
      resource,
      sampler: createSampler(config.sampler.kind, config.sampler.ratio),
      // Small batches: a full batch is serialised inside the span.end() that fills it, so
      // 128 keeps that stall near 1 ms; a deep queue rides out a slow backend (bench/README.md).
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: countingSpanExporter(exporter, stats, onError),
          scheduledDelayMillis: 1000,
          maxExportBatchSize: 128,
          maxQueueSize: 16_384,
        }),
      ],
    });
  }
  const tracer = provider?.getTracer("loupe", version);

  let meterProvider: MeterProvider | undefined;
  let duration: Histogram | undefined;
  let tokens: Histogram | undefined;
  let firstChunk: Histogram | undefined;
  if (config.metrics) {
    const target = config.metrics;
    const exporter = target.protocol === "http/json" ? new OTLPMetricExporterJson(exporterOptions(target)) : new OTLPMetricExporterProto(exporterOptions(target));
    meterProvider = new MeterProvider({
      resource,
      readers: [
        new PeriodicExportingMetricReader({
          exporter: countingMetricExporter(exporter, stats, onError),
          exportIntervalMillis: target.intervalMs,
          exportTimeoutMillis: Math.min(target.timeoutMs, target.intervalMs),
        }),
      ],
    });
    const meter = meterProvider.getMeter("loupe", version);
    duration = meter.createHistogram("gen_ai.client.operation.duration", {
      unit: "s",
      description: "GenAI operation duration",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    tokens = meter.createHistogram("gen_ai.client.token.usage", {
      unit: "{token}",
      description: "Number of input and output tokens used",
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    });
    firstChunk = meter.createHistogram("gen_ai.client.operation.time_to_first_chunk", {
      unit: "s",
      description: "Time to receive the first chunk of a streamed response",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
  }

  // The attribute sets repeat (one per provider × model × error): build each once, not per call.
  const attributeSets = new Map<string, { base: Attributes; input: Attributes; output: Attributes }>();
  function metricAttributes(record: RequestRecord, details: CallDetails) {
    const base = describeMetricAttributes(record, details);
    const key = JSON.stringify(base);
    let sets = attributeSets.get(key);
    if (!sets) {
      if (attributeSets.size > 10_000) attributeSets.clear();
      sets = { base, input: { ...base, "gen_ai.token.type": "input" }, output: { ...base, "gen_ai.token.type": "output" } };
      attributeSets.set(key, sets);
    }
    return sets;
  }

  function recordMetrics(record: RequestRecord, details: CallDetails) {
    if (!duration || !tokens || !firstChunk) return;
    const sets = metricAttributes(record, details);
    duration.record(record.duration_ms / 1000, sets.base);
    if (record.input_tokens !== null) tokens.record(Number(record.input_tokens), sets.input);
    if (record.output_tokens !== null) tokens.record(Number(record.output_tokens), sets.output);
    if (record.streamed && record.ttfb_ms !== null) firstChunk.record(record.ttfb_ms / 1000, sets.base);
  }

  const callTracer: CallTracer = {
    captureContent: config.captureContent,
    begin({ method, path, headers, startTime }): CallTrace {
      const parent: Context = propagator.extract(context.active(), headers, headerGetter);
      const server: Span | undefined = tracer?.startSpan(
        `${method} ${path.split("?")[0]}`,
        { kind: SpanKind.SERVER, startTime, attributes: { "http.request.method": method, "url.path": path.split("?")[0] ?? path } },
        parent,
      );
      const serverContext = server ? trace.setSpan(parent, server) : parent;
      const traceId = server?.spanContext().traceId ?? trace.getSpanContext(parent)?.traceId ?? "";
      let client: Span | undefined;
      return {
        traceId,
        startUpstream(time) {
          client = tracer?.startSpan("chat", { kind: SpanKind.CLIENT, startTime: time }, serverContext);
          const carrier: Record<string, string> = {};
          propagator.inject(client ? trace.setSpan(serverContext, client) : serverContext, carrier, recordSetter);
          return carrier;
        },
        end(record, details, endTime) {
          recordMetrics(record, details);
          if (!server) return;
          const description = describeClientSpan(record, details);
          if (client) {
            client.updateName(description.name);
            client.setAttributes(description.attributes);
            if (description.error) client.setStatus({ code: SpanStatusCode.ERROR, message: record.error_message ?? description.error });
            client.end(endTime);
          }
          server.setAttributes({ "http.response.status_code": record.status, "loupe.record.id": record.id });
          if (record.status >= 500) server.setStatus({ code: SpanStatusCode.ERROR });
          server.end(endTime);
        },
      };
    },
  };

  return {
    tracer: callTracer,
    stats: () => ({ ...stats }),
    async shutdown() {
      await Promise.allSettled([provider?.shutdown(), meterProvider?.shutdown()]);
    },
  };
}
