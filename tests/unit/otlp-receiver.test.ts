// Proves tests/support/otlp-receiver.ts decodes exactly what the official OpenTelemetry JS
// OTLP/HTTP exporters send: protobuf and JSON, with and without gzip.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { SpanKind, SpanStatusCode, ROOT_CONTEXT, trace, type Attributes } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { OTLPMetricExporter as OTLPMetricExporterJson } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as OTLPMetricExporterProto } from "@opentelemetry/exporter-metrics-otlp-proto";
import { OTLPTraceExporter as OTLPTraceExporterJson } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OTLPTraceExporterProto } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type SpanExporter } from "@opentelemetry/sdk-trace";
import { startOtlpReceiver, type OtlpReceiver } from "../support/otlp-receiver.ts";

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.stop();
});
beforeEach(() => {
  receiver.failWith(null);
  receiver.reset();
});

type Protocol = "proto" | "json";
type Compression = "gzip" | "none";
const MATRIX: [Protocol, Compression][] = [
  ["proto", "none"],
  ["proto", "gzip"],
  ["json", "none"],
  ["json", "gzip"],
];
const CONTENT_TYPE: Record<Protocol, string> = { proto: "application/x-protobuf", json: "application/json" };

function exporterOptions(signal: "traces" | "metrics", compression: Compression, timeoutMillis?: number) {
  return {
    url: `${receiver.url}/v1/${signal}`,
    headers: { "x-loupe-test": "header-value", authorization: "Bearer t0ken" },
    // CompressionAlgorithm is an enum of otlp-exporter-base (not a direct dependency); its values are these strings
    ...(compression === "gzip" ? { compression: "gzip" as never } : {}),
    ...(timeoutMillis !== undefined ? { timeoutMillis } : {}),
  };
}

function traceExporter(protocol: Protocol, compression: Compression, timeoutMillis?: number): SpanExporter {
  const options = exporterOptions("traces", compression, timeoutMillis);
  return protocol === "proto" ? new OTLPTraceExporterProto(options) : new OTLPTraceExporterJson(options);
}

const CHILD_ATTRIBUTES: Attributes = {
  "gen_ai.system": "openai",
  "gen_ai.usage.input_tokens": 42,
  "gen_ai.request.temperature": 0.75,
  "loupe.streamed": true,
  "loupe.flag_off": false,
  "gen_ai.response.finish_reasons": ["stop", "length"],
  "loupe.ints": [1, 2, 3],
  "loupe.doubles": [0.5, 1.25],
  "loupe.bools": [true, false],
  "loupe.empty_string": "",
  "loupe.zero": 0,
  "loupe.big_int": 9007199254740991,
  "loupe.unicode": "héllo → 世界",
};

describe.each(MATRIX)("traces over %s, compression %s", (protocol, compression) => {
  test("span with parent, attributes, status, event, resource and scope decodes exactly", async () => {
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ "service.name": "loupe-test", "service.version": "9.9.9", "loupe.resource_int": 7 }),
      spanProcessors: [new SimpleSpanProcessor({ exporter: traceExporter(protocol, compression) })],
    });
    const tracer = provider.getTracer("loupe.test-scope", "1.2.3");

    const parent = tracer.startSpan("POST /v1/chat/completions", { kind: SpanKind.SERVER, startTime: [1_700_000_000, 1] });
    const child = tracer.startSpan(
      "chat gpt-4o",
      { kind: SpanKind.CLIENT, attributes: CHILD_ATTRIBUTES, startTime: [1_700_000_000, 123_456_789] },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    child.addEvent("gen_ai.content.prompt", { "gen_ai.prompt": "hi" }, [1_700_000_000, 500_000_000]);
    child.setStatus({ code: SpanStatusCode.ERROR, message: "upstream 503" });
    child.end([1_700_000_001, 987_654_321]);
    parent.setStatus({ code: SpanStatusCode.OK });
    parent.end([1_700_000_002, 0]);
    await provider.forceFlush();

    const spans = await receiver.waitForSpans((s) => s.length >= 2);
    expect(spans).toHaveLength(2);
    const gotChild = spans.find((s) => s.name === "chat gpt-4o")!;
    const gotParent = spans.find((s) => s.name === "POST /v1/chat/completions")!;

    expect(gotChild.traceId).toBe(child.spanContext().traceId);
    expect(gotChild.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(gotChild.spanId).toBe(child.spanContext().spanId);
    expect(gotChild.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(gotChild.parentSpanId).toBe(parent.spanContext().spanId);
    expect(gotParent.parentSpanId).toBeUndefined();
    expect(gotParent.traceId).toBe(gotChild.traceId);

    expect(gotChild.kind).toBe("CLIENT");
    expect(gotParent.kind).toBe("SERVER");
    // fixed64 nanoseconds above 2^53 survive exactly
    expect(gotChild.startTimeUnixNano).toBe(1_700_000_000_123_456_789n);
    expect(gotChild.endTimeUnixNano).toBe(1_700_000_001_987_654_321n);
    expect(gotParent.startTimeUnixNano).toBe(1_700_000_000_000_000_001n);

    expect(gotChild.attributes).toEqual(CHILD_ATTRIBUTES);
    expect(gotChild.status).toEqual({ code: "ERROR", message: "upstream 503" });
    expect(gotParent.status).toEqual({ code: "OK" });
    expect(gotChild.events).toEqual([{ name: "gen_ai.content.prompt", timeUnixNano: 1_700_000_000_500_000_000n, attributes: { "gen_ai.prompt": "hi" } }]);

    expect(gotChild.resource).toEqual({ "service.name": "loupe-test", "service.version": "9.9.9", "loupe.resource_int": 7 });
    expect(gotChild.scope).toEqual({ name: "loupe.test-scope", version: "1.2.3" });

    expect(receiver.requests.length).toBeGreaterThanOrEqual(1);
    for (const r of receiver.requests) {
      expect(r.path).toBe("/v1/traces");
      expect(r.status).toBe(200);
      expect(r.contentType).toBe(CONTENT_TYPE[protocol]);
      expect(r.encoding).toBe(compression === "gzip" ? "gzip" : "identity");
      expect(r.headers.get("x-loupe-test")).toBe("header-value");
      expect(r.headers.get("authorization")).toBe("Bearer t0ken");
      expect(r.headers.get("user-agent")).toContain("OTel-OTLP-Exporter-JavaScript");
    }
    await provider.shutdown();
  });
});

test("BatchSpanProcessor delivers many spans in one request", async () => {
  const provider = new TracerProvider({
    spanProcessors: [new BatchSpanProcessor({ exporter: traceExporter("proto", "gzip"), scheduledDelayMillis: 60_000 })],
  });
  const tracer = provider.getTracer("batch");
  for (let i = 0; i < 25; i++) tracer.startSpan(`span-${i}`, { attributes: { i } }).end();
  await provider.forceFlush();
  const spans = await receiver.waitForSpans((s) => s.length >= 25);
  expect(spans.map((s) => s.attributes["i"])).toEqual(Array.from({ length: 25 }, (_, i) => i));
  expect(spans.every((s) => s.kind === "INTERNAL" && s.status.code === "UNSET")).toBe(true);
  expect(receiver.requests).toHaveLength(1);
  await provider.shutdown();
});

describe.each(MATRIX)("metrics over %s, compression %s", (protocol, compression) => {
  test("histogram, counter and gauge decode exactly", async () => {
    const options = { ...exporterOptions("metrics", compression) };
    const exporter = protocol === "proto" ? new OTLPMetricExporterProto(options) : new OTLPMetricExporterJson(options);
    const meterProvider = new MeterProvider({
      resource: resourceFromAttributes({ "service.name": "loupe-test" }),
      readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 })],
    });
    const meter = meterProvider.getMeter("loupe.metrics", "0.1.0");
    const duration = meter.createHistogram("gen_ai.client.operation.duration", {
      unit: "s",
      description: "GenAI operation duration",
      advice: { explicitBucketBoundaries: [0.1, 1, 10] },
    });
    const attrs = { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "loupe.status": 200 };
    duration.record(0.05, attrs);
    duration.record(0.5, attrs);
    duration.record(2.5, attrs);
    meter.createCounter("loupe.requests", { unit: "{request}" }).add(3, { route: "/v1/chat" });
    meter.createGauge("loupe.queue_depth").record(1.5);
    await meterProvider.forceFlush();

    const points = await receiver.waitForMetrics((p) => p.length >= 3);
    const hist = points.find((p) => p.metric === "gen_ai.client.operation.duration")!;
    expect(hist).toMatchObject({
      type: "histogram",
      unit: "s",
      description: "GenAI operation duration",
      attributes: attrs,
      count: 3,
      bucketCounts: [1, 1, 1, 0],
      explicitBounds: [0.1, 1, 10],
      min: 0.05,
      max: 2.5,
      temporality: "CUMULATIVE",
      resource: { "service.name": "loupe-test" },
      scope: { name: "loupe.metrics", version: "0.1.0" },
    });
    expect(hist.sum).toBeCloseTo(3.05, 10);
    expect(hist.timeUnixNano).toBeGreaterThanOrEqual(hist.startTimeUnixNano);
    expect(hist.timeUnixNano).toBeGreaterThan(BigInt(Date.now() - 60_000) * 1_000_000n);

    const counter = points.find((p) => p.metric === "loupe.requests")!;
    expect(counter).toMatchObject({ type: "sum", unit: "{request}", value: 3, isMonotonic: true, attributes: { route: "/v1/chat" } });
    const gauge = points.find((p) => p.metric === "loupe.queue_depth")!;
    expect(gauge).toMatchObject({ type: "gauge", value: 1.5, attributes: {} });

    const r = receiver.requests[0]!;
    expect(r).toMatchObject({ path: "/v1/metrics", status: 200, contentType: CONTENT_TYPE[protocol], encoding: compression === "gzip" ? "gzip" : "identity" });
    expect(r.headers.get("x-loupe-test")).toBe("header-value");
    await meterProvider.shutdown();
  });
});

describe("failures", () => {
  async function finishedSpans(n: number) {
    const memory = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] });
    for (let i = 0; i < n; i++) provider.getTracer("t").startSpan(`s${i}`).end();
    await provider.forceFlush();
    return memory.getFinishedSpans();
  }
  const exportOnce = (exporter: SpanExporter, spans: Awaited<ReturnType<typeof finishedSpans>>) =>
    new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));

  test("failWith(400): the exporter reports FAILED, nothing is decoded, the request is recorded", async () => {
    receiver.failWith(400);
    const result = await exportOnce(traceExporter("proto", "none"), await finishedSpans(1));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(receiver.spans).toHaveLength(0);
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.status).toBe(400);

    receiver.failWith(null);
    const ok = await exportOnce(traceExporter("proto", "none"), await finishedSpans(1));
    expect(ok.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.spans).toHaveLength(1);
  });

  test("failWith(503) is retried by the exporter until its timeout, then FAILED", async () => {
    receiver.failWith(503);
    const result = await exportOnce(traceExporter("json", "gzip", 1500), await finishedSpans(1));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(receiver.requests.length).toBeGreaterThanOrEqual(1);
    expect(receiver.requests.every((r) => r.status === 503)).toBe(true);
    expect(receiver.spans).toHaveLength(0);
  });

  test("unknown path, bad encoding, bad body are rejected and recorded", async () => {
    const post = (path: string, headers: Record<string, string>, body: string | Uint8Array) => fetch(`${receiver.url}${path}`, { method: "POST", headers, body });
    expect((await post("/v1/logs", { "content-type": "application/json" }, "{}")).status).toBe(404);
    expect((await post("/v1/traces", { "content-type": "application/json", "content-encoding": "br" }, "{}")).status).toBe(415);
    expect((await post("/v1/traces", { "content-type": "text/plain" }, "{}")).status).toBe(415);
    expect((await post("/v1/traces", { "content-type": "application/json", "content-encoding": "gzip" }, "{}")).status).toBe(400);
    expect((await post("/v1/traces", { "content-type": "application/json" }, "{not json")).status).toBe(400);
    expect((await post("/v1/traces", { "content-type": "application/x-protobuf" }, new Uint8Array([0x0a, 0xff]))).status).toBe(400);
    expect(receiver.requests.map((r) => r.status)).toEqual([404, 415, 415, 400, 400, 400]);
    expect(receiver.requests[3]!.error).toContain("gzip");
    await expect(receiver.waitForSpans((s) => s.length > 0, 50)).rejects.toThrow(/timed out after 50ms/);
  });
});

test("hand-written OTLP/JSON: enum names, int64 as numbers, upper-case hex, kvlist, bytes, snake_case keys", async () => {
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: "other-sdk" } }] },
        scopeSpans: [
          {
            scope: { name: "hand" },
            spans: [
              {
                traceId: "5B8EFFF798038103D269B633813FC60C",
                spanId: "EEE19B7EC3C1B174",
                parentSpanId: "",
                name: "handmade",
                kind: "SPAN_KIND_PRODUCER",
                startTimeUnixNano: 1544712660000000000,
                end_time_unix_nano: "1544712661000000000",
                attributes: [
                  { key: "n", value: { intValue: 5 } },
                  { key: "s", value: { intValue: "-12" } },
                  { key: "kv", value: { kvlistValue: { values: [{ key: "a", value: { boolValue: true } }] } } },
                  { key: "b", value: { bytesValue: "AQL/" } },
                  { key: "nan", value: { doubleValue: "NaN" } },
                  { key: "empty", value: {} },
                ],
                status: { code: "STATUS_CODE_ERROR" },
              },
            ],
          },
        ],
      },
    ],
  };
  const res = await fetch(`${receiver.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json; charset=utf-8" }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/json");
  expect(await res.json()).toEqual({});
  const [span] = receiver.spans;
  expect(span).toMatchObject({
    traceId: "5b8efff798038103d269b633813fc60c",
    spanId: "eee19b7ec3c1b174",
    parentSpanId: undefined,
    kind: "PRODUCER",
    status: { code: "ERROR" },
    scope: { name: "hand" },
    resource: { "service.name": "other-sdk" },
  });
  expect(span!.startTimeUnixNano).toBe(1544712660000000000n);
  expect(span!.endTimeUnixNano).toBe(1544712661000000000n);
  expect(span!.attributes).toEqual({ n: 5, s: -12, kv: { a: true }, b: new Uint8Array([1, 2, 255]), nan: NaN, empty: undefined });
});
