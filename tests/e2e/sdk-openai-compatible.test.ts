import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { fixtureText, sseEvents } from "../support/fixtures.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * The OpenAI-compatible providers of part 5 through the gateway with the
 * official OpenAI SDK, pointed at `http://HOST:PORT/<id>` plus the provider's
 * own path: each one's record holds its id, its usage read its own way, its
 * cost (provider-reported where it says what it charged), and Loupe's own
 * errors reach the SDK in OpenAI's shape.
 */

interface Call {
  fixture: string;
  body: Record<string, unknown>;
  /** Record columns the call must give (tokens as numbers, NULL as null). */
  record: Record<string, unknown>;
}

interface Case {
  id: string;
  /** Below the gateway origin: the OpenAI SDK's base URL. */
  sdkPath: string;
  chat: Call;
  stream: Call;
  /** What the client must receive for the stream, when Loupe changed the request (default: what the upstream sent). */
  clientStream?: (sent: string) => string;
}

const user = [{ role: "user" as const, content: "Hello" }];
const usageColumns = (input: number | null, cacheRead: number | null, output: number | null, reasoning: number | null) => ({
  input_tokens: input,
  cache_read_tokens: cacheRead,
  output_tokens: output,
  reasoning_tokens: reasoning,
});

const cases: Case[] = [
  {
    id: "mistral",
    sdkPath: "/mistral/v1",
    chat: {
      fixture: "mistral/chat-nonstream-prompt-cache.pydantic-ai-recording.json",
      body: { model: "mistral-large-latest", messages: user },
      // genai-prices mistral-large-latest $2 / $6, no cache price: 268×2 + 5×6 µ$
      record: { ...usageColumns(268, 224, 5, null), cost_usd: "0.000566000", cost_source: "genai-prices", finish_reason: "stop" },
    },
    stream: {
      fixture: "mistral/chat-stream.abridged.sse",
      body: { model: "mistral-large-latest", messages: user, stream: true },
      record: { ...usageColumns(34, null, 100, null), cost_usd: "0.000668000", cost_source: "genai-prices", finish_reason: "length" },
    },
  },
  {
    id: "xai",
    sdkPath: "/xai/v1",
    chat: {
      fixture: "xai/chat-nonstream-tool-calls.fantasy-recording.json",
      body: { model: "grok-4-fast", messages: user },
      // completion 68 + reasoning 148; cost_in_usd_ticks 1724000 = 172400 nano-USD
      record: { ...usageColumns(436, 152, 216, 148), cost_usd: "0.000172400", cost_source: "provider", response_model: "grok-4-fast-reasoning", finish_reason: "tool_calls" },
    },
    stream: {
      fixture: "xai/chat-stream-include-usage.fantasy-recording.sse",
      body: { model: "grok-code-fast-1", messages: user, stream: true, stream_options: { include_usage: true } },
      record: { ...usageColumns(213, 192, 200, 198), cost_usd: "0.000308040", cost_source: "provider", finish_reason: "stop" },
    },
  },
  {
    id: "together",
    sdkPath: "/together/v1",
    chat: {
      fixture: "together/chat-nonstream-tool-call.aiproxyswift.json",
      body: { model: "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", messages: user },
      record: { ...usageColumns(553, null, 24, null), cost_usd: "0.000507760", cost_source: "genai-prices", finish_reason: "tool_calls" },
    },
    stream: {
      fixture: "together/chat-stream-usage-tail.aiproxyswift.sse",
      body: { model: "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", messages: user, stream: true },
      record: { ...usageColumns(12, null, 27, null), cost_usd: "0.000007020", cost_source: "genai-prices", finish_reason: "eos" },
    },
  },
  {
    id: "fireworks",
    sdkPath: "/fireworks/inference/v1",
    chat: {
      fixture: "fireworks/chat-nonstream.llama-stack-recording.json",
      body: { model: "accounts/fireworks/models/llama-v3p1-8b-instruct", messages: user },
      record: { ...usageColumns(17, null, 9, null), cost_usd: "0.000005200", cost_source: "genai-prices", finish_reason: "stop" },
    },
    stream: {
      fixture: "fireworks/chat-stream.llama-stack-recording.sse",
      body: { model: "accounts/fireworks/models/llama-v3p1-8b-instruct", messages: user, stream: true },
      record: { ...usageColumns(20, null, 11, null), cost_usd: "0.000006200", cost_source: "genai-prices", finish_reason: "stop" },
    },
  },
  {
    id: "cerebras",
    sdkPath: "/cerebras/v1",
    chat: {
      fixture: "cerebras/chat-nonstream-reasoning.pydantic-ai-recording.json",
      body: { model: "gpt-oss-120b", messages: user },
      record: { ...usageColumns(80, 0, 45, 34), cost_usd: "0.000061750", cost_source: "genai-prices", finish_reason: "stop" },
    },
    stream: {
      fixture: "cerebras/chat-stream-include-usage.CONSTRUCTED.sse",
      // No include_usage: Loupe asks for it and hides the usage chunk the client did not ask for.
      body: { model: "gpt-oss-120b", messages: user, stream: true },
      record: { ...usageColumns(80, 0, 45, 34), cost_usd: "0.000061750", cost_source: "genai-prices", finish_reason: "stop" },
    },
    clientStream: (sent) =>
      sseEvents(sent)
        .filter((event) => !event.includes('"choices":[]'))
        .join(""),
  },
  {
    id: "perplexity",
    sdkPath: "/perplexity",
    chat: {
      fixture: "perplexity/chat-nonstream-cost.CONSTRUCTED.json",
      body: { model: "sonar", messages: user },
      // usage.cost.total_cost: tokens plus the low-context request fee
      record: { ...usageColumns(8, null, 147, null), cost_usd: "0.005155000", cost_source: "provider", finish_reason: "stop" },
    },
    stream: {
      fixture: "perplexity/chat-stream-cost.CONSTRUCTED.sse",
      body: { model: "sonar-pro", messages: user, stream: true },
      record: { ...usageColumns(10, null, 52, null), cost_usd: "0.006810000", cost_source: "provider", finish_reason: "stop" },
    },
  },
];

let mock: MockUpstream;
let gw: Gateway;

beforeAll(async () => {
  mock = await startMockUpstream();
  const env: Record<string, string> = { LOUPE_UPSTREAM_TIMEOUT_MS: "800", LOUPE_MAX_BODY_BYTES: "20000" };
  for (const { id } of cases) env[`LOUPE_${id.toUpperCase()}_BASE_URL`] = mock.url;
  gw = await startGateway({ env });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

const TOKEN_COLUMNS = ["input_tokens", "cache_read_tokens", "output_tokens", "reasoning_tokens"];

/** The call's record (made after the response ends), token columns as numbers. */
async function recordOf(id: string | null): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const [row] = await gw.sql(`select * from requests where id = '${id}'`);
    if (row) return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, TOKEN_COLUMNS.includes(key) && value !== null ? Number(value) : value]));
    await Bun.sleep(100);
  }
  throw new Error(`no record ${id}`);
}

const upstreamPathOf = (c: Case) => `${c.sdkPath.slice(c.id.length + 1)}/chat/completions`;

describe.each(cases)("OpenAI SDK through Loupe to $id", (c) => {
  const client = () => new OpenAI({ apiKey: `${c.id}-key`, baseURL: `${gw.url}${c.sdkPath}`, maxRetries: 0 });
  const fixture = (name: string) => ({ headers: { "x-mock-fixture": name } });

  test("chat completion: forwarded unchanged to the provider's path, recorded under its id with its usage and cost", async () => {
    const { data, response } = await client().chat.completions.create(c.chat.body as any, fixture(c.chat.fixture)).withResponse();
    const upstream = mock.requests.at(-1)!;
    expect(upstream.path).toBe(upstreamPathOf(c));
    expect(upstream.headers.get("authorization")).toBe(`Bearer ${c.id}-key`);
    expect(upstream.json).toEqual(c.chat.body);
    expect(data).toEqual(JSON.parse(fixtureText(c.chat.fixture)));
    const row = await recordOf(response.headers.get("x-loupe-request-id"));
    expect(row).toMatchObject({ provider: c.id, operation: "chat", path: `${c.sdkPath}/chat/completions`, status: 200, streamed: false, model: c.chat.body.model, ...c.chat.record });
  });

  test("stream: the SDK reads it, the client gets the provider's bytes, the record holds the stream's usage and cost", async () => {
    const { data: stream, response } = await client().chat.completions.create(c.stream.body as any, fixture(c.stream.fixture)).withResponse();
    const chunks = [];
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(0);
    const row = await recordOf(response.headers.get("x-loupe-request-id"));
    expect(row).toMatchObject({ provider: c.id, path: `${c.sdkPath}/chat/completions`, status: 200, streamed: true, model: c.stream.body.model, ...c.stream.record });

    const bytes = await (await client().chat.completions.create(c.stream.body as any, fixture(c.stream.fixture)).asResponse()).text();
    const sent = new TextDecoder().decode(mock.sent.at(-1));
    expect(bytes).toBe(c.clientStream ? c.clientStream(sent) : sent);
    if (c.clientStream) expect(mock.requests.at(-1)!.json.stream_options).toEqual({ include_usage: true });
    else expect(mock.requests.at(-1)!.json).toEqual(c.stream.body);
  });

  test("upstream timeout: a 504 in OpenAI's error shape that the SDK raises as its own error, and still a record", async () => {
    const error = await client()
      .chat.completions.create(c.chat.body as any, { headers: { "x-mock-fixture": c.chat.fixture, "x-mock-delay-ms": "1500" } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect((error as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: "server_error", message: expect.any(String) });
    const [row] = await gw.sql(`select * from requests where provider = '${c.id}' and status = 504`);
    expect(row).toMatchObject({ provider: c.id, error_type: "upstream_timeout", model: c.chat.body.model });
  });

  test("body over the limit: a 413 in OpenAI's error shape", async () => {
    const big = { ...c.chat.body, messages: [{ role: "user", content: "x".repeat(30_000) }] };
    const error = await client()
      .chat.completions.create(big as any)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect((error as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: "invalid_request_error", message: expect.stringContaining("20000 bytes") });
  });
});

test("the gateway is unharmed: a normal call after every provider's errors still goes through", async () => {
  const c = cases[0]!;
  const client = new OpenAI({ apiKey: "k", baseURL: `${gw.url}${c.sdkPath}`, maxRetries: 0 });
  const data = await client.chat.completions.create(c.chat.body as any, { headers: { "x-mock-fixture": c.chat.fixture } });
  expect(data.usage?.prompt_tokens).toBe(268);
});
