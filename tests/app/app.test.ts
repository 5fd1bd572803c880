import { describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { explainCost } from "../../src/api/explain-cost.ts";
import { pricingIdOf } from "../../src/providers/registry.ts";
import { harness, priceBook } from "../support/app-harness.ts";
import { fixtureText } from "../support/fixtures.ts";


const json = (body: string, init: ResponseInit = {}) => new Response(body, { status: 200, ...init, headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...init.headers } });

describe("the app in process (injected fetch)", () => {
  test("a plain OpenAI call: bytes untouched both ways, one record with usage and cost", async () => {
    const answer = fixtureText("openai/chat-nonstream.json");
    const app = harness(() => json(answer, { headers: { "x-request-id": "req_abc" } }));
    const body = JSON.stringify({ model: "gpt-5.4", messages: [{ role: "user", content: "hi" }] });
    const response = await app.fetch(new Request("http://loupe.test/openai/v1/chat/completions?x=1", { method: "POST", body, headers: { "content-type": "application/json", authorization: "Bearer sk-1", "x-loupe-project": "p1" } }));
    expect(await response.text()).toBe(answer);
    expect(app.sent).toHaveLength(1);
    expect(app.sent[0]!.url).toBe("http://upstream.test/v1/chat/completions?x=1");
    expect(new TextDecoder().decode(app.sent[0]!.init.body as Uint8Array)).toBe(body);
    const headers = app.sent[0]!.init.headers as Record<string, string>;
    expect(headers.authorization).toBe("Bearer sk-1");
    expect(headers["x-loupe-project"]).toBeUndefined();
    const [record, ...more] = app.records();
    expect(more).toEqual([]);
    expect(record).toMatchObject({ id: response.headers.get("x-loupe-request-id")!, provider: "openai", operation: "chat", billable: true, status: 200, project: "p1", input_tokens: 1117, output_tokens: 46, upstream_request_id: "req_abc", streamed: false });
    expect(record!.cost_usd).not.toBeNull();
    expect(app.problems).toEqual([]);
  });

  test("an Anthropic stream: events passed through as sent, usage from message_start and message_delta", async () => {
    const stream = fixtureText("anthropic/messages-stream-cache.CONSTRUCTED.sse");
    const app = harness(() => new Response(stream, { headers: { "content-type": "text/event-stream" } }));
    const response = await app.fetch(
      new Request("http://loupe.test/anthropic/v1/messages", { method: "POST", body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 10, stream: true, messages: [] }), headers: { "x-claude-code-session-id": "sess-1", "x-claude-code-agent-id": "agent-7" } }),
    );
    expect(await response.text()).toBe(stream);
    const [record] = app.records();
    expect(record).toMatchObject({ provider: "anthropic", streamed: true, session_id: "sess-1", agent_id: "agent-7", truncated: false });
    expect(record!.cache_read_tokens).toBeGreaterThan(0);
    expect(record!.input_tokens).toBeGreaterThan(record!.cache_read_tokens!);
    expect(record!.cost_usd).not.toBeNull();
    // The API's cost breakdown retells the recorder's pricing exactly.
    const breakdown = explainCost(record as never, { priceBook, pricingIdOf })!;
    expect(breakdown).toMatchObject({ cost_source: "genai-prices", total_usd: record!.cost_usd, matches_record: true, note: null });
    expect(breakdown.components.map((c) => c.kind)).toContain("cache_read");
  });

  test("a gzip body reaches the client still compressed, and its usage is read; log-body full journals the body for the recorder", async () => {
    const answer = fixtureText("openai/chat-nonstream.json");
    const gz = gzipSync(answer);
    const upstream = () => new Response(gz, { headers: { "content-type": "application/json", "content-encoding": "gzip", "content-length": String(gz.byteLength) } });
    for (const mode of ["meta", "full"] as const) {
      const app = harness(upstream);
      const response = await app.fetch(new Request("http://loupe.test/openai/v1/chat/completions", { method: "POST", body: "{}", headers: { "x-loupe-log-body": mode } }));
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(new Uint8Array(gz));
      const [record] = app.records();
      expect(record!.output_tokens).toBe(46);
      expect(record!.response_body).toBe(mode === "full" ? answer : null);
    }
  });

  test("Loupe's own errors: in the route's dialect, recorded once, with nothing sent upstream when refused", async () => {
    const app = harness(() => {
      throw new TypeError("connect ECONNREFUSED");
    }, { LOUPE_MAX_BODY_BYTES: "10" });
    const big = await app.fetch(new Request("http://loupe.test/anthropic/v1/messages", { method: "POST", body: "x".repeat(50) }));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ type: "error", error: { type: "request_too_large" } });
    expect(app.sent).toHaveLength(0);
    const down = await app.fetch(new Request("http://loupe.test/openai/v1/models"));
    expect(down.status).toBe(502);
    expect(await down.json()).toMatchObject({ error: { code: "upstream_unreachable" } });
    expect(app.records().map((r) => [r.status, r.error_type, r.billable])).toEqual([
      [413, "payload_too_large", true],
      [502, "upstream_unreachable", false],
    ]);
  });
  test.each(["full", "meta", "none"] as const)("x-loupe-log-body with an unknown value falls back to the configured default (LOUPE_LOG_BODY=%s), not to another mode", async (configured) => {
    const answer = fixtureText("openai/chat-nonstream.json");
    const app = harness(() => json(answer), { LOUPE_LOG_BODY: configured });
    const body = JSON.stringify({ model: "gpt-5.4", messages: [{ role: "user", content: "hi" }] });
    for (const given of ["yes", "FULLY", "off"]) {
      await (await app.fetch(new Request("http://loupe.test/openai/v1/chat/completions", { method: "POST", body, headers: { "x-loupe-log-body": given } }))).text();
    }
    for (const record of app.records()) {
      expect(record.request_body).toBe(configured === "full" ? body : null);
      expect(record.response_body).toBe(configured === "full" ? answer : null);
      // meta keeps the raw usage, none keeps nothing of the body.
      expect(record.usage_raw === null).toBe(configured === "none");
    }
    expect(app.records()).toHaveLength(3);
  });

  test("a full call's secrets are masked in the record: request body, the upstream's error echoing a key, its message", async () => {
    const anthropicKey = `sk-ant-api03-${"Zx9_Yw8-Vu7".repeat(4)}`;
    const googleKey = `AIzaSy${"Ab1Cd2Ef3G".repeat(3)}hij`;
    const error = JSON.stringify({ type: "error", error: { type: "authentication_error", message: `invalid x-api-key; did you mean ${googleKey}?` } });
    const app = harness(() => json(error, { status: 401 }));
    const body = JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 10, messages: [{ role: "user", content: `here is my key: ${anthropicKey}` }] });
    const response = await app.fetch(new Request("http://loupe.test/anthropic/v1/messages", { method: "POST", body, headers: { "x-loupe-log-body": "full", "x-api-key": "sk-ant-short" } }));
    // The client gets the upstream's answer untouched: redaction is for what Loupe keeps.
    expect(await response.text()).toBe(error);
    const [record] = app.records();
    expect(JSON.stringify(record)).not.toContain(anthropicKey.slice(13));
    expect(JSON.stringify(record)).not.toContain(googleKey.slice(4));
    expect(record!.request_body).toContain("here is my key: sk-ant-***");
    expect(record!.prompt_preview).toBe("here is my key: sk-ant-***");
    expect(record!.response_body).toContain("did you mean AIza***?");
    expect(record!.error_message).toBe("invalid x-api-key; did you mean AIza***?");
  });
});
