import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI, { APIError, AzureOpenAI, NotFoundError } from "openai";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * Azure OpenAI through Loupe with the official SDK: `AzureOpenAI` on
 * deployment paths (`/openai/deployments/{d}/…?api-version=…`, `api-key`
 * header) and the plain `OpenAI` client on the v1 API. The mock answers with
 * recorded Azure traffic (tests/fixtures/azure).
 */
let mock: MockUpstream;
let gw: Gateway;

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_AZURE_BASE_URL: mock.url } });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

const KEY = "azure-key-123";
const deployment = (endpoint: string, apiVersion: string, name = "prod-mini") => new AzureOpenAI({ endpoint, apiKey: KEY, apiVersion, deployment: name, maxRetries: 0 });
const fixture = (name: string, more: Record<string, string> = {}) => ({ headers: { "x-mock-fixture": `azure/${name}`, ...more } });
const record = async (id: string | null) => (await gw.sql(`select * from requests where id = '${id}'`))[0]!;
const ask = { messages: [{ role: "user" as const, content: "What is 4200 + 42?" }], model: "gpt-4o-mini" };

describe("AzureOpenAI on deployment paths", () => {
  test("chat: the upstream gets the SDK's request and api-key unchanged; the record holds the deployment as model, the reported model, usage and Azure's price", async () => {
    const via = deployment(`${gw.url}/azure`, "2024-10-21");
    const { data, response } = await via.chat.completions.create(ask, fixture("chat-nonstream-deployment.mirascope-recording.json")).withResponse();
    const upstream = mock.requests.at(-1)!;
    expect(new URL(upstream.url).pathname + new URL(upstream.url).search).toBe("/openai/deployments/prod-mini/chat/completions?api-version=2024-10-21");
    expect(upstream.headers.get("api-key")).toBe(KEY);
    expect(upstream.headers.get("authorization")).toBeNull();
    expect(upstream.json).toEqual(ask);
    expect(data).toEqual(await deployment(mock.url, "2024-10-21").chat.completions.create(ask, fixture("chat-nonstream-deployment.mirascope-recording.json")));
    const row = await record(response.headers.get("x-loupe-request-id"));
    // genai-prices azure → gpt-4o-mini: 16 × $0.15 + 11 × $0.60 per million
    expect(row).toMatchObject({
      provider: "azure",
      path: "/azure/openai/deployments/prod-mini/chat/completions?api-version=2024-10-21",
      status: 200,
      model: "prod-mini",
      response_model: "gpt-4o-mini-2024-07-18",
      input_tokens: "16",
      output_tokens: "11",
      cost_usd: "0.000009000",
      cost_source: "genai-prices",
      upstream_request_id: "req_mock_1",
    });
  });

  test("stream on api-version 2024-10-21 (no stream_options there): forwarded as sent, the SDK reads Azure's prompt-filter chunk, no usage so no cost", async () => {
    const via = deployment(`${gw.url}/azure`, "2024-10-21");
    const options = fixture("chat-stream-deployment-2024-10-21.mirascope-recording.sse");
    const response = await via.chat.completions.create({ ...ask, stream: true }, options).asResponse();
    const viaBytes = await response.text();
    expect(mock.requests.at(-1)!.json).toEqual({ ...ask, stream: true });
    const directBytes = await (await deployment(mock.url, "2024-10-21").chat.completions.create({ ...ask, stream: true }, options).asResponse()).text();
    expect(viaBytes).toBe(directBytes);
    const text: string[] = [];
    for await (const chunk of await via.chat.completions.create({ ...ask, stream: true }, options)) text.push(chunk.choices[0]?.delta.content ?? "");
    expect(text.join("")).toBe("4200 + 42 equals 4242.");
    const row = await record(response.headers.get("x-loupe-request-id"));
    expect(row).toMatchObject({ streamed: true, model: "prod-mini", response_model: "gpt-4o-mini-2024-07-18", finish_reason: "stop", input_tokens: null, cost_usd: null });
  });

  test("stream on a preview api-version without include_usage: Loupe asks Azure for usage, the client gets exactly the stream it asked for", async () => {
    const via = deployment(`${gw.url}/azure`, "2025-04-01-preview");
    const options = fixture("chat-stream-v1-include-usage.mirascope-recording.sse", { "x-mock-stream-usage": "when-asked" });
    const response = await via.chat.completions.create({ ...ask, stream: true }, options).asResponse();
    const viaBytes = await response.text();
    expect(mock.requests.at(-1)!.json).toEqual({ ...ask, stream: true, stream_options: { include_usage: true } });
    const directBytes = await (await deployment(mock.url, "2025-04-01-preview").chat.completions.create({ ...ask, stream: true }, options).asResponse()).text();
    expect(mock.requests.at(-1)!.json.stream_options).toBeUndefined();
    expect(viaBytes).toBe(directBytes);
    expect(viaBytes).not.toContain('"usage"');
    expect(viaBytes.startsWith('data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results"')).toBe(true);
    const row = await record(response.headers.get("x-loupe-request-id"));
    // genai-prices azure → gpt-5-mini: 15 × $0.25 + 12 × $2 per million
    expect(row).toMatchObject({ streamed: true, model: "prod-mini", response_model: "gpt-5-mini-2025-08-07", input_tokens: "15", output_tokens: "12", cost_usd: "0.000027750", finish_reason: "stop" });
  });

  test("stream with include_usage asked by the client: untouched, the usage chunk reaches it", async () => {
    const via = deployment(`${gw.url}/azure`, "2025-04-01-preview");
    const options = fixture("chat-stream-v1-include-usage.mirascope-recording.sse", { "x-mock-stream-usage": "when-asked" });
    const request = { ...ask, stream: true as const, stream_options: { include_usage: true } };
    const chunks = [];
    for await (const chunk of await via.chat.completions.create(request, options)) chunks.push(chunk);
    expect(mock.requests.at(-1)!.json).toEqual(request);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 15, completion_tokens: 12 });
  });

  test("Entra ID: the bearer token is forwarded as sent, no api-key invented", async () => {
    const via = new AzureOpenAI({ endpoint: `${gw.url}/azure`, apiVersion: "2024-10-21", deployment: "prod-mini", azureADTokenProvider: async () => "entra-token", maxRetries: 0 });
    await via.chat.completions.create(ask, fixture("chat-nonstream-deployment.mirascope-recording.json"));
    expect(mock.requests.at(-1)!.headers.get("authorization")).toBe("Bearer entra-token");
    expect(mock.requests.at(-1)!.headers.get("api-key")).toBeNull();
  });

  test("an unknown deployment: Azure's 404 reaches the SDK untouched and is recorded", async () => {
    const via = deployment(`${gw.url}/azure`, "2024-10-21", "no-such-deployment");
    const options = fixture("error-deployment-not-found.chatbox-issue-861.json", { "x-mock-status": "404" });
    const error = await via.chat.completions.create(ask, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).code).toBe("DeploymentNotFound");
    const raw = await fetch(`${gw.url}/azure/openai/deployments/no-such-deployment/chat/completions?api-version=2024-10-21`, {
      method: "POST",
      headers: { "content-type": "application/json", "api-key": KEY, ...options.headers },
      body: JSON.stringify(ask),
    });
    expect(raw.status).toBe(404);
    expect(await raw.text()).toBe(await Bun.file(`${import.meta.dir}/../fixtures/azure/error-deployment-not-found.chatbox-issue-861.json`).text());
    const row = await record(raw.headers.get("x-loupe-request-id"));
    expect(row).toMatchObject({ provider: "azure", status: 404, model: "no-such-deployment", error_type: "DeploymentNotFound", response_model: null });
  });
});

describe("OpenAI client on the v1 API", () => {
  const v1 = (base: string) => new OpenAI({ apiKey: KEY, baseURL: `${base}/openai/v1`, defaultHeaders: { "api-key": KEY }, maxRetries: 0 });
  const request = { messages: [{ role: "user" as const, content: "Hello there!" }], model: "gpt-5-mini" };

  test("chat: the body's model is the deployment; cached and reasoning tokens priced under azure", async () => {
    const options = fixture("chat-nonstream-v1-cache-reasoning.mirascope-recording.json");
    const { data, response } = await v1(`${gw.url}/azure`).chat.completions.create(request, options).withResponse();
    expect(new URL(mock.requests.at(-1)!.url).pathname).toBe("/openai/v1/chat/completions");
    expect(mock.requests.at(-1)!.json).toEqual(request);
    expect(data).toEqual(await v1(mock.url).chat.completions.create(request, options));
    const row = await record(response.headers.get("x-loupe-request-id"));
    // gpt-5-mini: (3662 − 2944) × $0.25 + 2944 × $0.025 + 863 × $2 per million
    expect(row).toMatchObject({ model: "gpt-5-mini", response_model: "gpt-5-mini-2025-08-07", input_tokens: "3662", cache_read_tokens: "2944", output_tokens: "863", reasoning_tokens: "512", cost_usd: "0.001979100" });
  });

  test("stream without include_usage: asked (v1 always takes it), the client's stream kept", async () => {
    const options = fixture("chat-stream-v1-include-usage.mirascope-recording.sse", { "x-mock-stream-usage": "when-asked" });
    const response = await v1(`${gw.url}/azure`).chat.completions.create({ ...request, stream: true }, options).asResponse();
    const viaBytes = await response.text();
    expect(mock.requests.at(-1)!.json.stream_options).toEqual({ include_usage: true });
    const directBytes = await (await v1(mock.url).chat.completions.create({ ...request, stream: true }, options).asResponse()).text();
    expect(viaBytes).toBe(directBytes);
    const row = await record(response.headers.get("x-loupe-request-id"));
    expect(row).toMatchObject({ streamed: true, model: "gpt-5-mini", input_tokens: "15", output_tokens: "12", cost_usd: "0.000027750" });
  });
});

describe("no Azure resource configured", () => {
  let bare: Gateway;
  beforeAll(async () => {
    bare = await startGateway();
  });
  afterAll(async () => {
    expect(await bare.stop()).toBe(0);
  });

  test("a clear 503 in OpenAI's dialect naming LOUPE_AZURE_BASE_URL, not retried by the SDK, recorded; the gateway carries on", async () => {
    const seen = mock.requests.length;
    // The SDK's default retries: x-should-retry: false must stop them.
    const via = new AzureOpenAI({ endpoint: `${bare.url}/azure`, apiKey: KEY, apiVersion: "2024-10-21", deployment: "prod-mini" });
    const error = await via.chat.completions.create(ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(503);
    expect((error as APIError).message).toContain("LOUPE_AZURE_BASE_URL");
    expect(mock.requests.length).toBe(seen);

    const raw = await fetch(`${bare.url}/azure/openai/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", "api-key": KEY }, body: JSON.stringify({ ...ask, stream: true }) });
    expect(raw.status).toBe(503);
    expect(raw.headers.get("x-should-retry")).toBe("false");
    const body = await raw.json();
    expect(body).toEqual({ error: { message: expect.stringContaining("LOUPE_AZURE_BASE_URL"), type: "server_error", param: null, code: "unavailable" } });

    expect((await fetch(`${bare.url}/health`)).status).toBe(200);
    const rows = await bare.sql("select model, status, error_type, streamed, path from requests where provider = 'azure' order by started_at");
    expect(rows).toEqual([
      { model: "prod-mini", status: 503, error_type: "unavailable", streamed: false, path: "/azure/openai/deployments/prod-mini/chat/completions?api-version=2024-10-21" },
      { model: "gpt-4o-mini", status: 503, error_type: "unavailable", streamed: true, path: "/azure/openai/v1/chat/completions" },
    ]);
  });
});
