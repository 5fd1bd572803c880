import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * LOUPE_STREAM_DEADLINE_S through the gateway, with the official SDKs: a
 * stream still running at the deadline ends with the provider's own closing
 * events, the SDK's helpers resolve, and the record says truncated with the
 * usage seen so far.
 */
let upstream: MockUpstream;
let gateway: Gateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  gateway = await startGateway({ env: { LOUPE_ANTHROPIC_BASE_URL: upstream.url, LOUPE_OPENAI_BASE_URL: upstream.url, LOUPE_STREAM_DEADLINE_S: "0.6" } });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

// The mock sends one event every 400 ms: well past the deadline before the fixture ends.
const slow = { "x-mock-event-delay-ms": "400" };

describe("the stream deadline", () => {
  test("Anthropic: finalMessage() resolves with what came before the deadline; the record is truncated, with the input usage", async () => {
    const client = new Anthropic({ apiKey: "k", baseURL: `${gateway.url}/anthropic`, maxRetries: 0, defaultHeaders: slow });
    const started = Date.now();
    const stream = client.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: "hi" }] });
    const message = await stream.finalMessage();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(message.stop_reason).toBe("max_tokens");
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    const [row] = await gateway.sql("select truncated, error_type, input_tokens, streamed from requests where provider = 'anthropic'");
    expect(row).toMatchObject({ truncated: true, error_type: "stream_deadline", streamed: true });
    expect(Number(row!.input_tokens)).toBe(message.usage.input_tokens);
  });

  test("OpenAI: the stream ends with finish_reason length and [DONE]; the SDK's iteration completes", async () => {
    const client = new OpenAI({ apiKey: "k", baseURL: `${gateway.url}/openai/v1`, maxRetries: 0, defaultHeaders: slow });
    const chunks = [];
    for await (const chunk of await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true })) chunks.push(chunk);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("length");
    const [row] = await gateway.sql("select truncated, error_type from requests where provider = 'openai'");
    expect(row).toEqual({ truncated: true, error_type: "stream_deadline" });
  });

  test("a stream that ends before the deadline is untouched", async () => {
    const client = new Anthropic({ apiKey: "k", baseURL: `${gateway.url}/anthropic`, maxRetries: 0 });
    const message = await client.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: "quick" }] }).finalMessage();
    expect(message.stop_reason).not.toBe("max_tokens");
    const rows = await gateway.sql("select truncated from requests where provider = 'anthropic' order by started_at");
    expect(rows.at(-1)).toEqual({ truncated: false });
  });
});

describe("timeouts scoped like rules (config timeouts)", () => {
  let scoped: Gateway;
  beforeAll(async () => {
    const dir = tempDir("loupe-timeouts-");
    const config = join(dir, "loupe.json");
    writeFileSync(config, JSON.stringify({ timeouts: [{ match: { provider: "anthropic" }, idleMs: 300 }, { match: { provider: "openai" }, firstByteMs: 200 }] }));
    scoped = await startGateway({ dir, env: { LOUPE_CONFIG: config, LOUPE_ANTHROPIC_BASE_URL: upstream.url, LOUPE_OPENAI_BASE_URL: upstream.url } });
  });
  afterAll(async () => {
    await scoped?.stop();
  });

  test("idleMs: a stream silent longer than that ends with the provider's closing events; recorded as an idle timeout", async () => {
    const client = new Anthropic({ apiKey: "k", baseURL: `${scoped.url}/anthropic`, maxRetries: 0, defaultHeaders: { "x-mock-event-delay-ms": "600" } });
    const message = await client.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: "hi" }] }).finalMessage();
    expect(message.stop_reason).toBe("max_tokens");
    const [row] = await scoped.sql("select truncated, error_type from requests where provider = 'anthropic'");
    expect(row).toEqual({ truncated: true, error_type: "stream_idle_timeout" });
  });

  test("firstByteMs: an upstream slower to answer than that gets 504 in the route's dialect", async () => {
    const response = await fetch(`${scoped.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer k", "x-mock-delay-ms": "800" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [] }),
    });
    expect(response.status).toBe(504);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain("did not answer within 200 ms");
  });
});
