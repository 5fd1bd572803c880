import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

let mock: MockUpstream;
let gw: Gateway;
let viaLoupe: Anthropic;
let direct: Anthropic;

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_ANTHROPIC_BASE_URL: mock.url } });
  viaLoupe = new Anthropic({ apiKey: "sk-ant-test", baseURL: `${gw.url}/anthropic`, maxRetries: 0 });
  direct = new Anthropic({ apiKey: "sk-ant-test", baseURL: mock.url, maxRetries: 0, defaultHeaders: { "x-test-direct": "1" } });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

const params = { model: "claude-opus-4-8", max_tokens: 1024, messages: [{ role: "user" as const, content: "Hello" }] };
const fixture = (name: string) => ({ headers: { "x-mock-fixture": name } });
const record = async (id: string | null) => (await gw.sql(`select * from requests where id = '${id}'`))[0]!;

describe("Anthropic SDK through Loupe", () => {
  test("non-streaming message with cache: same result, exact usage and cost", async () => {
    const opts = { headers: { ...fixture("anthropic/messages-nonstream-cache.CONSTRUCTED.json").headers, "x-loupe-session": "sess-1", "x-loupe-project": "alpha", "x-loupe-tags": "a, b" } };
    const { data, response } = await viaLoupe.messages.create(params, opts).withResponse();
    expect(data).toEqual(await direct.messages.create(params, opts));
    const row = await record(response.headers.get("x-loupe-request-id"));
    // Anthropic input_tokens (2048) excludes cache: total input = 2048 + 1800 read + 248 written.
    expect(row).toMatchObject({
      provider: "anthropic",
      operation: "chat",
      model: "claude-opus-4-8",
      response_model: "claude-sonnet-4-5-20250929",
      status: 200,
      streamed: false,
      input_tokens: "4096",
      cache_read_tokens: "1800",
      cache_write_tokens: "248",
      cache_write_1h_tokens: "100",
      output_tokens: "503",
      reasoning_tokens: null,
      // 2048×$3 + 1800×$0.30 + 148×$3.75 + 100×$6 + 503×$15, per million
      cost_usd: "0.015384000",
      cost_source: "genai-prices",
      finish_reason: "end_turn",
      session_id: "sess-1",
      project: "alpha",
      tags: ["a", "b"],
      upstream_request_id: "req_mock_1",
      truncated: false,
    });
    expect(row.price_version).toMatch(/^genai-prices@\d/);
  });

  test("stream: identical bytes and events, cumulative message_delta usage overwrites", async () => {
    const opts = fixture("anthropic/messages-stream-cache.CONSTRUCTED.sse");
    const response = await viaLoupe.messages.create({ ...params, stream: true }, opts).asResponse();
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(bytes).toEqual(mock.sent.at(-1)!);
    const events: string[] = [];
    for await (const event of await viaLoupe.messages.create({ ...params, stream: true }, opts)) events.push(event.type);
    const directEvents: string[] = [];
    for await (const event of await direct.messages.create({ ...params, stream: true }, opts)) directEvents.push(event.type);
    expect(events).toEqual(directEvents);
    const row = await record(response.headers.get("x-loupe-request-id"));
    expect(row).toMatchObject({ streamed: true, input_tokens: "4096", cache_read_tokens: "1800", cache_write_tokens: "248", output_tokens: "503", cost_usd: "0.015384000" });
    expect(row.ttfb_ms).toBeGreaterThan(0);
  });

  test("modern stream: thinking tokens are reasoning, inside output", async () => {
    const { response } = await viaLoupe.messages
      .create({ ...params, stream: true }, fixture("anthropic/messages-stream-sdk-refusal-modern-usage.sse"))
      .withResponse();
    await response.clone().arrayBuffer();
    const row = await record(response.headers.get("x-loupe-request-id"));
    expect(row).toMatchObject({ input_tokens: "28", output_tokens: "106", reasoning_tokens: "67", finish_reason: "refusal", response_model: "claude-fable-5" });
  });

  test("a model without a known price is unpriced: cost NULL, never 0", async () => {
    const { response } = await viaLoupe.messages
      .create({ ...params, model: "claude-private-finetune-x" }, fixture("anthropic/messages-nonstream-unknown-model.CONSTRUCTED.json"))
      .withResponse();
    const row = await record(response.headers.get("x-loupe-request-id"));
    expect(row).toMatchObject({ input_tokens: "2095", output_tokens: "503", cost_usd: null, cost_source: null, price_version: null });
  });

  test("stream without usage (documented thinking example): tokens stay NULL", async () => {
    const response = await viaLoupe.messages.create({ ...params, stream: true }, fixture("anthropic/messages-stream-thinking.sse")).asResponse();
    await response.text();
    const row = await record(response.headers.get("x-loupe-request-id"));
    expect(row).toMatchObject({ input_tokens: null, output_tokens: null, cost_usd: null, status: 200 });
  });

  test("in-stream error event passes through and is recorded", async () => {
    const response = await viaLoupe.messages.create({ ...params, stream: true }, fixture("anthropic/error-stream-overloaded.sse")).asResponse();
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(mock.sent.at(-1)!);
    const row = await record(response.headers.get("x-loupe-request-id"));
    expect(row).toMatchObject({ status: 200, error_type: "overloaded_error" });
  });

  test("429 passes through untouched with retry-after and rate-limit headers", async () => {
    const error = await viaLoupe.messages.create(params, fixture("anthropic/error-rate-limit-429.CONSTRUCTED.http")).catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect(error.headers.get("retry-after")).toBe("12");
    expect(error.headers.get("anthropic-ratelimit-requests-remaining")).toBe("0");
    expect(error.message).toContain("This request would exceed your organization's rate limit");
    const [row] = await gw.sql(`select * from requests where status = 429`);
    expect(row).toMatchObject({ error_type: "rate_limit_error", upstream_request_id: "req_011CSHoEeqs5C35K2UUqR7Fy", cost_usd: "0.000000000", cost_source: "free" });
  });

  test("count_tokens with ?beta=true: query forwarded, free call", async () => {
    // Claude Code calls count_tokens with ?beta=true.
    const response = await fetch(`${gw.url}/anthropic/v1/messages/count_tokens?beta=true`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: params.model, messages: params.messages }),
    });
    expect(((await response.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
    const sentUrl = mock.requests.at(-1)!.url;
    expect(sentUrl).toEndWith("/v1/messages/count_tokens?beta=true");
    const [row] = await gw.sql(`select * from requests where operation = 'count_tokens'`);
    expect(row).toMatchObject({ cost_usd: "0.000000000", cost_source: "free", input_tokens: null, path: "/anthropic/v1/messages/count_tokens?beta=true" });
  });

  test("request bytes, auth and anthropic-* headers forwarded; x-loupe-* stripped", async () => {
    const raw = '{"model":"claude-sonnet-4-5-20250929","max_tokens":5,"system":[{"type":"text","text":"attribution"},{"type":"text","text":"sys","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":"{\\"device_id\\":\\"d\\",\\"session_id\\":\\"cc-session-9\\"}"}}';
    const response = await fetch(`${gw.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: "Bearer oauth-token",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "oauth-2025-04-20,some-future-beta-2027",
        "x-loupe-user": "alice",
        "x-claude-code-agent-id": "agent-7",
        "x-claude-code-request-class": "subagent",
      },
      body: raw,
    });
    await response.text();
    const seen = mock.requests.at(-1)!;
    expect(new TextDecoder().decode(seen.body)).toBe(raw);
    expect(seen.headers.get("authorization")).toBe("Bearer oauth-token");
    expect(seen.headers.get("anthropic-beta")).toBe("oauth-2025-04-20,some-future-beta-2027");
    expect(seen.headers.get("x-loupe-user")).toBeNull();
    const row = await record(response.headers.get("x-loupe-request-id"));
    expect(row).toMatchObject({ session_id: "cc-session-9", user_id: "alice", agent_id: "agent-7", request_class: "subagent" });
  });

  test("drop-in root paths and Claude Code's model discovery and probe", async () => {
    const dropIn = new Anthropic({ apiKey: "k", baseURL: gw.url, maxRetries: 0 });
    const message = await dropIn.messages.create(params);
    expect(message.id).toBeString();
    expect(mock.requests.at(-1)!.path).toBe("/v1/messages");
    const models = await fetch(`${gw.url}/v1/models?limit=1000`, { headers: { "anthropic-version": "2023-06-01", "x-api-key": "k" }, redirect: "manual" });
    expect(models.status).toBe(200);
    expect(mock.requests.at(-1)!.url).toEndWith("/v1/models?limit=1000");
    expect((await fetch(`${gw.url}/api/hello`, { method: "HEAD" })).status).toBe(200);
  });

  test("Claude Code traffic: session header, agent headers, full body logging", async () => {
    const raw = '{"model":"claude-opus-4-8","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":"{\\"session_id\\":\\"from-metadata\\"}"}}';
    const response = await fetch(`${gw.url}/v1/messages?beta=true`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": "k",
        "anthropic-version": "2023-06-01",
        "x-claude-code-session-id": "cc-header-session",
        "x-claude-code-agent-id": "sub-1",
        "x-claude-code-parent-agent-id": "main",
        "x-claude-code-agent-type": "Explore",
        "x-loupe-log-body": "full",
      },
      body: raw,
    });
    const text = await response.text();
    const row = await record(response.headers.get("x-loupe-request-id"));
    expect(row).toMatchObject({ session_id: "cc-header-session", agent_id: "sub-1", parent_agent_id: "main", agent_type: "Explore", request_body: raw, response_body: text });
    expect(mock.requests.at(-1)!.headers.has("x-claude-code-session-id")).toBe(true);
  });

  test("every call above has exactly one record", async () => {
    const [counts] = await gw.sql("select count(*)::int as n, count(distinct id)::int as d from requests");
    // every request that reached the mock through Loupe (direct calls are marked), no more, no less
    const viaLoupe = mock.requests.filter((r) => !r.headers.has("x-test-direct")).length;
    expect(counts!.n).toBe(counts!.d);
    expect(counts!.n).toBe(viaLoupe);
  });

  test("legacy metadata.user_id session form", async () => {
    const { response } = await viaLoupe.messages
      .create({ ...params, metadata: { user_id: "user_abc123_account_42_session_0f8e4c1a-1111-2222-3333-444455556666" } })
      .withResponse();
    const row = await record(response.headers.get("x-loupe-request-id"));
    expect(row.session_id).toBe("0f8e4c1a-1111-2222-3333-444455556666");
  });
});
