import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type Gateway } from "../support/gateway.ts";
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
