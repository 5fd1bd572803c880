import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { BUN, ROOT, startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * Providers the operator declares in the config file (`providers: [{ id,
 * baseUrl, dialect, pricingId? }]`): served at /<id>/… like registered ones,
 * recorded under their id, priced from genai-prices under `pricingId` (else
 * the id) when that provider is known there, else from the price file,
 * else NULL — by the gateway, and by `loupe sql` on a journal it left.
 */
let mock: MockUpstream;
let gw: Gateway;
let config: string;
let prices: string;

const declare = (mockUrl: string) => ({
  providers: [
    // An OpenAI-compatible upstream priced as Groq (genai-prices knows groq).
    { id: "acme", baseUrl: mockUrl, dialect: "openai", pricingId: "groq" },
    // An Anthropic-compatible one (an Anthropic reseller), priced as Anthropic.
    { id: "claudish", baseUrl: `${mockUrl}/`, dialect: "anthropic", pricingId: "anthropic" },
    // One genai-prices does not know: NULL, unless the operator's price file names it.
    { id: "tinyllm", baseUrl: mockUrl, dialect: "openai", pricingId: "tinyllm-cloud" },
  ],
});

beforeAll(async () => {
  mock = await startMockUpstream();
  const dir = tempDir();
  config = join(dir, "loupe.json");
  prices = join(dir, "prices.json");
  writeFileSync(config, JSON.stringify(declare(mock.url)));
  writeFileSync(prices, JSON.stringify({ models: [{ provider: "tinyllm-cloud", model: "openai/gpt-oss-20b", prices: { input_mtok: 1, output_mtok: 2 } }] }));
  gw = await startGateway({ env: { LOUPE_CONFIG: config, LOUPE_PRICES_FILE: prices, LOUPE_MAX_BODY_BYTES: "100000" } });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

const record = async (id: string | null) => (await gw.sql(`select * from requests where id = '${id}'`))[0]!;
const openai = (id: string, fixture: string) =>
  new OpenAI({ apiKey: "sk-acme", baseURL: `${gw.url}/${id}/v1`, maxRetries: 0, defaultHeaders: { "x-mock-fixture": fixture } });
const question = [{ role: "user" as const, content: "Hello" }];

describe("a declared OpenAI-compatible provider", () => {
  test("the OpenAI SDK at /acme/v1: forwarded byte for byte to its base URL, recorded as acme, priced under its pricingId", async () => {
    const request = { model: "openai/gpt-oss-20b", messages: question };
    const { data, response } = await openai("acme", "groq/chat-nonstream.third-party-fixture.json").chat.completions.create(request).withResponse();
    const upstream = mock.requests.at(-1)!;
    expect(upstream.path).toBe("/v1/chat/completions");
    expect(upstream.headers.get("authorization")).toBe("Bearer sk-acme");
    expect(upstream.json).toEqual(request);
    expect(data.usage?.prompt_tokens).toBe(18);
    // genai-prices groq openai/gpt-oss-20b: 18 × $0.075 + 5 × $0.30 per million
    expect(await record(response.headers.get("x-loupe-request-id"))).toMatchObject({ provider: "acme", operation: "chat", path: "/acme/v1/chat/completions", status: 200, model: "openai/gpt-oss-20b", input_tokens: "18", output_tokens: "5", cost_usd: "0.000002850", cost_source: "genai-prices" });
  });

  test("a stream is forwarded untouched (nothing is asked of an upstream Loupe does not know); usage when the client asks for it", async () => {
    const client = openai("acme", "openai/chat-stream-include-usage-modern.CONSTRUCTED.sse");
    const plain = await client.chat.completions.create({ model: "gpt-4o", messages: question, stream: true }).asResponse();
    await plain.text();
    expect(mock.requests.at(-1)!.json.stream_options).toBeUndefined();
    expect(await record(plain.headers.get("x-loupe-request-id"))).toMatchObject({ provider: "acme", streamed: true, input_tokens: null, cost_usd: null });
    const asked = await client.chat.completions.create({ model: "gpt-4o", messages: question, stream: true, stream_options: { include_usage: true } }).asResponse();
    await asked.text();
    // gpt-4o-2024-08-06 is no Groq model: usage recorded, cost unpriced (NULL, never 0).
    expect(await record(asked.headers.get("x-loupe-request-id"))).toMatchObject({ provider: "acme", input_tokens: "2006", cache_read_tokens: "1920", output_tokens: "300", cost_usd: null, cost_source: null });
  });

  test("a pricingId genai-prices does not know: NULL, unless the operator's price file prices it", async () => {
    const priced = await openai("tinyllm", "groq/chat-nonstream.third-party-fixture.json").chat.completions.create({ model: "openai/gpt-oss-20b", messages: question }).withResponse();
    // The price file: 18 × $1 + 5 × $2 per million
    expect(await record(priced.response.headers.get("x-loupe-request-id"))).toMatchObject({ provider: "tinyllm", input_tokens: "18", output_tokens: "5", cost_usd: "0.000028000", cost_source: "override" });
    const unpriced = await openai("tinyllm", "deepseek/chat-nonstream-usage.CONSTRUCTED.json").chat.completions.create({ model: "deepseek-chat", messages: question }).withResponse();
    expect(await record(unpriced.response.headers.get("x-loupe-request-id"))).toMatchObject({ provider: "tinyllm", cost_usd: null, cost_source: null });
    expect(Number((await record(unpriced.response.headers.get("x-loupe-request-id"))).input_tokens)).toBeGreaterThan(0);
  });
});

describe("a declared Anthropic-compatible provider", () => {
  test("the Anthropic SDK at /claudish: Messages, streamed and not, recorded as claudish with Anthropic's usage and prices", async () => {
    const client = new Anthropic({ apiKey: "sk-ant", baseURL: `${gw.url}/claudish`, maxRetries: 0 });
    const params = { model: "claude-sonnet-4-5-20250929", max_tokens: 1024, messages: question };
    const { response } = await client.messages.create(params).withResponse();
    expect(mock.requests.at(-1)!.path).toBe("/v1/messages");
    expect(mock.requests.at(-1)!.json).toEqual(params);
    // claude-sonnet-4-5 at $3 / $15 per million: 2095 × 3 + 503 × 15
    expect(await record(response.headers.get("x-loupe-request-id"))).toMatchObject({ provider: "claudish", operation: "chat", input_tokens: "2095", output_tokens: "503", cost_usd: "0.013830000", cost_source: "genai-prices" });
    const stream = await client.messages.create({ ...params, model: "claude-opus-4-8", stream: true }).asResponse();
    await stream.text();
    expect(await record(stream.headers.get("x-loupe-request-id"))).toMatchObject({ provider: "claudish", streamed: true, input_tokens: "11", output_tokens: "6", cost_usd: "0.000205000" });
  });

  test("Loupe's own errors in Anthropic's shape, which the SDK reads; the call is recorded", async () => {
    const client = new Anthropic({ apiKey: "sk-ant", baseURL: `${gw.url}/claudish`, maxRetries: 0 });
    const error = await client.messages
      .create({ model: "claude-sonnet-4-5-20250929", max_tokens: 10, messages: [{ role: "user", content: "x".repeat(200_000) }] })
      .then(() => undefined, (e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(error!.status).toBe(413);
    expect(error!.error).toMatchObject({ type: "error", error: { type: "request_too_large" } });
    const rows = await gw.sql("select provider, status, error_type from requests where status = 413");
    expect(rows).toEqual([{ provider: "claudish", status: 413, error_type: "payload_too_large" }]);
  });
});

test("GET / lists the declared routes with their SDK base URLs", async () => {
  const { routes } = (await (await fetch(gw.url, { headers: { accept: "application/json" } })).json()) as { routes: { provider: string; sdk_base_url: string; upstream: string }[] };
  expect(routes.find((r) => r.provider === "acme")).toMatchObject({ sdk_base_url: `${gw.url}/acme/v1`, upstream: mock.url });
  expect(routes.find((r) => r.provider === "claudish")).toMatchObject({ sdk_base_url: `${gw.url}/claudish` });
});

test("a gateway killed with calls still in its journal: `loupe sql` records them under the declared provider, without the config", async () => {
  const crashing = await startGateway({ env: { LOUPE_CONFIG: config, LOUPE_FLUSH_INTERVAL_MS: "60000" } });
  const { response } = await new OpenAI({ apiKey: "k", baseURL: `${crashing.url}/acme/v1`, maxRetries: 0, defaultHeaders: { "x-mock-fixture": "groq/chat-nonstream.third-party-fixture.json" } })
    .chat.completions.create({ model: "openai/gpt-oss-20b", messages: question })
    .withResponse();
  crashing.proc.kill("SIGKILL");
  await crashing.proc.exited;
  // The shell has no config file: the journal says which providers its calls went to.
  const proc = Bun.spawn([BUN, join(ROOT, "main.ts"), "sql", "--json", "select id, provider, input_tokens, cost_usd from requests"], { env: { PATH: process.env.PATH ?? "", HOME: crashing.dir, LOUPE_DB: crashing.db }, stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  expect(await proc.exited).toBe(0);
  expect(JSON.parse(out)).toEqual([{ id: response.headers.get("x-loupe-request-id"), provider: "acme", input_tokens: "18", cost_usd: "0.000002850" }]);
});
