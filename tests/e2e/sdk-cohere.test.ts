import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CohereClientV2 } from "cohere-ai";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * Cohere's own SDK (cohere-ai, CohereClientV2) through Loupe: v2 chat with
 * its own SSE event types, recorded with the billed units Cohere charges
 * for, and Loupe's own errors in the `{"message"}` shape the SDK reads.
 */
let mock: MockUpstream;
let gw: Gateway;

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_COHERE_BASE_URL: mock.url, LOUPE_UPSTREAM_TIMEOUT_MS: "1000" } });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

const client = (environment: string) => new CohereClientV2({ token: "co-test-key", environment, maxRetries: 0 });
const record = async (id: string | null) => (await gw.sql(`select * from requests where id = '${id}'`))[0]!;
const fixture = (name: string) => ({ headers: { "x-mock-fixture": `cohere/${name}` } });
const messages = [{ role: "user" as const, content: "Tell me about LLMs" }];

describe("cohere-ai through Loupe", () => {
  test("chat: the request reaches Cohere unchanged with its key; the record holds the billed units and their price", async () => {
    const { data, rawResponse } = await client(`${gw.url}/cohere`).chat({ model: "command-a-03-2025", messages }, fixture("chat-nonstream.sdk-wire-test.json")).withRawResponse();
    const upstream = mock.requests.at(-1)!;
    expect(upstream.path).toBe("/v2/chat");
    expect(upstream.headers.get("authorization")).toBe("Bearer co-test-key");
    expect(upstream.json).toEqual({ model: "command-a-03-2025", messages, stream: false });
    expect(data).toEqual(await client(mock.url).chat({ model: "command-a-03-2025", messages }, fixture("chat-nonstream.sdk-wire-test.json")));
    const row = await record(rawResponse.headers.get("x-loupe-request-id"));
    // billed 5 in, 418 out (tokens: 71 in); command-a at $2.50 / $10 per million
    expect(row).toMatchObject({ provider: "cohere", operation: "chat", path: "/cohere/v2/chat", status: 200, model: "command-a-03-2025", streamed: false, input_tokens: "5", output_tokens: "418", cost_usd: "0.004192500", cost_source: "genai-prices", finish_reason: "COMPLETE" });
    expect(JSON.parse(row.usage_raw)).toEqual({ billed_units: { input_tokens: 5, output_tokens: 418 }, tokens: { input_tokens: 71, output_tokens: 418 } });
  });

  test("chatStream: Cohere's events as sent; usage and finish reason from message-end", async () => {
    const request = { model: "command-r-plus-08-2024", messages };
    const events: unknown[] = [];
    for await (const event of await client(`${gw.url}/cohere`).chatStream(request, fixture("chat-stream.sdk-wire-test.sse"))) events.push(event);
    expect(mock.requests.at(-1)!.json).toEqual({ ...request, stream: true });
    const direct: unknown[] = [];
    for await (const event of await client(mock.url).chatStream(request, fixture("chat-stream.sdk-wire-test.sse"))) direct.push(event);
    expect(events).toEqual(direct);
    expect(events.at(-1)).toMatchObject({ type: "message-end", delta: { finishReason: "COMPLETE" } });
    const rows = await gw.sql(`select * from requests where streamed and model = 'command-r-plus-08-2024'`);
    // command-r-plus at $2.50 / $10: 5 × 2.5 + 26 × 10
    expect(rows).toMatchObject([{ model: "command-r-plus-08-2024", input_tokens: "5", output_tokens: "26", cost_usd: "0.000272500", finish_reason: "COMPLETE", response_model: null }]);
  });

  test("streams without delay: each event reaches the SDK as Cohere sends it", async () => {
    const options = { headers: { ...fixture("chat-stream.sdk-wire-test.sse").headers, "x-mock-event-delay-ms": "40" } };
    const t0 = performance.now();
    const arrivals: number[] = [];
    for await (const _ of await client(`${gw.url}/cohere`).chatStream({ model: "command-a-03-2025", messages }, options)) arrivals.push(performance.now() - t0);
    // 28 events, 40 ms apart upstream: they arrive spread out, not all at the end.
    expect(arrivals.length).toBe(28);
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(27 * 40 * 0.8);
  });

  test("Cohere's error passes through untouched and is recorded", async () => {
    const error = await client(`${gw.url}/cohere`)
      .chat({ model: "command-a-03-2025", messages: [] }, { headers: { ...fixture("error-400.continue-3881.json").headers, "x-mock-status": "400" } })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 400, body: { message: "invalid request: provided raw prompt is invalid, you message must contain valid chat turns." } });
    const [row] = await gw.sql(`select * from requests where status = 400`);
    expect(row).toMatchObject({ provider: "cohere", error_type: "http_400", error_message: "invalid request: provided raw prompt is invalid, you message must contain valid chat turns.", cost_usd: "0.000000000" });
  });

  test("Loupe's own error (upstream timeout) is a {message} body the SDK reads, recorded; the gateway serves on", async () => {
    const error = await client(`${gw.url}/cohere`)
      .chat({ model: "command-a-03-2025", messages }, { headers: { ...fixture("chat-nonstream.sdk-wire-test.json").headers, "x-mock-delay-ms": "1500" } })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 504, body: { message: "cohere did not answer within 1000 ms" } });
    const [row] = await gw.sql(`select * from requests where status = 504`);
    expect(row).toMatchObject({ provider: "cohere", model: "command-a-03-2025", error_type: "upstream_timeout" });
    const after = await client(`${gw.url}/cohere`).chat({ model: "command-a-03-2025", messages }, fixture("chat-nonstream.sdk-wire-test.json"));
    expect(after.finishReason).toBe("COMPLETE");
  });
});
