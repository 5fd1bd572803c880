import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * Groq is the proof that an OpenAI-compatible provider is one small file:
 * served at /groq/…, forwarded to its base URL byte for byte, recorded
 * under its id with its own usage shape and genai-prices pricing.
 */
let mock: MockUpstream;
let gw: Gateway;
let viaLoupe: OpenAI;
let direct: OpenAI;

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_GROQ_BASE_URL: mock.url } });
  viaLoupe = new OpenAI({ apiKey: "gsk-test", baseURL: `${gw.url}/groq/openai/v1`, maxRetries: 0 });
  direct = new OpenAI({ apiKey: "gsk-test", baseURL: `${mock.url}/openai/v1`, maxRetries: 0 });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

const record = async (id: string | null) => (await gw.sql(`select * from requests where id = '${id}'`))[0]!;

describe("OpenAI SDK through Loupe to Groq", () => {
  test("chat completion: the upstream gets the SDK's request unchanged, the record holds groq, usage and price", async () => {
    const request = { model: "openai/gpt-oss-20b", messages: [{ role: "user" as const, content: "Hello" }] };
    const { data, response } = await viaLoupe.chat.completions.create(request).withResponse();
    const upstream = mock.requests.at(-1)!;
    expect(upstream.path).toBe("/openai/v1/chat/completions");
    expect(upstream.headers.get("authorization")).toBe("Bearer gsk-test");
    expect(upstream.json).toEqual(request);
    expect(data).toEqual(await direct.chat.completions.create(request));
    const row = await record(response.headers.get("x-loupe-request-id"));
    // genai-prices groq openai/gpt-oss-20b: 18 × $0.075 + 5 × $0.30 per million
    expect(row).toMatchObject({ provider: "groq", operation: "chat", path: "/groq/openai/v1/chat/completions", status: 200, model: "openai/gpt-oss-20b", input_tokens: "18", output_tokens: "5", cache_read_tokens: null, reasoning_tokens: null, cost_usd: "0.000002850", cost_source: "genai-prices", finish_reason: "stop" });
  });

  test("stream: usage from x_groq.usage, no include_usage asked, chunks as Groq sent them", async () => {
    const request = { model: "gemma2-9b-it", messages: [{ role: "user" as const, content: "Hello" }], stream: true as const };
    const response = await viaLoupe.chat.completions.create(request).asResponse();
    const id = response.headers.get("x-loupe-request-id");
    const viaBytes = await response.text();
    expect(mock.requests.at(-1)!.json).toEqual(request);
    const directBytes = await (await direct.chat.completions.create(request).asResponse()).text();
    expect(viaBytes).toBe(directBytes);
    const chunks = [];
    for await (const chunk of await viaLoupe.chat.completions.create(request)) chunks.push(chunk);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("tool_calls");
    const row = await record(id);
    // genai-prices groq gemma2-9b-it: (18 + 439) × $0.20 per million
    expect(row).toMatchObject({ provider: "groq", streamed: true, model: "gemma2-9b-it", response_model: "gemma2-9b-it", input_tokens: "18", output_tokens: "439", cost_usd: "0.000091400", cost_source: "genai-prices", finish_reason: "tool_calls" });
    expect(JSON.parse(row.usage_raw)).toMatchObject({ prompt_tokens: 18, completion_tokens: 439, queue_time: 0.061348671 });
  });
});
