import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { seedRecords } from "../support/seed.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver.ts";

let mock: MockUpstream;
let receiver: OtlpReceiver;
beforeAll(async () => {
  mock = await startMockUpstream();
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await mock.stop();
  await receiver.stop();
});

const upstreams = () => ({ LOUPE_ANTHROPIC_BASE_URL: mock.url, LOUPE_OPENAI_BASE_URL: mock.url, LOUPE_GEMINI_BASE_URL: mock.url });
const otel = (extra: Record<string, string> = {}) => ({
  ...upstreams(),
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  OTEL_METRIC_EXPORT_INTERVAL: "500",
  ...extra,
});
const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
const clientSpanFor = (spans: ReceivedSpan[], recordId: string) => spans.find((s) => s.kind === "CLIENT" && s.attributes["loupe.record.id"] === recordId);

describe("GenAI spans and metrics over OTLP (protobuf, gzip)", () => {
  let gw: Gateway;
  beforeAll(async () => {
    receiver.reset();
    gw = await startGateway({
      env: otel({ OTEL_EXPORTER_OTLP_COMPRESSION: "gzip", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "true", OTEL_SERVICE_NAME: "loupe-test", OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=ci" }),
    });
  });
  afterAll(() => gw.stop());

  test("Anthropic stream: caller's trace continued, client span's traceparent sent upstream, values equal the record", async () => {
    const client = new Anthropic({ apiKey: "k", baseURL: `${gw.url}/anthropic`, maxRetries: 0 });
    const response = await client.messages
      .create(
        { model: "claude-sonnet-4-5", max_tokens: 300, stream: true, system: "be brief", messages: [{ role: "user", content: "hello" }] },
        { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, "x-mock-fixture": "anthropic/messages-stream-cache.CONSTRUCTED.sse", "x-loupe-session": "s-1", "x-loupe-user": "u-1" } },
      )
      .asResponse();
    await response.text();
    const id = response.headers.get("x-loupe-request-id")!;
    const spans = await receiver.waitForSpans((all) => clientSpanFor(all, id) !== undefined);
    const clientSpan = clientSpanFor(spans, id)!;
    const server = spans.find((s) => s.spanId === clientSpan.parentSpanId)!;
    expect(server).toMatchObject({ kind: "SERVER", traceId: CALLER_TRACE, parentSpanId: CALLER_SPAN });
    expect(clientSpan.traceId).toBe(CALLER_TRACE);
    expect(mock.requests.at(-1)!.headers.get("traceparent")).toBe(`00-${CALLER_TRACE}-${clientSpan.spanId}-01`);
    const [row] = await gw.sql(`select * from requests where id = '${id}'`);
    expect(row!.trace_id).toBe(CALLER_TRACE);
    expect(clientSpan.name).toBe("chat claude-sonnet-4-5");
    expect(clientSpan.status.code).toBe("UNSET");
    expect(clientSpan.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "anthropic",
      "gen_ai.request.model": "claude-sonnet-4-5",
      "gen_ai.response.model": row!.response_model,
      "gen_ai.response.id": "msg_01CacheStreamFixture00001",
      "gen_ai.response.finish_reasons": ["end_turn"],
      "gen_ai.request.max_tokens": 300,
      "gen_ai.usage.input_tokens": Number(row!.input_tokens),
      "gen_ai.usage.output_tokens": Number(row!.output_tokens),
      "gen_ai.usage.cache_read.input_tokens": Number(row!.cache_read_tokens),
      "gen_ai.usage.cache_creation.input_tokens": Number(row!.cache_write_tokens),
      "gen_ai.usage.cost": Number(row!.cost_usd),
      "gen_ai.conversation.id": "s-1",
      "session.id": "s-1",
      "user.id": "u-1",
      "server.address": "127.0.0.1",
      "server.port": Number(new URL(mock.url).port),
      "loupe.record.id": id,
    });
    expect(JSON.parse(clientSpan.attributes["gen_ai.system_instructions"] as string)).toEqual([{ type: "text", content: "be brief" }]);
    expect(JSON.parse(clientSpan.attributes["gen_ai.input.messages"] as string)).toEqual([{ role: "user", parts: [{ type: "text", content: "hello" }] }]);
    expect(JSON.parse(clientSpan.attributes["gen_ai.output.messages"] as string)[0]).toMatchObject({ role: "assistant", finish_reason: "stop" });
    expect(clientSpan.resource).toMatchObject({ "service.name": "loupe-test", "deployment.environment.name": "ci" });
    expect(receiver.requests.some((r) => r.encoding === "gzip" && r.contentType === "application/x-protobuf")).toBe(true);
  });

  test("OpenAI and Gemini, streamed and not; reasoning tokens; provider names", async () => {
    const openai = new OpenAI({ apiKey: "k", baseURL: `${gw.url}/openai/v1`, maxRetries: 0 });
    const { response: chat } = await openai.chat.completions.create({ model: "gpt-5.4", messages: [{ role: "user", content: "hi" }], max_completion_tokens: 50 }).withResponse();
    const gemini = new GoogleGenAI({ apiKey: "k", httpOptions: { baseUrl: `${gw.url}/gemini` } });
    for await (const _ of await gemini.models.generateContentStream({ model: "gemini-2.5-flash", contents: "hi", config: { temperature: 0.5 } })) void _;
    const rows = await gw.sql(`select * from requests where provider = 'gemini'`);
    const chatId = chat.headers.get("x-loupe-request-id")!;
    const spans = await receiver.waitForSpans((all) => clientSpanFor(all, chatId) !== undefined && clientSpanFor(all, rows[0]!.id) !== undefined);
    expect(clientSpanFor(spans, chatId)!.attributes).toMatchObject({
      "gen_ai.provider.name": "openai",
      "gen_ai.request.max_tokens": 50,
      "gen_ai.usage.input_tokens": 1117,
      "gen_ai.usage.output_tokens": 46,
      "gen_ai.usage.cost": 0.0034825,
    });
    expect(clientSpanFor(spans, chatId)!.attributes["gen_ai.output.messages"]).toBeString();
    const geminiSpan = clientSpanFor(spans, rows[0]!.id)!;
    expect(geminiSpan.name).toBe("generate_content gemini-2.5-flash");
    expect(geminiSpan.attributes).toMatchObject({
      "gen_ai.provider.name": "gcp.gemini",
      "gen_ai.request.temperature": 0.5,
      "gen_ai.usage.input_tokens": 20,
      "gen_ai.usage.output_tokens": 513,
      "gen_ai.usage.reasoning.output_tokens": 260,
      "gen_ai.usage.cost": 0.0012885,
    });
  });

  test("an upstream error sets error.type and ERROR status; log-body meta keeps content off the span", async () => {
    const client = new Anthropic({ apiKey: "k", baseURL: `${gw.url}/anthropic`, maxRetries: 0 });
    await client.messages
      .create({ model: "claude-opus-4-8", max_tokens: 1, messages: [{ role: "user", content: "secret" }] }, { headers: { "x-mock-fixture": "anthropic/error-rate-limit-429.CONSTRUCTED.http", "x-loupe-log-body": "meta" } })
      .catch(() => {});
    const [row] = await gw.sql(`select id from requests where status = 429`);
    const spans = await receiver.waitForSpans((all) => clientSpanFor(all, row!.id) !== undefined);
    const span = clientSpanFor(spans, row!.id)!;
    expect(span.status.code).toBe("ERROR");
    expect(span.attributes["error.type"]).toBe("rate_limit_error");
    expect(span.attributes["gen_ai.input.messages"]).toBeUndefined();
  });

  test("a plain call whose record the store makes later still gets its response id and usage on the span", async () => {
    // log-body meta: no content capture, so the record (and the span's response facts) are made from the journaled body.
    const client = new Anthropic({ apiKey: "k", baseURL: `${gw.url}/anthropic`, maxRetries: 0 });
    const { data: message, response } = await client.messages
      .create({ model: "claude-opus-4-8", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }, { headers: { "x-loupe-log-body": "meta" } })
      .withResponse();
    const id = response.headers.get("x-loupe-request-id")!;
    const spans = await receiver.waitForSpans((all) => clientSpanFor(all, id) !== undefined);
    expect(clientSpanFor(spans, id)!.attributes).toMatchObject({
      "gen_ai.response.id": message.id,
      "gen_ai.usage.input_tokens": message.usage.input_tokens + (message.usage.cache_read_input_tokens ?? 0) + (message.usage.cache_creation_input_tokens ?? 0),
      "gen_ai.usage.output_tokens": message.usage.output_tokens,
    });
  });

  test("metrics: duration, token usage by type, time to first chunk — agreeing with the records", async () => {
    const [totals] = await gw.sql(`select count(*)::int as calls, sum(input_tokens)::int as input, sum(output_tokens)::int as output, count(*) filter (where streamed)::int as streams from requests`);
    const points = await receiver.waitForMetrics((all) => {
      const latest = latestPoints(all);
      return sumCount(latest, "gen_ai.client.operation.duration") === totals!.calls;
    }, 8000);
    const latest = latestPoints(points);
    const usage = latest.filter((p) => p.metric === "gen_ai.client.token.usage");
    expect(usage.filter((p) => p.attributes["gen_ai.token.type"] === "input").reduce((n, p) => n + (p.sum ?? 0), 0)).toBe(totals!.input);
    expect(usage.filter((p) => p.attributes["gen_ai.token.type"] === "output").reduce((n, p) => n + (p.sum ?? 0), 0)).toBe(totals!.output);
    expect(sumCount(latest, "gen_ai.client.operation.time_to_first_chunk")).toBe(totals!.streams);
    const duration = latest.find((p) => p.metric === "gen_ai.client.operation.duration")!;
    expect(duration.unit).toBe("s");
    expect(duration.explicitBounds).toEqual([0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]);
    expect(usage[0]!.explicitBounds).toEqual([1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]);
    expect(latest.find((p) => p.attributes["error.type"] === "rate_limit_error")).toBeDefined();
  });
});

/** Cumulative points: keep the newest per metric and attribute set. */
function latestPoints<T extends { metric: string; attributes: Record<string, unknown>; timeUnixNano?: bigint }>(points: T[]): T[] {
  const latest = new Map<string, T>();
  for (const p of points) latest.set(`${p.metric}|${JSON.stringify(Object.entries(p.attributes).sort())}`, p);
  return [...latest.values()];
}
const sumCount = (points: { metric: string; count?: number }[], metric: string) => points.filter((p) => p.metric === metric).reduce((n, p) => n + (p.count ?? 0), 0);

describe("export settings and failure", () => {
  test("http/json with headers; SIGTERM flushes what is pending", async () => {
    receiver.reset();
    const gw = await startGateway({ env: otel({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc", OTEL_METRIC_EXPORT_INTERVAL: "600000" }) });
    const response = await fetch(`${gw.url}/openai/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"model":"gpt-5.4","messages":[]}' });
    const id = response.headers.get("x-loupe-request-id")!;
    await response.text();
    expect(await gw.stop()).toBe(0); // before the batch delay and the 10-minute metric interval
    expect(clientSpanFor(receiver.spans, id)).toBeDefined();
    expect(receiver.metrics.some((p) => p.metric === "gen_ai.client.operation.duration")).toBe(true);
    expect(receiver.requests.every((r) => r.contentType.startsWith("application/json") && r.headers.get("authorization") === "Bearer abc")).toBe(true);
  });

  test("sampler ratio 0 and OTEL_SDK_DISABLED export no spans; the record keeps the caller's trace id", async () => {
    for (const env of [{ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0", OTEL_METRICS_EXPORTER: "none" }, { OTEL_SDK_DISABLED: "true" }]) {
      receiver.reset();
      const gw = await startGateway({ env: otel(env) });
      const response = await fetch(`${gw.url}/openai/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00` },
        body: '{"model":"gpt-5.4","messages":[]}',
      });
      await response.text();
      const [row] = await gw.sql("select trace_id from requests");
      expect(row!.trace_id).toBe(CALLER_TRACE);
      expect(await gw.stop()).toBe(0);
      expect(receiver.spans).toEqual([]);
      expect(receiver.requests.filter((r) => r.path === "/v1/traces")).toEqual([]);
    }
  });

  test("a dead or failing backend leaves proxying unaffected, and is counted", async () => {
    receiver.reset();
    receiver.failWith(400);
    const gw = await startGateway({ env: otel({ OTEL_EXPORTER_OTLP_TIMEOUT: "500" }) });
    const deadGw = await startGateway({ env: { ...upstreams(), OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", OTEL_EXPORTER_OTLP_TIMEOUT: "500" } });
    for (const g of [gw, deadGw]) {
      const statuses = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${g.url}/openai/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"model":"gpt-5.4","messages":[]}' }).then((r) => r.status),
        ),
      );
      expect(statuses.every((s) => s === 200)).toBe(true);
    }
    for (const g of [gw, deadGw]) {
      let failures = 0;
      for (let i = 0; i < 40 && failures === 0; i++) {
        failures = ((await (await fetch(`${g.url}/livez`)).json()) as { telemetry: { exportFailures: number } }).telemetry.exportFailures;
        if (!failures) await Bun.sleep(150);
      }
      expect(failures).toBeGreaterThan(0);
      expect((await g.sql("select count(*)::int as n from requests"))[0]!.n).toBe(20);
      expect(await g.stop()).toBe(0);
    }
    receiver.failWith(null);
  }, 30_000);

  test("spans a backend refused are not lost: the OTLP sink offers its segments again, and they go out once it takes them", async () => {
    receiver.reset();
    receiver.failWith(400);
    const gw = await startGateway({ env: otel({ OTEL_METRICS_EXPORTER: "none" }) });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const response = await fetch(`${gw.url}/openai/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"model":"gpt-5.4","messages":[]}' });
        await response.arrayBuffer();
        ids.push(response.headers.get("x-loupe-request-id")!);
      }
      // Refused at least once (400 is not retried by the export queue: its spans are given up on there).
      let failures = 0;
      for (let i = 0; i < 40 && failures === 0; i++) {
        failures = ((await (await fetch(`${gw.url}/livez`)).json()) as { telemetry: { exportFailures: number } }).telemetry.exportFailures;
        if (!failures) await Bun.sleep(150);
      }
      expect(failures).toBeGreaterThan(0);
      expect(receiver.spans.length).toBe(0);
      receiver.failWith(null);
      const spans = await receiver.waitForSpans((all) => ids.every((id) => clientSpanFor(all, id)), 15_000);
      // Each call's SERVER and CLIENT span, once: none went out while the backend refused them.
      expect(spans.filter((s) => ids.includes(String(s.attributes["loupe.record.id"]))).length).toBe(ids.length * 2);
    } finally {
      receiver.failWith(null);
      expect(await gw.stop()).toBe(0);
    }
  }, 30_000);

  test("kill -9 between journaling and recording: after restart every call has its record and its spans", async () => {
    receiver.reset();
    const dir = tempDir();
    // Nothing is recorded while it runs (a long flush interval): every call is only in the journal when it dies.
    const env = otel({ LOUPE_FLUSH_INTERVAL_MS: "600000", OTEL_METRICS_EXPORTER: "none" });
    const gw = await startGateway({ dir, env });
    const client = new OpenAI({ apiKey: "k", baseURL: `${gw.url}/openai/v1`, maxRetries: 0 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { response } = await client.chat.completions
        .create({ model: "gpt-5.4", messages: [{ role: "user", content: "hi" }] }, { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` } })
        .withResponse();
      ids.push(response.headers.get("x-loupe-request-id")!);
    }
    const stream = await client.chat.completions
      .create({ model: "gpt-5.4", stream: true, messages: [{ role: "user", content: "hi" }] }, { headers: { "x-mock-fixture": "openai/chat-stream-include-usage.openai-node-recording.sse" } })
      .withResponse();
    for await (const _ of stream.data) void _;
    ids.push(stream.response.headers.get("x-loupe-request-id")!);
    await Bun.sleep(300);
    expect(receiver.spans.length).toBe(0);
    gw.proc.kill("SIGKILL");
    await gw.proc.exited;

    const again = await startGateway({ dir, env: otel() });
    try {
      const spans = await receiver.waitForSpans((all) => ids.every((id) => clientSpanFor(all, id)));
      const rows = await again.sql(`select id, input_tokens, cost_usd, trace_id from requests order by started_at`);
      expect(rows.map((r) => r.id)).toEqual(ids);
      for (const row of rows) {
        expect(Number(row.input_tokens)).toBeGreaterThan(0);
        expect(row.cost_usd).not.toBeNull();
        const span = clientSpanFor(spans, row.id)!;
        expect(span.attributes["gen_ai.usage.input_tokens"]).toBe(Number(row.input_tokens));
        expect(span.traceId).toBe(row.trace_id);
      }
      // Each call's two spans (SERVER and CLIENT), once.
      expect(spans.filter((s) => ids.includes(String(s.attributes["loupe.record.id"]))).length).toBe(ids.length * 2);
      expect(spans.length).toBe(ids.length * 2);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  });

  test("records DuckDB has but whose spans had not gone out are sent at the next start (the OTLP sink's own cursor)", async () => {
    receiver.reset();
    const dir = tempDir();
    const records = join(dir, "loupe.duckdb.journal", "records");
    mkdirSync(records, { recursive: true });
    const [record] = seedRecords(1);
    const telemetry = {
      details: { genAiProvider: "openai", serverAddress: "api.openai.com", serverPort: 443 },
      endTime: Date.parse(record!.started_at) + 1500,
      spans: {
        traceId: CALLER_TRACE,
        spanId: "1111111111111111",
        parentSpanId: CALLER_SPAN,
        clientSpanId: "2222222222222222",
        clientStart: Date.parse(record!.started_at) + 2,
        serverStart: Date.parse(record!.started_at),
        method: "POST",
        path: "/openai/v1/chat/completions",
      },
    };
    // What kill -9 leaves when DuckDB has acknowledged a record segment and the OTLP sink has not.
    writeFileSync(join(records, "0000000007.ndjson"), `${JSON.stringify({ ...record, telemetry })}\n`);
    writeFileSync(join(records, "cursors.json"), JSON.stringify({ duckdb: 7, otlp: 6 }));
    const gw = await startGateway({ dir, env: otel() });
    const spans = await receiver.waitForSpans((all) => all.length >= 2);
    expect(spans.map((s) => [s.kind, s.spanId, s.parentSpanId])).toEqual([
      ["CLIENT", "2222222222222222", "1111111111111111"],
      ["SERVER", "1111111111111111", CALLER_SPAN],
    ]);
    expect(spans[0]!.attributes["loupe.record.id"]).toBe(record!.id);
    expect(spans[0]!.attributes["gen_ai.usage.input_tokens"]).toBe(Number(record!.input_tokens));
    // Sent once, then released: every sink has it. DuckDB was not given it again.
    for (let i = 0; i < 20 && readdirSync(records).includes("0000000007.ndjson"); i++) await Bun.sleep(50);
    expect(readdirSync(records)).not.toContain("0000000007.ndjson");
    expect(await gw.sql("select count(*)::int as n from requests")).toEqual([{ n: 0 }]);
    expect(await gw.stop()).toBe(0);
  });
});
