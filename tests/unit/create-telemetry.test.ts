import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { RequestRecord } from "../../src/record.ts";
import { createTelemetry } from "../../src/sinks/otlp/create-telemetry.ts";
import type { CallDetails } from "../../src/sinks/otlp/genai-span.ts";
import type { OtlpTarget, SamplerKind, TelemetryConfig } from "../../src/telemetry/otel-config.ts";
import { startOtlpReceiver, type OtlpReceiver } from "../support/otlp-receiver.ts";

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver.stop());
beforeEach(() => receiver.reset());

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
const T0 = 1_700_000_000_000;

function config(over: { traces?: boolean; metrics?: boolean; sampler?: SamplerKind } = {}): TelemetryConfig {
  const target = (signal: string): OtlpTarget => ({ url: `${receiver.url}/v1/${signal}`, headers: {}, protocol: "http/protobuf", compression: "none", timeoutMs: 2000 });
  return {
    traces: over.traces === false ? undefined : target("traces"),
    metrics: over.metrics === false ? undefined : { ...target("metrics"), intervalMs: 600_000 },
    serviceName: "loupe-test",
    resourceAttributes: { "deployment.environment.name": "ci" },
    sampler: { kind: over.sampler ?? "parentbased_always_on", ratio: 1 },
    captureContent: false,
  };
}

const record = (over: Partial<RequestRecord> = {}): RequestRecord => ({
  id: "rec-1",
  started_at: new Date(T0).toISOString(),
  duration_ms: 250,
  key_id: null,
  attempts: 1,
  routed_provider: null,
  routed_model: null,
  ratelimit: null,
  limit_hit: null,
  ttfb_ms: 40,
  provider: "openai",
  operation: "chat",
  billable: true,
  prompt_preview: null,
  method: "POST",
  path: "/openai/v1/chat/completions",
  status: 200,
  model: "gpt-4o",
  response_model: "gpt-4o-2024-08-06",
  streamed: true,
  input_tokens: 100,
  cache_read_tokens: null,
  cache_write_tokens: null,
  output_tokens: 20,
  reasoning_tokens: null,
  cost_usd: "0.000450000",
  cost_source: "genai-prices",
  price_version: "1",
  session_id: null,
  user_id: null,
  project: null,
  tags: null,
  finish_reason: "stop",
  error_type: null,
  error_message: null,
  request_bytes: 10,
  response_bytes: 20,
  upstream_request_id: null,
  trace_id: null,
  usage_raw: null,
  request_body: null,
  response_body: null,
  truncated: false,
  cache_write_1h_tokens: null,
  agent_id: null,
  parent_agent_id: null,
  request_class: null,
  agent_type: null,
  ...over,
});
const details: CallDetails = { genAiProvider: "openai", serverAddress: "api.openai.com", serverPort: 443 };
const begin = (telemetry: ReturnType<typeof createTelemetry>, headers: Record<string, string> = {}) =>
  telemetry.tracer.begin({ method: "POST", path: "/openai/v1/chat/completions?x=1", traceparent: headers.traceparent ?? null, tracestate: headers.tracestate ?? null, startTime: T0 });

describe("spans of a call", () => {
  test("the SERVER span continues the caller's trace, the CLIENT span is its child and is what the upstream sees", async () => {
    const telemetry = createTelemetry(config(), "1.2.3", () => {});
    const trace = begin(telemetry, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, tracestate: "rojo=00f067aa0ba902b7" });
    expect(trace.traceId).toBe(CALLER_TRACE);
    const upstream = trace.startUpstream(T0 + 5);
    expect(upstream.traceparent).toMatch(new RegExp(`^00-${CALLER_TRACE}-[0-9a-f]{16}-01$`));
    expect(upstream.tracestate).toBe("rojo=00f067aa0ba902b7");
    telemetry.emit(record({ status: 502, error_type: "upstream_error", error_message: "bad gateway" }), { details, endTime: T0 + 250, spans: trace.finish() });
    await telemetry.shutdown();

    const server = receiver.spans.find((s) => s.kind === "SERVER")!;
    const client = receiver.spans.find((s) => s.kind === "CLIENT")!;
    expect(receiver.spans).toHaveLength(2);
    expect(server).toMatchObject({
      traceId: CALLER_TRACE,
      parentSpanId: CALLER_SPAN,
      traceState: "rojo=00f067aa0ba902b7",
      name: "POST /openai/v1/chat/completions",
      startTimeUnixNano: BigInt(T0) * 1_000_000n,
      endTimeUnixNano: BigInt(T0 + 250) * 1_000_000n,
      attributes: { "http.request.method": "POST", "url.path": "/openai/v1/chat/completions", "http.response.status_code": 502, "loupe.record.id": "rec-1" },
      status: { code: "ERROR" },
      resource: { "service.name": "loupe-test", "service.version": "1.2.3", "deployment.environment.name": "ci" },
      scope: { name: "loupe", version: "1.2.3" },
    });
    expect(client).toMatchObject({
      traceId: CALLER_TRACE,
      parentSpanId: server.spanId,
      name: "chat gpt-4o",
      startTimeUnixNano: BigInt(T0 + 5) * 1_000_000n,
      status: { code: "ERROR", message: "bad gateway" },
    });
    expect(client.attributes).toMatchObject({ "gen_ai.provider.name": "openai", "error.type": "upstream_error", "loupe.record.id": "rec-1" });
    expect(upstream.traceparent).toBe(`00-${CALLER_TRACE}-${client.spanId}-01`);
    expect(telemetry.stats()).toEqual({ spansExported: 2, exportFailures: 0 });
  });

  test("without a caller's traceparent a new trace starts; a call refused before the upstream has only its SERVER span", async () => {
    const telemetry = createTelemetry(config(), "1.2.3", () => {});
    const trace = begin(telemetry, { traceparent: "not-a-traceparent", tracestate: "dropped=1" });
    expect(trace.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(trace.traceId).not.toBe(CALLER_TRACE);
    telemetry.emit(record({ status: 400 }), { details, endTime: T0 + 1, spans: trace.finish() });
    await telemetry.shutdown();
    expect(receiver.spans).toHaveLength(1);
    expect(receiver.spans[0]).toMatchObject({ kind: "SERVER", traceId: trace.traceId, parentSpanId: undefined, status: { code: "UNSET" } });
    expect(receiver.spans[0]!.traceState).toBeUndefined();
  });

  test("an unsampled caller: the trace id is kept and passed on unsampled, no span is exported, metrics still are", async () => {
    const telemetry = createTelemetry(config(), "1.2.3", () => {});
    const trace = begin(telemetry, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00` });
    expect(trace.traceId).toBe(CALLER_TRACE);
    expect(trace.startUpstream(T0).traceparent).toMatch(new RegExp(`^00-${CALLER_TRACE}-[0-9a-f]{16}-00$`));
    telemetry.emit(record(), { details, endTime: T0 + 1, spans: trace.finish() });
    await telemetry.shutdown();
    expect(receiver.spans).toEqual([]);
    expect(receiver.requests.map((r) => r.path)).toEqual(["/v1/metrics"]);
  });

  test("retries and fallbacks: each attempt is its own CLIENT span with its own traceparent; the last carries the answer", async () => {
    const telemetry = createTelemetry(config(), "1.2.3", () => {});
    const trace = begin(telemetry, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` });
    const first = trace.startUpstream(T0 + 5);
    trace.failUpstream({ provider: "groq", serverAddress: "127.0.0.1", serverPort: 9, errorType: "connect" }, T0 + 6);
    const second = trace.startUpstream(T0 + 10);
    trace.failUpstream({ provider: "openai", serverAddress: "api.openai.com", serverPort: 443, status: 429, errorType: "429" }, T0 + 30);
    const last = trace.startUpstream(T0 + 40);
    const ids = trace.finish()!;
    expect(ids.attempts).toHaveLength(2);
    // The recorder names each attempt's GenAI provider.
    ids.attempts![0]!.genAiProvider = "groq";
    telemetry.emit(record(), { details, endTime: T0 + 250, spans: ids });
    await telemetry.shutdown();

    const server = receiver.spans.find((s) => s.kind === "SERVER")!;
    const clients = receiver.spans.filter((s) => s.kind === "CLIENT");
    expect(clients).toHaveLength(3);
    const spanIds = [first, second, last].map((headers) => headers.traceparent!.split("-")[2]);
    expect(new Set(spanIds).size).toBe(3);
    expect(clients.map((s) => s.spanId)).toEqual(spanIds as string[]);
    for (const client of clients) expect(client).toMatchObject({ traceId: CALLER_TRACE, parentSpanId: server.spanId, name: "chat gpt-4o" });
    expect(clients[0]).toMatchObject({ startTimeUnixNano: BigInt(T0 + 5) * 1_000_000n, endTimeUnixNano: BigInt(T0 + 6) * 1_000_000n, status: { code: "ERROR", message: "connect" } });
    expect(clients[0]!.attributes).toMatchObject({ "gen_ai.provider.name": "groq", "server.address": "127.0.0.1", "server.port": 9, "error.type": "connect", "loupe.attempt": 1 });
    expect(clients[0]!.attributes["http.response.status_code"]).toBeUndefined();
    expect(clients[1]).toMatchObject({ startTimeUnixNano: BigInt(T0 + 10) * 1_000_000n, endTimeUnixNano: BigInt(T0 + 30) * 1_000_000n, status: { code: "ERROR" } });
    expect(clients[1]!.attributes).toMatchObject({ "gen_ai.provider.name": "openai", "server.address": "api.openai.com", "http.response.status_code": 429, "error.type": "429", "loupe.attempt": 2 });
    expect(clients[1]!.attributes["gen_ai.usage.input_tokens"]).toBeUndefined();
    expect(clients[2]).toMatchObject({ startTimeUnixNano: BigInt(T0 + 40) * 1_000_000n, endTimeUnixNano: BigInt(T0 + 250) * 1_000_000n, status: { code: "UNSET" } });
    expect(clients[2]!.attributes).toMatchObject({ "http.response.status_code": 200, "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20 });
    expect(clients[2]!.attributes["loupe.attempt"]).toBeUndefined();
  });

  test("one attempt: no attempts field, the event as before; an unsampled call keeps no failed attempts", async () => {
    const telemetry = createTelemetry(config({ metrics: false }), "1.2.3", () => {});
    const once = begin(telemetry);
    once.startUpstream(T0);
    expect(Object.keys(once.finish()!)).not.toContain("attempts");
    const unsampled = begin(telemetry, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00` });
    const a = unsampled.startUpstream(T0).traceparent!;
    unsampled.failUpstream({ provider: "openai", serverAddress: "api.openai.com", serverPort: 443, status: 503, errorType: "503" }, T0 + 1);
    const b = unsampled.startUpstream(T0 + 2).traceparent!;
    expect(a).not.toBe(b);
    expect(b).toEndWith("-00");
    expect(unsampled.finish()).toBeUndefined();
    await telemetry.shutdown();
  });

  test("always_off samples nothing, yet every call gets a trace id", async () => {
    const telemetry = createTelemetry(config({ sampler: "always_off", metrics: false }), "1.2.3", () => {});
    const trace = begin(telemetry);
    expect(trace.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(trace.startUpstream(T0).traceparent).toEndWith("-00");
    telemetry.emit(record(), { details, endTime: T0 + 1, spans: trace.finish() });
    await telemetry.shutdown();
    expect(receiver.requests).toEqual([]);
  });
});

describe("metrics only (traces off)", () => {
  test("the record keeps the caller's trace id; nothing is added upstream", async () => {
    const telemetry = createTelemetry(config({ traces: false }), "1.2.3", () => {});
    const traced = begin(telemetry, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` });
    expect(traced.traceId).toBe(CALLER_TRACE);
    expect(traced.startUpstream(T0)).toEqual({});
    expect(begin(telemetry).traceId).toBeUndefined();
    telemetry.emit(record(), { details, endTime: T0 + 1, spans: traced.finish() });
    await telemetry.shutdown();
    expect(receiver.spans).toEqual([]);
  });

  test("duration, token usage by type and time to first chunk per attribute set, exported at shutdown", async () => {
    const telemetry = createTelemetry(config({ traces: false }), "1.2.3", () => {});
    telemetry.emit(record(), { details, endTime: T0, spans: begin(telemetry).finish() });
    telemetry.emit(record({ duration_ms: 3000, input_tokens: 300, output_tokens: null }), { details, endTime: T0, spans: begin(telemetry).finish() });
    telemetry.emit(record({ model: "gpt-4o-mini", streamed: false, status: 429, error_type: "rate_limit_error", input_tokens: null, output_tokens: null }), { details, endTime: T0, spans: begin(telemetry).finish() });
    await telemetry.shutdown();

    const base = {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "server.address": "api.openai.com",
      "server.port": 443,
      "gen_ai.response.model": "gpt-4o-2024-08-06",
    };
    const point = (metric: string, attributes: Record<string, unknown>) => receiver.metrics.find((p) => p.metric === metric && Bun.deepEquals(p.attributes, attributes));
    expect(point("gen_ai.client.operation.duration", { ...base, "gen_ai.request.model": "gpt-4o" })).toMatchObject({ count: 2, sum: 3.25, min: 0.25, max: 3, unit: "s" });
    expect(point("gen_ai.client.token.usage", { ...base, "gen_ai.request.model": "gpt-4o", "gen_ai.token.type": "input" })).toMatchObject({ count: 2, sum: 400, unit: "{token}" });
    expect(point("gen_ai.client.token.usage", { ...base, "gen_ai.request.model": "gpt-4o", "gen_ai.token.type": "output" })).toMatchObject({ count: 1, sum: 20 });
    expect(point("gen_ai.client.operation.time_to_first_chunk", { ...base, "gen_ai.request.model": "gpt-4o" })).toMatchObject({ count: 2, sum: 0.08 });
    expect(point("gen_ai.client.operation.duration", { ...base, "gen_ai.request.model": "gpt-4o-mini", "error.type": "rate_limit_error" })).toMatchObject({ count: 1 });
    expect(receiver.metrics.filter((p) => p.metric === "gen_ai.client.operation.time_to_first_chunk")).toHaveLength(1);
    expect(receiver.metrics.filter((p) => p.metric === "gen_ai.client.token.usage")).toHaveLength(2);
    expect(receiver.metrics.every((p) => p.temporality === "CUMULATIVE")).toBe(true);
  });

  test("more than 2000 attribute sets: the rest share the overflow set", async () => {
    const telemetry = createTelemetry(config({ traces: false }), "1.2.3", () => {});
    for (let i = 0; i < 2005; i++) telemetry.emit(record({ model: `model-${i}`, input_tokens: null, output_tokens: null, streamed: false }), { details, endTime: T0, spans: begin(telemetry).finish() });
    await telemetry.shutdown();
    const durations = receiver.metrics.filter((p) => p.metric === "gen_ai.client.operation.duration");
    expect(durations).toHaveLength(2001);
    expect(durations.find((p) => p.attributes["otel.metric.overflow"] === true)?.count).toBe(5);
  });
});

test("a backend that refuses is counted and reported, for traces and metrics each", async () => {
  receiver.failWith(503);
  const errors: string[] = [];
  const telemetry = createTelemetry(config(), "1.2.3", (m) => errors.push(m));
  const trace = begin(telemetry);
  trace.startUpstream(T0);
  telemetry.emit(record(), { details, endTime: T0 + 1, spans: trace.finish() });
  await telemetry.shutdown();
  receiver.failWith(null);
  expect(telemetry.stats()).toMatchObject({ spansExported: 0, exportFailures: 2 });
  expect(errors.sort()).toEqual([expect.stringMatching(/^metric export failed: .* answered 503/), expect.stringMatching(/^trace export failed: .* answered 503/)]);
});
