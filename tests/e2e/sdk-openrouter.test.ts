import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { fixtureText } from "../support/fixtures.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * OpenRouter's stream quirks through Loupe with the OpenAI SDK: the
 * `: OPENROUTER PROCESSING` comments it sends while a model warms up pass on
 * byte for byte (the SDK skips them), `usage.cost` is the charge, and an
 * error chunk inside a 200 stream leaves a record that says so.
 */
let mock: MockUpstream;
let gw: Gateway;
let client: OpenAI;

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_OPENROUTER_BASE_URL: mock.url } });
  client = new OpenAI({ apiKey: "sk-or-test", baseURL: `${gw.url}/openrouter/v1`, maxRetries: 0 });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

async function recordOf(id: string | null) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const [row] = await gw.sql(`select * from requests where id = '${id}'`);
    if (row) return row;
    await Bun.sleep(100);
  }
  throw new Error(`no record ${id}`);
}

const PROCESSING = "openrouter/chat-stream-processing.fantasy-recording.sse";
const MIDSTREAM_ERROR = "openrouter/chat-stream-midstream-error.CONSTRUCTED.sse";
const request = { model: "openai/gpt-5.4-nano", messages: [{ role: "user" as const, content: "Say hi in Portuguese" }], stream: true as const, stream_options: { include_usage: true } };

describe("OpenRouter streams through Loupe", () => {
  test("': OPENROUTER PROCESSING' comments reach the client byte for byte, and the SDK still parses the stream", async () => {
    const bytes = await (await client.chat.completions.create(request, { headers: { "x-mock-fixture": PROCESSING } }).asResponse()).text();
    expect(bytes).toBe(fixtureText(PROCESSING));
    expect(bytes.startsWith(": OPENROUTER PROCESSING\n\n")).toBe(true);

    const { data: stream, response } = await client.chat.completions.create(request, { headers: { "x-mock-fixture": PROCESSING } }).withResponse();
    let text = "";
    let last: OpenAI.ChatCompletionChunk | undefined;
    for await (const chunk of stream) (text += chunk.choices[0]?.delta.content ?? ""), (last = chunk);
    expect(text).toBe("Olá! 😊");
    expect((last!.usage as unknown as { cost: number }).cost).toBe(0.00001255);
    const row = await recordOf(response.headers.get("x-loupe-request-id"));
    // usage.cost 0.00001255 USD is what OpenRouter charged: it wins over prices
    expect(row).toMatchObject({ provider: "openrouter", status: 200, streamed: true, model: "openai/gpt-5.4-nano", response_model: "openai/gpt-5.4-nano-20260317", input_tokens: "19", output_tokens: "7", cost_usd: "0.000012550", cost_source: "provider", finish_reason: "stop", error_type: null });
  });

  test("an error chunk inside a 200 stream: the SDK raises it, the record keeps status 200 with the error's type and message", async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: "openai/gpt-4o", messages: [{ role: "user", content: "Hello" }], stream: true }, { headers: { "x-mock-fixture": MIDSTREAM_ERROR } })
      .withResponse();
    expect(response.status).toBe(200);
    const received: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? "");
    })().catch((e: unknown) => e);
    expect(received).toEqual(["Hel"]);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toContain("Provider disconnected unexpectedly");
    const row = await recordOf(response.headers.get("x-loupe-request-id"));
    expect(row).toMatchObject({ provider: "openrouter", status: 200, streamed: true, error_type: "server_error", error_message: "Provider disconnected unexpectedly", finish_reason: "error", input_tokens: null, cost_usd: null });
  });
});
