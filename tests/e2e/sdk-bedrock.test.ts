import AnthropicBedrock from "@anthropic-ai/bedrock-sdk";
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from "@aws-sdk/client-bedrock-runtime";
import type { HttpRequest, HttpResponse } from "@smithy/protocol-http";
// The Bedrock client speaks HTTP/2 by default, which a plain-http gateway does not: users pass this handler too (README).
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MOCK_AWS_CREDENTIALS, MOCK_AWS_ENV } from "../support/aws-sigv4.ts";
import { FIXTURES } from "../support/fixtures.ts";
import { startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * Bedrock through Loupe with the official SDKs: the AWS SDK (SigV4 or a
 * Bedrock API key) and Anthropic's Bedrock SDK (SigV4, API key, skipAuth).
 * The mock upstream checks every SigV4 signature as AWS would, with the
 * credentials the gateway holds: a request Loupe signed wrongly, or still
 * carrying the client's signature, is refused with AWS's 403.
 */
let mock: MockUpstream;
let gw: Gateway;
let bare: Gateway;

/** Credentials only the client knows: signed with these, a request is refused upstream. */
const CLIENT_CREDENTIALS = { accessKeyId: "AKIDCLIENTONLY000001", secretAccessKey: "client/only/secret/000000000000000000000" };

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_BEDROCK_BASE_URL: mock.url, LOUPE_BEDROCK_REGION: "eu-west-1", ...MOCK_AWS_ENV } });
  // A gateway that holds no AWS credentials at all (no variables, no ~/.aws, no instance role).
  const home = tempDir("loupe-no-aws-");
  bare = await startGateway({ env: { LOUPE_BEDROCK_BASE_URL: mock.url, HOME: home, AWS_EC2_METADATA_DISABLED: "true" } });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  expect(await bare.stop()).toBe(0);
  await mock.stop();
});

/** The last `x-loupe-request-id` a client saw (AWS SDK responses do not show headers otherwise). */
let lastId: string | undefined;

function awsClient(gateway: Gateway, auth: { credentials: typeof CLIENT_CREDENTIALS } | { token: string }, region = "us-west-2"): BedrockRuntimeClient {
  const client = new BedrockRuntimeClient({
    endpoint: `${gateway.url}/bedrock`,
    region,
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
    ...("token" in auth ? { token: { token: auth.token }, authSchemePreference: ["httpBearerAuth"] } : { credentials: auth.credentials }),
  });
  client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      lastId = (out.response as HttpResponse).headers["x-loupe-request-id"];
      return out;
    },
    { step: "deserialize", name: "loupeRequestId" },
  );
  return client;
}

/** Steers the mock (which fixture answers) from inside an SDK call; added before the client signs. */
function withMock<T extends { middlewareStack: { add: Function } }>(command: T, headers: Record<string, string>): T {
  command.middlewareStack.add(
    (next: (args: { request: unknown }) => Promise<unknown>) => (args: { request: unknown }) => {
      Object.assign((args.request as HttpRequest).headers, headers);
      return next(args);
    },
    { step: "build" },
  );
  return command;
}

async function recordOf(gateway: Gateway, id: string | null | undefined): Promise<Record<string, any>> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const [row] = await gateway.sql(`select * from requests where id = '${id}'`);
    if (row) return row;
    await Bun.sleep(100);
  }
  throw new Error(`no record ${id}`);
}

const SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const messages = [{ role: "user" as const, content: [{ text: "Hello" }] }];
const fixtureBytes = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, name)));

describe("AWS SDK (SigV4): Loupe signs again for the real host with the credentials it holds", () => {
  test("the mock refuses a signature made with the client's own credentials (the check is real)", async () => {
    const direct = new BedrockRuntimeClient({ endpoint: mock.url, region: "us-west-2", credentials: CLIENT_CREDENTIALS, requestHandler: new NodeHttpHandler(), maxAttempts: 1 });
    const error = await direct.send(new ConverseCommand({ modelId: SONNET, messages })).catch((e: Error) => e);
    expect(error).toMatchObject({ name: "UnrecognizedClientException", $metadata: { httpStatusCode: 403 } });
  });

  test("Converse: the client's signature is replaced, the region is the one it signed for, usage and price recorded", async () => {
    const client = awsClient(gw, { credentials: CLIENT_CREDENTIALS });
    const out = await client.send(new ConverseCommand({ modelId: SONNET, messages, inferenceConfig: { maxTokens: 512 } }));
    expect(out.usage).toEqual({ inputTokens: 12, outputTokens: 10, totalTokens: 2070, cacheReadInputTokens: 2000, cacheWriteInputTokens: 48 });
    const upstream = mock.requests.at(-1)!;
    expect(upstream.path).toBe("/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse");
    expect(upstream.json).toEqual({ messages, inferenceConfig: { maxTokens: 512 } });
    expect(upstream.sigv4).toEqual({ valid: true, accessKeyId: MOCK_AWS_CREDENTIALS.accessKeyId, region: "us-west-2", service: "bedrock" });
    expect(upstream.headers.get("authorization")).not.toContain(CLIENT_CREDENTIALS.accessKeyId);
    const row = await recordOf(gw, lastId);
    expect(row).toMatchObject({
      provider: "bedrock",
      operation: "chat",
      path: "/bedrock/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse",
      status: 200,
      model: SONNET,
      response_model: null,
      streamed: false,
      input_tokens: "2060",
      cache_read_tokens: "2000",
      cache_write_tokens: "48",
      output_tokens: "10",
      // genai-prices aws, regional Sonnet 4.5: 12×3.3 + 2000×0.33 + 48×4.125 + 10×16.5 per million
      cost_usd: "0.001062600",
      finish_reason: "end_turn",
    });
  });

  test("ConverseStream: the SDK reads the event stream through Loupe as sent; usage from the metadata event", async () => {
    const client = awsClient(gw, { credentials: CLIENT_CREDENTIALS }, "ap-northeast-1");
    const out = await client.send(new ConverseStreamCommand({ modelId: "apac.amazon.nova-lite-v1:0", messages }));
    const events = [];
    for await (const event of out.stream!) events.push(event);
    expect(events.map((e) => Object.keys(e)[0])).toEqual(["messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"]);
    expect(events.at(-1)).toMatchObject({ metadata: { usage: { inputTokens: 12, outputTokens: 3, totalTokens: 15 } } });
    expect(mock.requests.at(-1)!.sigv4).toMatchObject({ valid: true, region: "ap-northeast-1" });
    expect(mock.sent.at(-1)).toEqual(fixtureBytes("bedrock/converse-stream.CONSTRUCTED.eventstream.bin"));
    const row = await recordOf(gw, lastId);
    // amazon.nova-lite: 12×0.06 + 3×0.24 per million
    expect(row).toMatchObject({ model: "apac.amazon.nova-lite-v1:0", streamed: true, input_tokens: "12", output_tokens: "3", cost_usd: "0.000001440", finish_reason: "end_turn", upstream_request_id: "mock-bedrock-request-1" });
  });

  test("InvokeModel with an Anthropic body: the body reaches Bedrock byte for byte, usage read as Anthropic's", async () => {
    const client = awsClient(gw, { credentials: CLIENT_CREDENTIALS });
    const body = JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 256, messages: [{ role: "user", content: "Hello" }] });
    const out = await client.send(new InvokeModelCommand({ modelId: "anthropic.claude-haiku-4-5-20251001-v1:0", body, contentType: "application/json" }));
    expect(new TextDecoder().decode(out.body)).toBe(new TextDecoder().decode(fixtureBytes("bedrock/invoke.anthropic.CONSTRUCTED.json")));
    const upstream = mock.requests.at(-1)!;
    expect(new TextDecoder().decode(upstream.body)).toBe(body);
    expect(upstream.sigv4?.valid).toBe(true);
    const row = await recordOf(gw, lastId);
    // The path names the body's model: priced as the path's id (regional Haiku 4.5: 12×1.1 + 12×5.5 per million).
    expect(row).toMatchObject({ model: "anthropic.claude-haiku-4-5-20251001-v1:0", response_model: "anthropic.claude-haiku-4-5-20251001-v1:0", input_tokens: "12", output_tokens: "12", cost_usd: "0.000079200", finish_reason: "end_turn" });
  });

  test("InvokeModelWithResponseStream: chunks decoded by the SDK; cumulative Anthropic usage; a global profile priced as global", async () => {
    const client = awsClient(gw, { credentials: CLIENT_CREDENTIALS });
    const body = JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 256, messages: [{ role: "user", content: "Hello" }] });
    const out = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: "global.anthropic.claude-sonnet-4-5-20250929-v1:0", body, contentType: "application/json" }));
    const types = [];
    for await (const event of out.body!) types.push(JSON.parse(new TextDecoder().decode(event.chunk!.bytes)).type);
    expect(types).toEqual(["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
    const row = await recordOf(gw, lastId);
    // 7 + 2238 written + 14486 read; global Sonnet 4.5: 7×3 + 2238×3.75 + 14486×0.3 + 126×15 per million
    expect(row).toMatchObject({ streamed: true, input_tokens: "16731", cache_read_tokens: "14486", cache_write_tokens: "2238", output_tokens: "126", cost_usd: "0.014649300", finish_reason: "end_turn" });
  });

  test("an exception inside the 200 stream reaches the SDK as that exception and is recorded", async () => {
    const client = awsClient(gw, { credentials: CLIENT_CREDENTIALS });
    const command = withMock(new ConverseStreamCommand({ modelId: "us.amazon.nova-lite-v1:0", messages }), { "x-mock-fixture": "bedrock/converse-stream-exception.CONSTRUCTED.eventstream.bin" });
    const out = await client.send(command);
    const error = await (async () => {
      for await (const _ of out.stream!) void _;
    })().catch((e: Error) => e);
    expect(error).toMatchObject({ name: "ModelStreamErrorException", originalStatusCode: 424 });
    expect(await recordOf(gw, lastId)).toMatchObject({ status: 200, error_type: "modelStreamErrorException", error_message: "Model stream error: the model stopped generating output.", input_tokens: null, cost_usd: null });
  });
});

describe("Bedrock API keys (Bearer) pass through untouched", () => {
  test("AWS SDK with a token: no signature is added, the region is LOUPE_BEDROCK_REGION's", async () => {
    const client = awsClient(gw, { token: "bedrock-api-key-test" });
    const out = await client.send(new ConverseCommand({ modelId: SONNET, messages }));
    expect(out.stopReason).toBe("end_turn");
    const upstream = mock.requests.at(-1)!;
    expect(upstream.headers.get("authorization")).toBe("Bearer bedrock-api-key-test");
    expect(upstream.headers.has("x-amz-date")).toBe(false);
    expect(upstream.sigv4).toBeUndefined();
    expect(await recordOf(gw, lastId)).toMatchObject({ provider: "bedrock", status: 200, input_tokens: "2060" });
  });

  test("AnthropicBedrock with an apiKey", async () => {
    const client = new AnthropicBedrock({ baseURL: `${gw.url}/bedrock`, apiKey: "bedrock-api-key-anthropic", awsRegion: "us-east-2", maxRetries: 0 });
    const { data, response } = await client.messages.create({ model: "us.anthropic.claude-haiku-4-5-20251001-v1:0", max_tokens: 256, messages: [{ role: "user", content: "Hello" }] }).withResponse();
    expect(data.usage).toMatchObject({ input_tokens: 12, output_tokens: 12 });
    expect(mock.requests.at(-1)!.headers.get("authorization")).toBe("Bearer bedrock-api-key-anthropic");
    expect(await recordOf(gw, response.headers.get("x-loupe-request-id"))).toMatchObject({ model: "us.anthropic.claude-haiku-4-5-20251001-v1:0", output_tokens: "12", cost_usd: "0.000079200" });
  });
});

describe("AnthropicBedrock (Claude's own SDK on Bedrock)", () => {
  const params = { model: "global.anthropic.claude-sonnet-4-5-20250929-v1:0", max_tokens: 256, messages: [{ role: "user" as const, content: "Hello" }] };

  test("skipAuth (a gateway signs): Loupe signs with its credentials for LOUPE_BEDROCK_REGION", async () => {
    const client = new AnthropicBedrock({ baseURL: `${gw.url}/bedrock`, skipAuth: true, maxRetries: 0 });
    const { data, response } = await client.messages.create(params).withResponse();
    expect(data.content).toMatchObject([{ type: "text", text: "Hello! How can I help you today?" }]);
    const upstream = mock.requests.at(-1)!;
    expect(upstream.path).toBe("/model/global.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke");
    expect(upstream.sigv4).toEqual({ valid: true, accessKeyId: MOCK_AWS_CREDENTIALS.accessKeyId, region: "eu-west-1", service: "bedrock" });
    expect(await recordOf(gw, response.headers.get("x-loupe-request-id"))).toMatchObject({ model: params.model, response_model: "claude-haiku-4-5-20251001", status: 200 });
  });

  test("signed with the client's keys, streamed: re-signed, and the SDK gets its events", async () => {
    const client = new AnthropicBedrock({ baseURL: `${gw.url}/bedrock`, awsAccessKey: CLIENT_CREDENTIALS.accessKeyId, awsSecretKey: CLIENT_CREDENTIALS.secretAccessKey, awsRegion: "eu-central-1", maxRetries: 0 });
    const stream = client.messages.stream(params);
    const final = await stream.finalMessage();
    expect(final.usage).toMatchObject({ input_tokens: 7, cache_read_input_tokens: 14486, output_tokens: 126 });
    expect(mock.requests.at(-1)!.sigv4).toMatchObject({ valid: true, region: "eu-central-1" });
    const id = (await stream.withResponse()).response.headers.get("x-loupe-request-id");
    expect(await recordOf(gw, id)).toMatchObject({ streamed: true, input_tokens: "16731", output_tokens: "126", cost_usd: "0.014649300" });
  });
});

describe("bad input: a clear error in Bedrock's dialect, recorded, the gateway unharmed", () => {
  test("a SigV4 client and a gateway without AWS credentials: 401 UnrecognizedClientException, nothing sent upstream", async () => {
    const sent = mock.requests.length;
    const client = awsClient(bare, { credentials: CLIENT_CREDENTIALS });
    const error = await client.send(new ConverseCommand({ modelId: SONNET, messages })).catch((e: Error) => e);
    expect(error).toMatchObject({ name: "UnrecognizedClientException", $metadata: { httpStatusCode: 401 } });
    expect((error as Error).message).toContain("Loupe holds no AWS credentials");
    expect(mock.requests.length).toBe(sent);
    expect(await recordOf(bare, lastId)).toMatchObject({ provider: "bedrock", status: 401, error_type: "unauthorized", model: SONNET });
    // Still serving: an API key needs no credentials of Loupe's, and an unsigned call goes as sent.
    const keyed = await awsClient(bare, { token: "bedrock-api-key-test" }).send(new ConverseCommand({ modelId: SONNET, messages }));
    expect(keyed.stopReason).toBe("end_turn");
    const unsigned = await new AnthropicBedrock({ baseURL: `${bare.url}/bedrock`, skipAuth: true, maxRetries: 0 }).messages.create({ model: SONNET, max_tokens: 10, messages: [{ role: "user", content: "Hi" }] });
    expect(unsigned.stop_reason).toBe("end_turn");
    expect(mock.requests.at(-1)!.headers.has("authorization")).toBe(false);
  });

  test("a signature scoped to something that is not an AWS region: 400 ValidationException", async () => {
    const response = await fetch(`${gw.url}/bedrock/model/${encodeURIComponent(SONNET)}/converse`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `AWS4-HMAC-SHA256 Credential=${CLIENT_CREDENTIALS.accessKeyId}/20260101/Mars_1/bedrock/aws4_request, SignedHeaders=host, Signature=${"0".repeat(64)}` },
      body: JSON.stringify({ messages }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("x-amzn-errortype")).toBe("ValidationException");
    expect(await response.json()).toEqual({ message: 'the request is signed for region "Mars_1", which is not an AWS region name' });
    expect(await recordOf(gw, response.headers.get("x-loupe-request-id"))).toMatchObject({ status: 400, error_type: "invalid_request" });
  });

  test("a path Bedrock does not serve is forwarded as it is, and its answer recorded", async () => {
    const response = await fetch(`${gw.url}/bedrock/models/nothing-here`, { method: "POST", headers: { authorization: "Bearer bedrock-api-key-test" }, body: "{}" });
    expect(response.status).toBe(404);
    expect(mock.requests.at(-1)!.path).toBe("/models/nothing-here");
    expect(await recordOf(gw, response.headers.get("x-loupe-request-id"))).toMatchObject({ provider: "bedrock", status: 404, operation: null });
  });

  test("a malformed event stream passes as sent: the SDK finds the bad CRC itself, the record says malformed", async () => {
    const client = awsClient(gw, { credentials: CLIENT_CREDENTIALS });
    const command = withMock(new ConverseStreamCommand({ modelId: "us.amazon.nova-lite-v1:0", messages }), { "x-mock-fixture": "bedrock/converse-stream-bad-crc.CONSTRUCTED.eventstream.bin" });
    const out = await client.send(command);
    const error = await (async () => {
      for await (const _ of out.stream!) void _;
    })().catch((e: Error) => e);
    expect(String(error)).toContain("checksum");
    expect(await recordOf(gw, lastId)).toMatchObject({ status: 200, streamed: true, error_type: "malformed_event_stream", input_tokens: null });
    const healthy = await client.send(new ConverseCommand({ modelId: SONNET, messages }));
    expect(healthy.stopReason).toBe("end_turn");
  });
});

describe("streaming without delay", () => {
  /** Time from request start to the first body byte, through `base` (Loupe or the mock itself). */
  async function firstByteMs(base: string, headers: Record<string, string>): Promise<{ first: number; total: number; bytes: Uint8Array }> {
    const t0 = performance.now();
    const response = await fetch(`${base}/model/${encodeURIComponent("us.amazon.nova-lite-v1:0")}/converse-stream`, { method: "POST", headers: { "content-type": "application/json", "x-mock-event-delay-ms": "150", ...headers }, body: JSON.stringify({ messages }) });
    const reader = response.body!.getReader();
    const parts: Uint8Array[] = [];
    let first = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!first) first = performance.now() - t0;
      parts.push(value);
    }
    return { first, total: performance.now() - t0, bytes: new Uint8Array(Buffer.concat(parts)) };
  }

  test("each event-stream message is handed on as it arrives (signed or not), not when the stream ends", async () => {
    const signed = { authorization: `AWS4-HMAC-SHA256 Credential=${CLIENT_CREDENTIALS.accessKeyId}/20260101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=${"0".repeat(64)}` };
    const direct = await firstByteMs(mock.url, {});
    const viaKey = await firstByteMs(`${gw.url}/bedrock`, { authorization: "Bearer k" });
    const viaSigned = await firstByteMs(`${gw.url}/bedrock`, signed);
    expect(mock.requests.at(-1)!.sigv4?.valid).toBe(true);
    for (const via of [viaKey, viaSigned]) {
      expect(via.bytes).toEqual(direct.bytes);
      // Six messages 150 ms apart: a buffered stream would show its first byte after ~750 ms.
      expect(via.first).toBeLessThan(direct.first + 100);
      expect(via.total - via.first).toBeGreaterThan(600);
    }
  });
});
