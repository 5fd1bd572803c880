import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * Ollama through Loupe, with its own SDK (the `ollama` package, host
 * http://HOST:PORT/ollama) and with the OpenAI SDK on its compatible API
 * (http://HOST:PORT/ollama/v1): one provider id, native NDJSON streams
 * passed on as they come, the counts of the last object recorded, and local
 * models free (cost exactly 0, source free) — errors in the shape each SDK reads.
 */
let mock: MockUpstream;
let gw: Gateway;
let viaLoupe: Ollama;
let direct: Ollama;

beforeAll(async () => {
  mock = await startMockUpstream();
  // The operator prices one local model; the others stay free.
  const prices = `${tempDir()}/prices.json`;
  await Bun.write(prices, JSON.stringify({ models: [{ provider: "ollama", model: "all-minilm", prices: { input_mtok: 0.02 } }] }));
  gw = await startGateway({ env: { LOUPE_OLLAMA_BASE_URL: mock.url, LOUPE_MAX_BODY_BYTES: "100000", LOUPE_PRICES_FILE: prices } });
  viaLoupe = new Ollama({ host: `${gw.url}/ollama` });
  direct = new Ollama({ host: mock.url });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

const record = async (id: string | null | undefined) => {
  for (let attempt = 0; attempt < 50; attempt++) {
    const rows = await gw.sql(`select * from requests where id = '${id}'`);
    if (rows[0]) return rows[0];
    await Bun.sleep(50);
  }
  throw new Error(`no record ${id}`);
};
/** The SDK hides the response: the newest record is the call's (each test waits for its own). */
const latest = async () => (await gw.sql("select * from requests order by started_at desc limit 1"))[0]!;
const free = { cost_usd: "0.000000000", cost_source: "free" };
const messages = [{ role: "user", content: "why is the sky blue?" }];

describe("the ollama SDK through Loupe", () => {
  test("chat, not streamed: the upstream gets the SDK's request, the SDK the upstream's answer; counts recorded, free", async () => {
    const request = { model: "llama3.2", messages, stream: false as const };
    const answer = await viaLoupe.chat(request);
    const upstream = mock.requests.at(-1)!;
    expect(upstream.path).toBe("/api/chat");
    expect(upstream.json).toEqual(request);
    expect(answer).toEqual(await direct.chat(request));
    expect(answer.eval_count).toBe(298);
    const row = await latest();
    expect(row).toMatchObject({ provider: "ollama", operation: "chat", path: "/ollama/api/chat", status: 200, model: "llama3.2", response_model: "llama3.2", streamed: false, input_tokens: "26", output_tokens: "298", cache_read_tokens: null, ...free });
    expect(JSON.parse(row.usage_raw)).toEqual({ prompt_eval_count: 26, eval_count: 298, total_duration: 5191566416, load_duration: 2154458, prompt_eval_duration: 383809000, eval_duration: 4799921000 });
  });

  test("chat, streamed: every NDJSON object reaches the SDK; the last one's counts make the record", async () => {
    const parts = [];
    for await (const part of await viaLoupe.chat({ model: "llama3.2", messages, stream: true })) parts.push(part);
    expect(parts.map((p) => [p.message.content, p.done])).toEqual([["The", false], ["", true]]);
    expect(mock.requests.at(-1)!.json).toMatchObject({ stream: true });
    expect(await latest()).toMatchObject({ provider: "ollama", operation: "chat", streamed: true, input_tokens: "26", output_tokens: "282", ...free });
  });

  test("generate, streamed and not", async () => {
    const whole = await viaLoupe.generate({ model: "gemma4", prompt: "Hello" });
    expect(whole.response).toBe("Hello! How can I help you today?");
    expect(await latest()).toMatchObject({ path: "/ollama/api/generate", operation: "text_completion", model: "gemma4", streamed: false, input_tokens: "11", output_tokens: "18", finish_reason: "stop", ...free });
    const parts = [];
    for await (const part of await viaLoupe.generate({ model: "llama3.2", prompt: "Why is the sky blue?", stream: true })) parts.push(part.response);
    expect(parts).toEqual(["The", ""]);
    expect(await latest()).toMatchObject({ operation: "text_completion", streamed: true, input_tokens: "26", output_tokens: "259", ...free });
  });

  test("embed: the prompt's tokens, nothing generated; priced by the operator's price file, which names it", async () => {
    const answer = await viaLoupe.embed({ model: "all-minilm", input: "Why is the sky blue?" });
    expect(answer.embeddings[0]).toHaveLength(10);
    // 8 tokens × $0.02 per million
    expect(await latest()).toMatchObject({ path: "/ollama/api/embed", operation: "embeddings", model: "all-minilm", input_tokens: "8", output_tokens: null, cost_usd: "0.000000160", cost_source: "override" });
  });

  test("an upstream error passes through as Ollama sent it: the SDK's ResponseError has its message", async () => {
    const client = new Ollama({ host: `${gw.url}/ollama`, headers: { "x-mock-fixture": "ollama/error-model-not-found.CONSTRUCTED.json", "x-mock-status": "404" } });
    const error = await client.chat({ model: "llama3.2", messages }).catch((e: unknown) => e as { name: string; status_code: number; error: string });
    expect(error).toMatchObject({ name: "ResponseError", status_code: 404, error: 'model "llama3.2" not found, try pulling it first' });
    expect(await latest()).toMatchObject({ status: 404, error_type: "http_404", ...free });
  });

  test("an error after the stream began ({\"error\"} as the last line): the SDK throws it, the record keeps status 200 and says so", async () => {
    const client = new Ollama({ host: `${gw.url}/ollama`, headers: { "x-mock-fixture": "ollama/api-generate-stream-error.documented.ndjson" } });
    const seen: string[] = [];
    const failed = await (async () => {
      for await (const part of await client.generate({ model: "gemma4", prompt: "Is the sky blue?", stream: true })) seen.push(part.response ?? "");
    })().catch((e: Error) => e.message);
    expect(seen).toEqual([" Yes", ".", "I", "can"]);
    expect(failed).toBe("an error was encountered while running the model");
    expect(await latest()).toMatchObject({ status: 200, streamed: true, error_type: "stream_error", input_tokens: null, ...free });
  });

  test("Loupe's own error in Ollama's shape ({\"error\": \"…\"}): the SDK reads its message; the call is recorded", async () => {
    const error = await viaLoupe.chat({ model: "llama3.2", messages: [{ role: "user", content: "x".repeat(200_000) }] }).then(
      () => undefined,
      (e: unknown) => e as { status_code: number; error: string },
    );
    expect(error?.status_code).toBe(413);
    expect(error?.error).toMatch(/exceeds the limit of 100000 bytes/);
    expect(await latest()).toMatchObject({ provider: "ollama", status: 413, error_type: "payload_too_large" });
  });

  test("a malformed NDJSON line reaches the client as it came; the record still has the counts; the gateway is unharmed", async () => {
    const response = await fetch(`${gw.url}/ollama/api/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-mock-fixture": "ollama/api-chat-stream-malformed.CONSTRUCTED.ndjson" },
      body: JSON.stringify({ model: "llama3.2", messages }),
    });
    expect(response.headers.get("content-type")).toBe("application/x-ndjson");
    expect(await response.text()).toBe(await Bun.file(`${import.meta.dir}/../fixtures/ollama/api-chat-stream-malformed.CONSTRUCTED.ndjson`).text());
    expect(await record(response.headers.get("x-loupe-request-id"))).toMatchObject({ status: 200, input_tokens: "26", output_tokens: "282", error_type: null });
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });
});

describe("NDJSON streams pass through without delay", () => {
  /** Milliseconds until the first line, and until the end, of a chat stream whose lines the upstream sends 300 ms apart. */
  async function timeStream(url: string) {
    const t0 = performance.now();
    const response = await fetch(`${url}/api/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-mock-event-delay-ms": "300" },
      body: JSON.stringify({ model: "llama3.2", messages }),
    });
    const reader = response.body!.getReader();
    const first = await reader.read();
    const firstLine = performance.now() - t0;
    while (!(await reader.read()).done);
    return { firstLine, total: performance.now() - t0, id: response.headers.get("x-loupe-request-id"), firstText: new TextDecoder().decode(first.value) };
  }

  test("the first line reaches the client when the upstream sends it, not with the next one; TTFB as direct", async () => {
    const directTimes = await timeStream(mock.url);
    const viaTimes = await timeStream(`${gw.url}/ollama`);
    expect(viaTimes.firstText).toStartWith('{"model":"llama3.2"');
    expect(viaTimes.total).toBeGreaterThanOrEqual(300);
    // The second line leaves the upstream 300 ms after the first: a buffering proxy would hand on both together.
    expect(viaTimes.firstLine).toBeLessThan(100);
    expect(viaTimes.firstLine - directTimes.firstLine).toBeLessThan(50);
    const row = await record(viaTimes.id);
    expect(Number(row.ttfb_ms)).toBeLessThan(100);
    console.log(`first NDJSON line: direct ${directTimes.firstLine.toFixed(2)} ms, through Loupe ${viaTimes.firstLine.toFixed(2)} ms (record ttfb ${row.ttfb_ms} ms)`);
  });
});

describe("the OpenAI SDK on Ollama's /v1, under the same provider", () => {
  const openai = (fixture: string) =>
    new OpenAI({ apiKey: "ollama", baseURL: `${gw.url}/ollama/v1`, maxRetries: 0, defaultHeaders: { "x-mock-fixture": fixture } });

  test("chat completion: OpenAI's usage shape, recorded as ollama, free", async () => {
    const request = { model: "llama3.2", messages: [{ role: "user" as const, content: "why is the sky blue?" }] };
    const { data, response } = await openai("ollama/v1-chat-nonstream.CONSTRUCTED.json").chat.completions.create(request).withResponse();
    expect(mock.requests.at(-1)!.path).toBe("/v1/chat/completions");
    expect(mock.requests.at(-1)!.json).toEqual(request);
    expect(data.choices[0]!.message.content).toBe("Hello! How are you today?");
    expect(await record(response.headers.get("x-loupe-request-id"))).toMatchObject({ provider: "ollama", operation: "chat", path: "/ollama/v1/chat/completions", input_tokens: "26", output_tokens: "298", finish_reason: "stop", ...free });
  });

  test("stream without include_usage: Loupe asks Ollama for usage, the SDK sees no usage chunk, the record has the counts", async () => {
    const chunks = [];
    const stream = await openai("ollama/v1-chat-stream-include-usage.CONSTRUCTED.sse").chat.completions.create({ model: "llama3.2", messages: [{ role: "user", content: "why is the sky blue?" }], stream: true });
    for await (const chunk of stream) chunks.push(chunk);
    expect(mock.requests.at(-1)!.json.stream_options).toEqual({ include_usage: true });
    expect(chunks.map((c) => c.choices.length)).toEqual([1, 1]);
    expect(chunks.every((c) => c.usage === undefined)).toBe(true);
    expect(await latest()).toMatchObject({ provider: "ollama", streamed: true, input_tokens: "26", output_tokens: "282", finish_reason: "stop", ...free });
  });

  test("embeddings", async () => {
    const answer = await openai("ollama/v1-embeddings.CONSTRUCTED.json").embeddings.create({ model: "all-minilm", input: "Why is the sky blue?" });
    expect(answer.usage.prompt_tokens).toBe(8);
    expect(await latest()).toMatchObject({ path: "/ollama/v1/embeddings", operation: "embeddings", input_tokens: "8", cost_usd: "0.000000160", cost_source: "override" });
  });

  test("Loupe's own error on /v1 in OpenAI's shape: the SDK's APIError has its message and type", async () => {
    const error = await openai("ollama/v1-chat-nonstream.CONSTRUCTED.json")
      .chat.completions.create({ model: "llama3.2", messages: [{ role: "user", content: "x".repeat(200_000) }] })
      .then(() => undefined, (e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error!.status).toBe(413);
    expect(error!.error).toMatchObject({ type: "invalid_request_error", code: "payload_too_large" });
    expect(error!.message).toMatch(/^413 request body of \d+ bytes exceeds the limit of 100000 bytes$/);
  });
});
