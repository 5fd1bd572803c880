import { AnthropicVertex } from "@anthropic-ai/vertex-sdk";
import { GoogleGenAI } from "@google/genai";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * Both official SDKs for Vertex AI through Loupe: Claude with
 * @anthropic-ai/vertex-sdk (rawPredict / streamRawPredict) and Gemini with
 * @google/genai in Vertex mode. Google auth is a stub that hands out a
 * bearer token, so nothing reaches Google; the token must reach the
 * upstream untouched.
 */
let mock: MockUpstream;
let gw: Gateway;

/** What google-auth-library's AuthClient gives an SDK: the Authorization header. */
const googleAuth = { getRequestHeaders: async () => new Headers({ authorization: "Bearer ya29.test-token" }) } as never;

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_VERTEX_BASE_URL: mock.url } });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

const record = async (id: string | null) => (await gw.sql(`select * from requests where id = '${id}'`))[0]!;
const lastRecord = async () => (await gw.sql(`select * from requests order by started_at desc, id desc limit 1`))[0]!;
const fixture = (name: string) => ({ "x-mock-fixture": `vertex/${name}` });

describe("Claude on Vertex with @anthropic-ai/vertex-sdk", () => {
  const claude = (baseURL: string) => new AnthropicVertex({ baseURL, region: "europe-west1", projectId: "test-project", authClient: googleAuth, maxRetries: 0 });
  const hello = { max_tokens: 1024, messages: [{ role: "user" as const, content: "Hi Claude" }] };

  test("rawPredict: the SDK's request reaches Vertex as sent; the record takes the model from the path", async () => {
    const { data, response } = await claude(`${gw.url}/vertex/v1`)
      .messages.create({ ...hello, model: "claude-opus-4-6" }, { headers: fixture("rawPredict-claude-opus-4-6.quoted-log.json") })
      .withResponse();
    const upstream = mock.requests.at(-1)!;
    expect(upstream.path).toBe("/v1/projects/test-project/locations/europe-west1/publishers/anthropic/models/claude-opus-4-6:rawPredict");
    expect(upstream.headers.get("authorization")).toBe("Bearer ya29.test-token");
    // No model in the body (it is in the path); the API version travels in the body (this SDK copies its anthropic-version there).
    expect(upstream.json).toEqual({ ...hello, anthropic_version: expect.any(String) });
    const direct = await claude(`${mock.url}/v1`).messages.create({ ...hello, model: "claude-opus-4-6" }, { headers: fixture("rawPredict-claude-opus-4-6.quoted-log.json") });
    expect(data).toEqual(direct);
    // claude-opus-4-6 under genai-prices `google`: 9 × $5 + 24 × $25 per million
    expect(await record(response.headers.get("x-loupe-request-id"))).toMatchObject({
      provider: "vertex", operation: "chat", status: 200, model: "claude-opus-4-6", response_model: "claude-opus-4-6", streamed: false,
      input_tokens: "9", cache_read_tokens: "0", cache_write_tokens: "0", output_tokens: "24", cost_usd: "0.000645000", cost_source: "genai-prices", finish_reason: "end_turn", upstream_request_id: "req_mock_1",
    });
  });

  test("streamRawPredict: events as Vertex sent them, cache writes from message_start, output from message_delta", async () => {
    const headers = fixture("streamRawPredict-claude-sonnet-5-cache-write.go-steer-capture.sse");
    const response = await claude(`${gw.url}/vertex/v1`).messages.create({ ...hello, model: "claude-sonnet-5", stream: true }, { headers }).asResponse();
    const id = response.headers.get("x-loupe-request-id");
    const viaBytes = await response.text();
    expect(mock.requests.at(-1)!.path).toEndWith("/models/claude-sonnet-5:streamRawPredict");
    expect(viaBytes).toBe(await (await claude(`${mock.url}/v1`).messages.create({ ...hello, model: "claude-sonnet-5", stream: true }, { headers }).asResponse()).text());
    const message = await claude(`${gw.url}/vertex/v1`).messages.stream({ ...hello, model: "claude-sonnet-5" }, { headers }).finalMessage();
    expect(message.usage).toMatchObject({ input_tokens: 10, cache_creation_input_tokens: 28804, output_tokens: 4 });
    expect(await record(id)).toMatchObject({ provider: "vertex", streamed: true, model: "claude-sonnet-5", input_tokens: "28814", cache_write_tokens: "28804", output_tokens: "4", cost_usd: "0.072070000" });
  });

  test("streams without delay: each event reaches the SDK as Vertex sends it", async () => {
    const headers = { ...fixture("streamRawPredict-claude-sonnet-5-cache-hit.go-steer-capture.sse"), "x-mock-event-delay-ms": "150" };
    const t0 = performance.now();
    const arrivals: number[] = [];
    for await (const _ of await claude(`${gw.url}/vertex/v1`).messages.create({ ...hello, model: "claude-sonnet-5", stream: true }, { headers })) arrivals.push(performance.now() - t0);
    // Six events, 150 ms apart upstream: they arrive spread out, not all at the end.
    expect(arrivals.length).toBe(6);
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(5 * 150 * 0.8);
  });

  test("count_tokens goes to count-tokens:rawPredict, free; the @date model is recorded as sent", async () => {
    await claude(`${gw.url}/vertex/v1`).messages.countTokens({ model: "claude-sonnet-4-5@20250929", messages: hello.messages }, { headers: fixture("count-tokens.CONSTRUCTED.json") });
    expect(mock.requests.at(-1)!.path).toBe("/v1/projects/test-project/locations/europe-west1/publishers/anthropic/models/count-tokens:rawPredict");
    expect(await lastRecord()).toMatchObject({ operation: "count_tokens", model: "claude-sonnet-4-5@20250929", cost_usd: "0.000000000", cost_source: "free" });
  });

  test("Vertex's Google-shaped refusal reaches the SDK as its error and is recorded with its status", async () => {
    const error = await claude(`${gw.url}/vertex/v1`)
      .messages.create({ ...hello, model: "claude-3-haiku@20240307" }, { headers: { ...fixture("error-400-failed-precondition.quoted.json"), "x-mock-status": "400" } })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400 });
    expect(String(error)).toContain("is not allowed to use Publisher Model");
    expect(await lastRecord()).toMatchObject({ status: 400, error_type: "FAILED_PRECONDITION", model: "claude-3-haiku@20240307", cost_usd: "0.000000000" });
  });
});

describe("Gemini on Vertex with @google/genai (vertexai: true)", () => {
  const gemini = (baseUrl: string, location = "global") =>
    new GoogleGenAI({ vertexai: true, project: "test-project", location, googleAuthOptions: { authClient: googleAuth }, httpOptions: { baseUrl } });

  test("generateContent: the v1beta1 publisher path, the bearer token, Gemini's usage", async () => {
    const config = { httpOptions: { headers: fixture("generateContent-2.5-flash-function-call.js-genai-recording.json") } };
    const via = await gemini(`${gw.url}/vertex`).models.generateContent({ model: "gemini-2.5-flash", contents: "control the light to warm, 50", config });
    const upstream = mock.requests.at(-1)!;
    expect(upstream.path).toBe("/v1beta1/projects/test-project/locations/global/publishers/google/models/gemini-2.5-flash:generateContent");
    expect(upstream.headers.get("authorization")).toBe("Bearer ya29.test-token");
    const direct = await gemini(mock.url).models.generateContent({ model: "gemini-2.5-flash", contents: "control the light to warm, 50", config });
    expect(via.functionCalls).toEqual(direct.functionCalls!);
    // prompt 73; candidates 7 + thoughts 124 = 131. 73 × $0.30 + 131 × $2.50 per million
    expect(await lastRecord()).toMatchObject({ provider: "vertex", operation: "generate_content", model: "gemini-2.5-flash", input_tokens: "73", output_tokens: "131", reasoning_tokens: "124", cost_usd: "0.000349400", finish_reason: "STOP" });
  });

  test("streamGenerateContent: the same chunks; counts only on the last chunk, which wins", async () => {
    const config = { httpOptions: { headers: fixture("streamGenerateContent-3-pro-partial-args.js-genai-recording.sse") } };
    const chunks: unknown[] = [];
    for await (const chunk of await gemini(`${gw.url}/vertex`).models.generateContentStream({ model: "gemini-3-pro-preview", contents: "weather?", config })) chunks.push(chunk.candidates);
    expect(mock.requests.at(-1)!.url).toEndWith("/publishers/google/models/gemini-3-pro-preview:streamGenerateContent?alt=sse");
    const directChunks: unknown[] = [];
    for await (const chunk of await gemini(mock.url).models.generateContentStream({ model: "gemini-3-pro-preview", contents: "weather?", config })) directChunks.push(chunk.candidates);
    expect(chunks).toEqual(directChunks);
    expect(chunks.length).toBe(10);
    const rows = await gw.sql(`select * from requests where model = 'gemini-3-pro-preview'`);
    expect(rows[0]).toMatchObject({ streamed: true, input_tokens: "36", output_tokens: "173", reasoning_tokens: "140", cost_usd: "0.002148000" });
  });

  test("countTokens is free", async () => {
    const result = await gemini(`${gw.url}/vertex`, "us-central1").models.countTokens({ model: "gemini-2.5-flash", contents: "hi", config: { httpOptions: { headers: fixture("countTokens.js-genai-recording.json") } } });
    expect(result.totalTokens).toBe(10);
    expect(mock.requests.at(-1)!.path).toBe("/v1beta1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:countTokens");
    expect(await lastRecord()).toMatchObject({ operation: "count_tokens", cost_usd: "0.000000000", cost_source: "free" });
  });
});

describe("without LOUPE_VERTEX_BASE_URL the location picks the host", () => {
  test("a location that names no host: a 400 in Google's dialect, recorded; the gateway serves on", async () => {
    const bare = await startGateway();
    try {
      const ai = new GoogleGenAI({ vertexai: true, project: "test-project", location: "Mars Base", googleAuthOptions: { authClient: googleAuth }, httpOptions: { baseUrl: `${bare.url}/vertex` } });
      const error = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" }).catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 400 });
      expect(String(error)).toContain('Vertex AI location \\"Mars Base\\" in the path names no regional host');
      const raw = await fetch(`${bare.url}/vertex/v1/projects/p/locations/under_score/publishers/anthropic/models/claude-opus-4-6:rawPredict`, { method: "POST", body: "{}" });
      expect(raw.status).toBe(400);
      expect(await raw.json()).toEqual({ error: { code: 400, message: expect.stringContaining('"under_score"'), status: "INVALID_ARGUMENT" } });
      const rows = await bare.sql(`select provider, status, model, error_type from requests order by started_at`);
      expect(rows).toEqual([
        { provider: "vertex", status: 400, model: "gemini-2.5-flash", error_type: "invalid_request" },
        { provider: "vertex", status: 400, model: "claude-opus-4-6", error_type: "invalid_request" },
      ]);
      expect((await fetch(`${bare.url}/`, { headers: { accept: "application/json" } })).status).toBe(200);
    } finally {
      expect(await bare.stop()).toBe(0);
    }
  });
});
