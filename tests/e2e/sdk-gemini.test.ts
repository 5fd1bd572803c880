import { GoogleGenAI } from "@google/genai";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

let mock: MockUpstream;
let gw: Gateway;

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_GEMINI_BASE_URL: mock.url } });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

const client = (baseUrl: string, apiVersion?: string) =>
  new GoogleGenAI({ apiKey: "gemini-key", httpOptions: { baseUrl, ...(apiVersion ? { apiVersion } : {}) } });
const lastRecord = async () => (await gw.sql(`select * from requests order by started_at desc, id desc limit 1`))[0];

describe("Gemini SDK through Loupe", () => {
  test("generateContent: implicit cache inside prompt, thoughts outside candidates", async () => {
    const via = await client(`${gw.url}/gemini`).models.generateContent({ model: "gemini-2.5-flash", contents: "hi" });
    const direct = await client(mock.url).models.generateContent({ model: "gemini-2.5-flash", contents: "hi" });
    expect(via.text).toBe(direct.text!);
    expect(via.usageMetadata).toEqual(direct.usageMetadata!);
    const seen = mock.requests.at(-2)!;
    expect(seen.headers.get("x-goog-api-key")).toBe("gemini-key");
    const row = await gw.sql(`select * from requests where provider = 'gemini' order by started_at limit 1`);
    // prompt 5 (3 cached) → input 5; candidates 238 + thoughts 41 → output 279.
    // 2 × $0.30 + 3 × $0.03 + 279 × $2.50 per million
    expect(row[0]).toMatchObject({ operation: "generate_content", model: "gemini-2.5-flash", input_tokens: "5", cache_read_tokens: "3", output_tokens: "279", reasoning_tokens: "41", cost_usd: "0.000698190", finish_reason: "STOP" });
  });

  test("stream (alt=sse, CRLF framing): same chunks, the last usageMetadata wins", async () => {
    const chunks: unknown[] = [];
    for await (const chunk of await client(`${gw.url}/gemini`).models.generateContentStream({ model: "gemini-2.5-flash", contents: "hi" })) chunks.push(chunk.text);
    const directChunks: unknown[] = [];
    for await (const chunk of await client(mock.url).models.generateContentStream({ model: "gemini-2.5-flash", contents: "hi" })) directChunks.push(chunk.text);
    expect(chunks).toEqual(directChunks);
    expect(mock.requests.at(-2)!.url).toContain(":streamGenerateContent?alt=sse");
    const rows = await gw.sql(`select * from requests where streamed order by started_at`);
    expect(rows[0]).toMatchObject({ input_tokens: "20", output_tokens: "513", reasoning_tokens: "260", cost_usd: "0.001288500" });
  });

  test("intermediate chunks that under-count are not summed or maxed", async () => {
    const ai = client(`${gw.url}/gemini`);
    const stream = await ai.models.generateContentStream({
      model: "gemini-2.0-flash",
      contents: "hi",
      config: { httpOptions: { headers: { "x-mock-fixture": "gemini/streamGenerateContent-2.0-flash.js-genai-recording.sse" } } },
    });
    for await (const _ of stream) void _;
    expect(await lastRecord()).toMatchObject({ input_tokens: "6", output_tokens: "377", response_model: "gemini-2.0-flash" });
  });

  test("any API version is forwarded: v1beta and v1", async () => {
    for (const version of ["v1beta", "v1"]) {
      await client(`${gw.url}/gemini`, version).models.generateContent({ model: "gemini-2.5-flash", contents: "hi" });
      expect(mock.requests.at(-1)!.path).toBe(`/${version}/models/gemini-2.5-flash:generateContent`);
    }
  });

  test("a 404 answered as text/event-stream JSON passes through and is recorded as an error", async () => {
    const error = await client(`${gw.url}/gemini`)
      .models.generateContentStream({
        model: "custom-gemini-2.0-flash",
        contents: "hi",
        config: { httpOptions: { headers: { "x-mock-fixture": "gemini/error-404-on-stream-endpoint.js-genai-recording.json" } } },
      })
      .catch((e: unknown) => e);
    expect(String(error)).toContain("is not found for API version v1beta");
    expect(await lastRecord()).toMatchObject({ status: 404, error_type: "NOT_FOUND", model: "custom-gemini-2.0-flash" });
  });

  test("countTokens is free", async () => {
    const result = await client(`${gw.url}/gemini`).models.countTokens({ model: "gemini-2.5-flash", contents: "hi" });
    expect(result.totalTokens).toBeGreaterThan(0);
    expect(await lastRecord()).toMatchObject({ operation: "count_tokens", cost_usd: "0.000000000", cost_source: "free" });
  });
});
