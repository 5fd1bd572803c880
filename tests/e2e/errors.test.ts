import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

let mock: MockUpstream;
let gw: Gateway;
let deadPort: number;

beforeAll(async () => {
  mock = await startMockUpstream();
  // A port nothing listens on: bind, note it, close.
  const probe = Bun.serve({ port: 0, fetch: () => new Response() });
  deadPort = probe.port!;
  await probe.stop(true);
  gw = await startGateway({
    env: {
      LOUPE_ANTHROPIC_BASE_URL: mock.url,
      LOUPE_OPENAI_BASE_URL: mock.url,
      LOUPE_GEMINI_BASE_URL: `http://127.0.0.1:${deadPort}`,
      LOUPE_MAX_BODY_BYTES: "10000",
      LOUPE_UPSTREAM_TIMEOUT_MS: "1500",
    },
  });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
const record = async (response: Response) => (await gw.sql(`select * from requests where id = '${response.headers.get("x-loupe-request-id")}'`))[0];

describe("Loupe's own errors speak the route's dialect", () => {
  test("malformed JSON: 400 in each dialect, and still recorded", async () => {
    const anthropic = await post("/anthropic/v1/messages", "{not json");
    expect(anthropic.status).toBe(400);
    expect(await anthropic.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    const openai = await post("/openai/v1/chat/completions", "{not json");
    expect(openai.status).toBe(400);
    expect(((await openai.json()) as any).error.message).toContain("malformed JSON");
    const gemini = await post("/gemini/v1beta/models/gemini-2.5-flash:generateContent", "[1,2");
    expect(gemini.status).toBe(400);
    expect(await gemini.json()).toMatchObject({ error: { code: 400, status: "INVALID_ARGUMENT" } });
    expect(await record(openai)).toMatchObject({ status: 400, error_type: "invalid_request", provider: "openai" });
  });

  test("the official SDK surfaces Loupe's 400 as its own error class", async () => {
    const client = new Anthropic({ apiKey: "k", baseURL: `${gw.url}/anthropic`, maxRetries: 0 });
    const error = await client.messages.create({ model: "m", max_tokens: 1, messages: [] }, { body: "nope" } as any).catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
  });

  test("unknown provider: 404 in Loupe's own shape, naming the routes the registry mounts", async () => {
    const response = await post("/no-such-provider/v1/chat/completions", "{}");
    expect(response.status).toBe(404);
    const body = (await response.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("not_found");
    expect(body.error.message).toContain("no provider serves /no-such-provider/v1/chat/completions");
    expect(body.error.message).toContain("/anthropic, /openai, /gemini, /groq");
  });

  test("the /proxy/<id> alias serves the same provider", async () => {
    const response = await post("/proxy/anthropic/v1/messages", "{not json");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    expect(await record(response)).toMatchObject({ provider: "anthropic", status: 400 });
  });

  test("body over the limit: 413", async () => {
    const client = new OpenAI({ apiKey: "k", baseURL: `${gw.url}/openai/v1`, maxRetries: 0 });
    const error = await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "x".repeat(20_000) }] }).catch((e) => e);
    expect(error.status).toBe(413);
    expect(error.error.message).toContain("exceeds the limit of 10000 bytes");
  });

  test("upstream unreachable: 502, recorded", async () => {
    const response = await post("/gemini/v1beta/models/gemini-2.5-flash:generateContent", '{"contents":[]}');
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ error: { code: 502, status: "UNAVAILABLE" } });
    expect(await record(response)).toMatchObject({ status: 502, error_type: "upstream_unreachable", model: "gemini-2.5-flash" });
  });

  test("upstream timeout: 504", async () => {
    const response = await post("/anthropic/v1/messages", '{"model":"claude-opus-4-8","max_tokens":1,"messages":[]}', { "x-mock-delay-ms": "4000" });
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "timeout_error" } });
    expect(await record(response)).toMatchObject({ status: 504, error_type: "upstream_timeout" });
  });
});

describe("broken streams still leave one record", () => {
  test("upstream drops mid-stream: the client sees the failure, the record says why", async () => {
    const client = new Anthropic({ apiKey: "k", baseURL: `${gw.url}/anthropic`, maxRetries: 0 });
    const stream = await client.messages.create(
      { model: "claude-opus-4-8", max_tokens: 10, messages: [], stream: true },
      { headers: { "x-mock-fixture": "anthropic/messages-stream-cache.CONSTRUCTED.sse", "x-mock-drop-after": "3", "x-mock-event-delay-ms": "50" } },
    );
    const error = await (async () => {
      for await (const _ of stream) void _;
    })().catch((e) => e);
    expect(error).toBeDefined();
    const [row] = await gw.sql(`select * from requests where error_type = 'upstream_disconnected'`);
    // message_start arrived before the drop: its usage is what we know
    expect(row).toMatchObject({ status: 200, truncated: true, input_tokens: "4096", streamed: true });
  });

  test("client disconnects mid-stream: record marked truncated", async () => {
    const controller = new AbortController();
    const response = await post("/anthropic/v1/messages", '{"model":"claude-opus-4-8","max_tokens":1,"stream":true,"messages":[]}', {
      "x-mock-fixture": "anthropic/messages-stream-cache.CONSTRUCTED.sse",
      "x-mock-event-delay-ms": "300",
    });
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    controller.abort();
    let row;
    for (let i = 0; i < 50 && !row; i++) {
      row = (await gw.sql(`select * from requests where id = '${response.headers.get("x-loupe-request-id")}'`))[0];
      if (!row) await Bun.sleep(100);
    }
    expect(row).toMatchObject({ truncated: true, error_type: "client_disconnected" });
  });
});
