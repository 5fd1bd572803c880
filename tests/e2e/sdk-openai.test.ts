import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

let mock: MockUpstream;
let gw: Gateway;
let viaLoupe: OpenAI;
let direct: OpenAI;

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_OPENAI_BASE_URL: mock.url } });
  viaLoupe = new OpenAI({ apiKey: "sk-test", baseURL: `${gw.url}/openai/v1`, maxRetries: 0 });
  direct = new OpenAI({ apiKey: "sk-test", baseURL: `${mock.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

const chat = { model: "gpt-4o-2024-08-06", messages: [{ role: "user" as const, content: "Hello" }] };
const record = async (id: string | null) => (await gw.sql(`select * from requests where id = '${id}'`))[0]!;

describe("OpenAI SDK through Loupe", () => {
  test("chat completion: same result, usage, cost, user from the body", async () => {
    const { data, response } = await viaLoupe.chat.completions.create({ ...chat, user: "u-42" }).withResponse();
    expect(data).toEqual(await direct.chat.completions.create({ ...chat, user: "u-42" }));
    expect(mock.requests.at(-1)!.headers.get("authorization")).toBe("Bearer sk-test");
    const row = await record(response.headers.get("x-loupe-request-id"));
    // gpt-5.4 answered: 1117 × $2.50 + 46 × $15 per million
    expect(row).toMatchObject({ provider: "openai", operation: "chat", response_model: "gpt-5.4", input_tokens: "1117", cache_read_tokens: "0", output_tokens: "46", reasoning_tokens: "0", cost_usd: "0.003482500", user_id: "u-42", finish_reason: "stop" });
  });

  test("stream without include_usage: Loupe asks for usage but the client gets exactly the direct bytes", async () => {
    const viaResponse = await viaLoupe.chat.completions.create({ ...chat, stream: true }).asResponse();
    const viaBytes = await viaResponse.text();
    const upstreamAsked = mock.requests.at(-1)!.json;
    expect(upstreamAsked.stream_options).toEqual({ include_usage: true });
    const directBytes = await (await direct.chat.completions.create({ ...chat, stream: true }).asResponse()).text();
    expect(mock.requests.at(-1)!.json.stream_options).toBeUndefined();
    expect(viaBytes).toBe(directBytes);
    expect(viaBytes).not.toContain('"usage"');
    const row = await record(viaResponse.headers.get("x-loupe-request-id"));
    // 2006 prompt tokens of which 1920 cached: 86 × $2.50 + 1920 × $1.25 + 300 × $10 per million
    expect(row).toMatchObject({ streamed: true, input_tokens: "2006", cache_read_tokens: "1920", output_tokens: "300", cost_usd: "0.005615000", finish_reason: "stop" });
  });

  test("stream with include_usage: untouched, the usage chunk reaches the client", async () => {
    const chunks = [];
    for await (const chunk of await viaLoupe.chat.completions.create({ ...chat, stream: true, stream_options: { include_usage: true } })) chunks.push(chunk);
    const directChunks = [];
    for await (const chunk of await direct.chat.completions.create({ ...chat, stream: true, stream_options: { include_usage: true } })) directChunks.push(chunk);
    expect(chunks).toEqual(directChunks);
    expect(chunks.at(-1)!.usage?.prompt_tokens).toBe(2006);
  });

  test("older recorded stream (no usage:null on chunks) with include_usage", async () => {
    const response = await viaLoupe.chat.completions
      .create({ ...chat, stream: true, stream_options: { include_usage: true } }, { headers: { "x-mock-fixture": "openai/chat-stream-include-usage.openai-node-recording.sse" } })
      .asResponse();
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(mock.sent.at(-1)!);
    const row = await record(response.headers.get("x-loupe-request-id"));
    expect(Number(row.input_tokens)).toBeGreaterThan(0);
    expect(row.cost_usd).not.toBeNull();
  });

  test("responses API, plain and streamed", async () => {
    const { data, response } = await viaLoupe.responses.create({ model: "gpt-5.4", input: "hi" }).withResponse();
    expect(data.output_text).toBe((await direct.responses.create({ model: "gpt-5.4", input: "hi" })).output_text);
    expect(await record(response.headers.get("x-loupe-request-id"))).toMatchObject({ input_tokens: "36", output_tokens: "87", cost_usd: "0.001395000", operation: "chat" });

    const streamed = await viaLoupe.responses.create({ model: "gpt-5.4", input: "hi", stream: true }).asResponse();
    expect(new Uint8Array(await streamed.arrayBuffer())).toEqual(mock.sent.at(-1)!);
    expect(await record(streamed.headers.get("x-loupe-request-id"))).toMatchObject({ streamed: true, input_tokens: "37", output_tokens: "11", cost_usd: "0.000257500", finish_reason: "completed" });
  });

  test("drop-in /v1/chat/completions and a 401 passed through untouched", async () => {
    const dropIn = new OpenAI({ apiKey: "sk-test", baseURL: `${gw.url}/v1`, maxRetries: 0 });
    expect((await dropIn.chat.completions.create(chat)).id).toBeString();
    const error = await dropIn.chat.completions
      .create(chat, { headers: { "x-mock-fixture": "openai/error-401.CONSTRUCTED.json", "x-mock-status": "401" } })
      .catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error.error).toEqual((await Bun.file(`${import.meta.dir}/../fixtures/openai/error-401.CONSTRUCTED.json`).json()).error);
    const [row] = await gw.sql(`select * from requests where status = 401`);
    expect(row).toMatchObject({ error_type: "invalid_request_error", cost_usd: "0.000000000" });
  });
});
