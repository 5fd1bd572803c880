import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixtureText } from "../support/fixtures.ts";
import { startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver.ts";

/**
 * Retries and fallbacks as OpenTelemetry sees them, through a real gateway:
 * every upstream attempt is its own CLIENT span under the call's SERVER
 * span, the `traceparent` each upstream received names its own attempt, a
 * failed attempt says where it went and how it failed, and the last carries
 * the answer's usage.
 */
let gateway: Gateway;
let receiver: OtlpReceiver;
let upstream: ReturnType<typeof Bun.serve>;
const traceparents: string[] = [];
let answers: number[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // An OpenAI-shaped upstream answering from recorded traffic, with a status script for the next calls.
  upstream = Bun.serve({
    port: 0,
    async fetch(request) {
      await request.arrayBuffer();
      traceparents.push(request.headers.get("traceparent") ?? "");
      let status = answers.shift() ?? 200;
      // A slow answer: past the gateway's first-byte deadline.
      if (status === 0) {
        await Bun.sleep(1_500);
        status = 200;
      }
      if (status !== 200) return new Response(JSON.stringify({ error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } }), { status, headers: { "content-type": "application/json", "retry-after": "0" } });
      return new Response(fixtureText("openai/chat-nonstream.json"), { headers: { "content-type": "application/json" } });
    },
  });
  const dir = tempDir("loupe-attempt-spans-");
  const config = join(dir, "loupe.json");
  writeFileSync(
    config,
    JSON.stringify({
      retry: { attempts: 2, backoffMs: 1, maxBackoffMs: 10 },
      // Groq's base is a closed port: down. Its chain ends at OpenAI (the local upstream).
      fallbacks: [{ match: { provider: "groq" }, chain: [{ provider: "openai", model: "gpt-4o-mini" }] }],
    }),
  );
  gateway = await startGateway({
    dir,
    env: {
      LOUPE_CONFIG: config,
      LOUPE_OPENAI_BASE_URL: upstream.url.origin,
      LOUPE_GROQ_BASE_URL: "http://127.0.0.1:9",
      LOUPE_SECRET: "attempt-spans-e2e-secret-0123456789",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      LOUPE_UPSTREAM_TIMEOUT_MS: "500",
    },
  });
}, 30_000);
afterAll(async () => {
  await gateway?.stop();
  upstream?.stop(true);
  await receiver?.stop();
});

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
const spanIdOf = (traceparent: string) => traceparent.split("-")[2];

/** The call's SERVER span and its CLIENT spans, oldest first, once the last (the one with the record's usage) arrived. */
async function spansOf(recordId: string, clients: number): Promise<{ server: ReceivedSpan; clients: ReceivedSpan[] }> {
  const mine = (all: ReceivedSpan[]) => all.filter((s) => s.attributes["loupe.record.id"] === recordId);
  const spans = mine(await receiver.waitForSpans((all) => mine(all).length >= clients + 1));
  const server = spans.find((s) => s.kind === "SERVER")!;
  return { server, clients: spans.filter((s) => s.kind === "CLIENT").sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano)) };
}

describe("each upstream attempt is one CLIENT span", () => {
  test("a 429 then a 200: two CLIENT spans, the first ERROR with status 429, the second with the usage; each upstream saw its own span", async () => {
    answers = [429];
    traceparents.length = 0;
    const openai = new OpenAI({ apiKey: "sk-client", baseURL: `${gateway.url}/openai/v1`, maxRetries: 0 });
    const { response } = await openai.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }, { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` } })
      .withResponse();
    const id = response.headers.get("x-loupe-request-id")!;
    const { server, clients } = await spansOf(id, 2);
    const [row] = await gateway.sql(`select attempts, input_tokens, output_tokens from requests where id = '${id}'`);
    expect(row!.attempts).toBe(2);

    expect(server).toMatchObject({ traceId: CALLER_TRACE, parentSpanId: CALLER_SPAN, status: { code: "UNSET" } });
    expect(clients).toHaveLength(2);
    const [failed, answered] = clients as [ReceivedSpan, ReceivedSpan];
    for (const client of clients) expect(client).toMatchObject({ traceId: CALLER_TRACE, parentSpanId: server.spanId, name: "chat gpt-4o-mini" });
    expect(failed.status.code).toBe("ERROR");
    expect(failed.attributes).toMatchObject({
      "gen_ai.provider.name": "openai",
      "server.address": upstream.url.hostname,
      "server.port": Number(upstream.port),
      "http.response.status_code": 429,
      "error.type": "429",
    });
    expect(failed.attributes["gen_ai.usage.input_tokens"]).toBeUndefined();
    expect(failed.endTimeUnixNano).toBeLessThanOrEqual(answered.startTimeUnixNano);
    expect(answered.status.code).toBe("UNSET");
    expect(answered.attributes).toMatchObject({
      "http.response.status_code": 200,
      "gen_ai.usage.input_tokens": Number(row!.input_tokens),
      "gen_ai.usage.output_tokens": Number(row!.output_tokens),
    });
    expect(answered.attributes["error.type"]).toBeUndefined();
    // The upstream's server span would parent to the attempt that reached it.
    expect(traceparents.map(spanIdOf)).toEqual([failed.spanId, answered.spanId]);
    expect(traceparents.every((t) => t.startsWith(`00-${CALLER_TRACE}-`))).toBe(true);
  });

  test("the first upstream down: a CLIENT span per refused connection (error.type connect), then the fallback's span naming the other provider", async () => {
    const stored = await fetch(`${gateway.url}/api/provider-keys`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ provider: "openai", secret: "sk-proj-FallbackStoredKey0123456789abcdefgh" }) });
    expect(stored.status).toBe(201);
    traceparents.length = 0;
    const groq = new OpenAI({ apiKey: "gsk-client", baseURL: `${gateway.url}/groq/openai/v1`, maxRetries: 0 });
    const { response } = await groq.chat.completions.create({ model: "llama-3.3-70b-versatile", messages: [{ role: "user", content: "hi" }] }).withResponse();
    const id = response.headers.get("x-loupe-request-id")!;
    const { server, clients } = await spansOf(id, 3);
    const [row] = await gateway.sql(`select attempts, routed_provider, input_tokens from requests where id = '${id}'`);
    expect(row).toMatchObject({ attempts: 3, routed_provider: "openai" });

    expect(clients).toHaveLength(3);
    for (const client of clients) expect(client.parentSpanId).toBe(server.spanId);
    expect(new Set(clients.map((s) => s.spanId)).size).toBe(3);
    for (const refused of clients.slice(0, 2)) {
      expect(refused.status.code).toBe("ERROR");
      expect(refused.attributes).toMatchObject({ "gen_ai.provider.name": "groq", "server.address": "127.0.0.1", "server.port": 9, "error.type": "connect" });
      expect(refused.attributes["http.response.status_code"]).toBeUndefined();
    }
    const answered = clients[2]!;
    expect(answered.status.code).toBe("UNSET");
    expect(answered.attributes).toMatchObject({
      "gen_ai.provider.name": "openai",
      "server.address": upstream.url.hostname,
      "server.port": Number(upstream.port),
      "http.response.status_code": 200,
      "gen_ai.usage.input_tokens": Number(row!.input_tokens),
    });
    // Only the fallback was reached, with its own attempt's span.
    expect(traceparents.map(spanIdOf)).toEqual([answered.spanId]);
  });

  test("an upstream past the first-byte deadline: the attempt's span says timeout, the retry answers", async () => {
    answers = [0];
    traceparents.length = 0;
    const openai = new OpenAI({ apiKey: "sk-client", baseURL: `${gateway.url}/openai/v1`, maxRetries: 0 });
    const { response } = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }).withResponse();
    const id = response.headers.get("x-loupe-request-id")!;
    const { clients } = await spansOf(id, 2);
    expect(clients).toHaveLength(2);
    expect(clients[0]!.status.code).toBe("ERROR");
    expect(clients[0]!.attributes).toMatchObject({ "error.type": "timeout", "server.port": Number(upstream.port) });
    expect(clients[0]!.attributes["http.response.status_code"]).toBeUndefined();
    expect(Number(clients[0]!.endTimeUnixNano - clients[0]!.startTimeUnixNano) / 1e6).toBeGreaterThanOrEqual(450);
    expect(clients[1]!.attributes["http.response.status_code"]).toBe(200);
    expect(traceparents.map(spanIdOf)).toEqual(clients.map((s) => s.spanId));
  });

  test("one attempt: one CLIENT span, as before", async () => {
    traceparents.length = 0;
    const openai = new OpenAI({ apiKey: "sk-client", baseURL: `${gateway.url}/openai/v1`, maxRetries: 0 });
    const { response } = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }).withResponse();
    const id = response.headers.get("x-loupe-request-id")!;
    const { clients } = await spansOf(id, 1);
    expect(clients).toHaveLength(1);
    expect(clients[0]!.attributes["loupe.attempt"]).toBeUndefined();
    expect(traceparents.map(spanIdOf)).toEqual([clients[0]!.spanId]);
  });
});
