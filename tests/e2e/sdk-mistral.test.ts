import { Mistral } from "@mistralai/mistralai";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * Mistral's own SDK (`@mistralai/mistralai` 1.x) through Loupe: its serverURL
 * is the gateway's `/mistral`, it calls `/v1/…` below it, and it parses what
 * Loupe hands on (zod-validated) as it parses Mistral's API.
 */
let mock: MockUpstream;
let gw: Gateway;
let viaLoupe: Mistral;
let direct: Mistral;

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_MISTRAL_BASE_URL: mock.url, LOUPE_UPSTREAM_TIMEOUT_MS: "800" } });
  const options = { apiKey: "mistral-key", retryConfig: { strategy: "none" as const } };
  viaLoupe = new Mistral({ ...options, serverURL: `${gw.url}/mistral` });
  direct = new Mistral({ ...options, serverURL: mock.url });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

const fixture = (name: string, extra: Record<string, string> = {}) => ({ headers: { "x-mock-fixture": name, ...extra } });

async function recordAt(path: string, since: number) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const rows = await gw.sql(`select * from requests where path = '${path}' order by started_at`);
    if (rows.length > since) return rows.at(-1)!;
    await Bun.sleep(100);
  }
  throw new Error(`no new record at ${path}`);
}
const count = async () => (await gw.sql<{ n: number }>("select count(*)::INTEGER as n from requests"))[0]!.n;

describe("Mistral SDK through Loupe", () => {
  test("chat.complete: the SDK's request reaches /v1/chat/completions unchanged; usage with cache hits, priced", async () => {
    const before = await count();
    const request = { model: "mistral-large-latest", messages: [{ role: "user" as const, content: "cache probe two." }] };
    const result = await viaLoupe.chat.complete(request, fixture("mistral/chat-nonstream-prompt-cache.pydantic-ai-recording.json"));
    const upstream = mock.requests.at(-1)!;
    expect(upstream.path).toBe("/v1/chat/completions");
    expect(upstream.headers.get("authorization")).toBe("Bearer mistral-key");
    expect(result).toEqual(await direct.chat.complete(request, fixture("mistral/chat-nonstream-prompt-cache.pydantic-ai-recording.json")));
    expect(result.usage).toMatchObject({ promptTokens: 268, completionTokens: 5 });
    const row = await recordAt("/mistral/v1/chat/completions", before);
    // genai-prices mistral-large-latest: $2 in (cached tokens too: no cache price), $6 out
    expect(row).toMatchObject({ provider: "mistral", status: 200, streamed: false, model: "mistral-large-latest", input_tokens: "268", cache_read_tokens: "224", output_tokens: "5", cost_usd: "0.000566000", cost_source: "genai-prices" });
  });

  test("chat.stream: thinking chunks parse as the SDK's own types; usage from the finish chunk", async () => {
    const before = (await gw.sql("select * from requests where streamed")).length;
    const stream = await viaLoupe.chat.stream(
      { model: "magistral-medium-latest", messages: [{ role: "user", content: "How do I cross the street?" }] },
      fixture("mistral/chat-stream-magistral-thinking.pydantic-ai-recording.sse"),
    );
    const events = [];
    for await (const event of stream) events.push(event.data);
    expect(events.at(-1)!.usage).toMatchObject({ promptTokens: 10, completionTokens: 232 });
    expect(events.some((chunk) => Array.isArray(chunk.choices[0]?.delta.content))).toBe(true);
    expect(mock.requests.at(-1)!.json).toMatchObject({ model: "magistral-medium-latest", stream: true });
    expect(mock.requests.at(-1)!.json.stream_options).toBeUndefined();
    let rows: Record<string, unknown>[] = [];
    for (let attempt = 0; attempt < 50 && rows.length <= before; attempt++) rows = await gw.sql("select * from requests where streamed order by started_at");
    // genai-prices magistral-medium: 10 × $2 + 232 × $5 per million
    expect(rows.at(-1)).toMatchObject({ provider: "mistral", model: "magistral-medium-latest", input_tokens: "10", output_tokens: "232", cost_usd: "0.001180000", finish_reason: "stop" });
  });

  test("Loupe's own error (upstream timeout) reaches the SDK as an HTTP error with status and body, and is recorded", async () => {
    const error = (await viaLoupe.chat
      .complete({ model: "mistral-small-latest", messages: [{ role: "user", content: "hi" }] }, fixture("mistral/chat-nonstream-prompt-cache.pydantic-ai-recording.json", { "x-mock-delay-ms": "1500" }))
      .catch((e: unknown) => e)) as { statusCode?: number; body?: string };
    expect(error.statusCode).toBe(504);
    expect(JSON.parse(error.body!)).toMatchObject({ error: { type: "server_error", message: expect.any(String) } });
    const [row] = await gw.sql("select * from requests where provider = 'mistral' and status = 504");
    expect(row).toMatchObject({ error_type: "upstream_timeout", model: "mistral-small-latest" });
  });
});
