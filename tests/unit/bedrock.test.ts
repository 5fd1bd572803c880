import { describe, expect, test } from "bun:test";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { loadConfig } from "../../src/config.ts";
import { LoupeError } from "../../src/errors.ts";
import { bedrock, convertBedrockUsage, pricedModel } from "../../src/providers/bedrock/bedrock.ts";
import { createEventStreamFrames } from "../../src/providers/bedrock/eventstream-frames.ts";
import { createSigV4Prepare, scopeRegion, signRequest, type AwsCredentials } from "../../src/providers/bedrock/sigv4.ts";
import type { PrepareContext, UpstreamRequest } from "../../src/providers/contract.ts";
import { MOCK_AWS_CREDENTIALS, verifySigV4 } from "../support/aws-sigv4.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES } from "../support/fixtures.ts";

/**
 * Bedrock's parts one at a time: the event-stream decoder (frames cut
 * anywhere, exceptions, corruption), the usage and model rules, and the
 * upstream request (region, re-signing, credentials).
 */

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const text = (value: string) => ({ type: "string" as const, value });
const eventMessage = (type: string, payload: unknown) =>
  codec.encode({ headers: { ":message-type": text("event"), ":event-type": text(type), ":content-type": text("application/json") }, body: fromUtf8(JSON.stringify(payload)) });

type Emitted = [data: string, event: string | undefined];
function decode(chunks: Uint8Array[]): Emitted[] {
  const out: Emitted[] = [];
  const frames = createEventStreamFrames();
  const emit = (data: string, event: string | undefined) => void out.push([data, event]);
  for (const chunk of chunks) frames.feed(chunk, emit);
  frames.end(emit);
  return out;
}
const fixture = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, name)));
const converseStream = fixture("bedrock/converse-stream.CONSTRUCTED.eventstream.bin");
const listed: Emitted[] = readFileSync(join(FIXTURES, "bedrock/converse-stream.decoded-events.CONSTRUCTED.jsonl"), "utf8")
  .trim()
  .split("\n")
  .map((line) => JSON.parse(line))
  .map((event) => [JSON.stringify(event.payload), event[":event-type"]]);

describe("the event-stream decoder", () => {
  test("emits each message's payload under its :event-type, as the decoded listing says", () => {
    expect(decode([converseStream])).toEqual(listed);
  });

  test("messages cut at every byte, or many to a chunk, decode the same", () => {
    const bytewise = Array.from(converseStream, (byte) => new Uint8Array([byte]));
    expect(decode(bytewise)).toEqual(listed);
    const uneven = [converseStream.subarray(0, 5), converseStream.subarray(5, 300), converseStream.subarray(300, 301), converseStream.subarray(301)];
    expect(decode(uneven)).toEqual(listed);
  });

  test("exceptions and errors inside the stream are named apart from events", () => {
    const exception = codec.encode({ headers: { ":message-type": text("exception"), ":exception-type": text("throttlingException") }, body: fromUtf8('{"message":"slow down"}') });
    const error = codec.encode({ headers: { ":message-type": text("error"), ":error-code": text("InternalFailure"), ":error-message": text("boom") }, body: new Uint8Array(0) });
    expect(decode([eventMessage("messageStart", { role: "assistant" }), exception, error])).toEqual([
      ['{"role":"assistant"}', "messageStart"],
      ['{"message":"slow down"}', "exception:throttlingException"],
      ['{"message":"boom"}', "error:InternalFailure"],
    ]);
  });

  test("a bad checksum: reported once, nothing after it read, nothing thrown", () => {
    const bad = fixture("bedrock/converse-stream-bad-crc.CONSTRUCTED.eventstream.bin");
    const out = decode([bad.subarray(0, 200), bad.subarray(200, 400), bad.subarray(400)]);
    expect(out.length).toBe(2);
    expect(out[0]).toEqual(listed[0]!);
    expect(out[1]![1]).toBe("malformed");
    expect(JSON.parse(out[1]![0]).message).toContain("checksum");
  });

  test("a stream that ends inside a message is malformed", () => {
    const cut = decode([converseStream.subarray(0, converseStream.length - 10)]);
    expect(cut.slice(0, 5)).toEqual(listed.slice(0, 5));
    expect(cut[5]![1]).toBe("malformed");
    expect(JSON.parse(cut[5]![0]).message).toMatch(/^malformed event stream: the stream ended inside a message \(\d+ bytes of it\)$/);
    expect(cut.length).toBe(6);
  });

  test("garbage (a JSON error body labelled as an event stream) is malformed, not a crash", () => {
    // `{"me` read as a big-endian length: 0x7b226d65.
    expect(decode([fromUtf8('{"message":"not an event stream at all"}')])).toEqual([[JSON.stringify({ message: `malformed event stream: a message claims ${0x7b226d65} bytes` }), "malformed"]]);
  });
});

describe("usage", () => {
  test("Converse: input excludes the cache, so it is the sum; cacheDetails gives the 1-hour writes", () => {
    expect(convertBedrockUsage({ inputTokens: 12, outputTokens: 10, totalTokens: 2070, cacheReadInputTokens: 2000, cacheWriteInputTokens: 48, cacheDetails: [{ ttl: "1h", inputTokens: 40 }, { ttl: "5m", inputTokens: 8 }] })).toEqual({
      inputTokens: 2060,
      cacheReadTokens: 2000,
      cacheWriteTokens: 48,
      cacheWrite1hTokens: 40,
      outputTokens: 10,
    });
  });

  test("fields not reported stay undefined (NULL), never 0; invocation metrics read the same", () => {
    expect(convertBedrockUsage({ inputTokens: 5, outputTokens: 2, totalTokens: 7 })).toEqual({ inputTokens: 5, cacheReadTokens: undefined, cacheWriteTokens: undefined, cacheWrite1hTokens: undefined, outputTokens: 2 });
    expect(convertBedrockUsage({ inputTokenCount: 7, outputTokenCount: 126, cacheReadInputTokenCount: 14486, cacheWriteInputTokenCount: 2238 })).toMatchObject({ inputTokens: 16731, cacheReadTokens: 14486, cacheWriteTokens: 2238, outputTokens: 126 });
    expect(convertBedrockUsage(undefined)).toBeUndefined();
  });
});

describe("the model a call is priced as", () => {
  test.each([
    ["a plain id is priced as the request's model", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", undefined, undefined],
    ["a foundation model's ARN: its id", "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0", undefined, "anthropic.claude-sonnet-4-5-20250929-v1:0"],
    ["a system profile's ARN: its id", "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-lite-v1:0", undefined, "eu.amazon.nova-lite-v1:0"],
    ["the body's model, named by the path's global profile: the profile", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"],
    ["an application profile hides the model: the body's", "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3", "claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001"],
  ])("%s", (_why, path, body, priced) => {
    expect(pricedModel(path, body)).toBe(priced);
  });
});

describe("endpoints", () => {
  test("the model id comes from the path, URL-decoded (a bad encoding is kept as sent)", () => {
    const arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3";
    expect(bedrock.endpoint("POST", `/model/${encodeURIComponent(arn)}/converse`)?.readRequest?.({})).toMatchObject({ model: arn, streamed: false });
    expect(bedrock.endpoint("POST", "/model/%E0%A4%A/invoke-with-response-stream")?.readRequest?.({})).toMatchObject({ model: "%E0%A4%A", streamed: true });
    expect(bedrock.endpoint("POST", "/model/amazon.titan-embed-text-v2%3A0/invoke")?.operation).toBe("embeddings");
    expect(bedrock.endpoint("POST", "/model/x/count-tokens")).toMatchObject({ operation: "count_tokens", billable: false });
    expect(bedrock.endpoint("GET", "/model/x/converse")).toBeUndefined();
    expect(bedrock.endpoint("POST", "/guardrail/g/version/1/apply")).toBeUndefined();
  });

  test("Converse parameters and Claude's session (metadata.user_id) are read from the request", () => {
    expect(bedrock.endpoint("POST", "/model/m/converse-stream")?.readRequest?.({ inferenceConfig: { maxTokens: 64, temperature: 0.2, stopSequences: ["x"] } })).toMatchObject({ params: { max_tokens: 64, temperature: 0.2, stop_sequences: ["x"] } });
    const invoke = bedrock.endpoint("POST", "/model/m/invoke")?.readRequest?.({ max_tokens: 10, metadata: { user_id: JSON.stringify({ session_id: "s-1" }) } });
    expect(invoke).toMatchObject({ sessionId: "s-1", params: { max_tokens: 10 } });
  });

  test("Claude Code's session and agent headers are read as on Anthropic's API", () => {
    expect(bedrock.readHeaders?.({ "x-claude-code-session-id": "cc-1", "x-claude-code-agent-id": "a-2" })).toMatchObject({ sessionId: "cc-1", client: { agentId: "a-2" } });
  });

  test("an AWS error body gives its message to the record", () => {
    const body = { message: "The provided model identifier is invalid." };
    expect(bedrock.endpoint("POST", "/model/m/converse")?.readResponse?.(body)).toEqual({ errorType: undefined, errorMessage: body.message });
    expect(bedrock.endpoint("POST", "/model/m/invoke")?.readResponse?.({ Message: "Too many tokens" })).toEqual({ errorType: undefined, errorMessage: "Too many tokens" });
  });

  test("Loupe's own errors: {message} with the AWS type in x-amzn-errortype", () => {
    const error = new LoupeError("upstream_unreachable", "cannot reach bedrock upstream");
    expect(bedrock.dialect.body(error)).toEqual({ message: "cannot reach bedrock upstream" });
    expect(bedrock.dialect.headers?.(error)).toEqual({ "x-amzn-errortype": "ServiceUnavailableException" });
  });
});

describe("the upstream request", () => {
  const held: AwsCredentials = { ...MOCK_AWS_CREDENTIALS };
  const context = (settings: Record<string, unknown> = {}): PrepareContext => ({ settings, path: "/model/m/converse", endpoint: undefined });
  const body = new TextEncoder().encode('{"messages":[]}');
  const request = (url: string, headers: Record<string, string>): UpstreamRequest => ({ url, method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const DEFAULT = "https://bedrock-runtime.us-east-1.amazonaws.com/model/m%3A0/converse";
  const clientSig = (region: string) => `AWS4-HMAC-SHA256 Credential=AKIDCLIENT/20260101/${region}/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=${"a".repeat(64)}`;

  test("LOUPE_BEDROCK_REGION is checked when the gateway starts", () => {
    expect(loadConfig({ env: { LOUPE_BEDROCK_REGION: "ap-south-2" } }).providerSettings).toEqual({ bedrock: { region: "ap-south-2" } });
    expect(() => loadConfig({ env: { LOUPE_BEDROCK_REGION: "mars" } })).toThrow(/--bedrock-region \/ LOUPE_BEDROCK_REGION: an AWS region name/);
  });

  test("the region a client signed for is read from its credential scope", () => {
    expect(scopeRegion(clientSig("ap-southeast-2"))).toBe("ap-southeast-2");
    expect(scopeRegion("AWS4-HMAC-SHA256 garbage")).toBeUndefined();
  });

  test("region: the client's signed one, else the setting, else us-east-1; a pinned base URL is kept", async () => {
    const prepare = createSigV4Prepare({ credentials: async () => held });
    expect((await prepare(request(DEFAULT, { authorization: clientSig("eu-central-1") }), context({ region: "us-west-2" }))).url).toBe("https://bedrock-runtime.eu-central-1.amazonaws.com/model/m%3A0/converse");
    expect((await prepare(request(DEFAULT, {}), context({ region: "us-west-2" }))).url).toBe("https://bedrock-runtime.us-west-2.amazonaws.com/model/m%3A0/converse");
    expect((await prepare(request(DEFAULT, {}), context())).url).toBe(DEFAULT);
    expect((await prepare(request("https://vpce-1.bedrock-runtime.eu-west-3.vpce.amazonaws.com/model/m/converse", { authorization: clientSig("us-east-2") }), context())).url).toBe("https://vpce-1.bedrock-runtime.eu-west-3.vpce.amazonaws.com/model/m/converse");
  });

  test("a pinned AWS endpoint is signed for its own region, whatever the client signed for", async () => {
    const prepare = createSigV4Prepare({ credentials: async () => held });
    const signed = await prepare(request("https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com/model/m/converse", { authorization: clientSig("us-east-2") }), context());
    expect(signed.headers.authorization).toContain("/us-gov-west-1/bedrock/aws4_request");
  });

  test("the client's signature headers are replaced by Loupe's, which AWS's check accepts", async () => {
    const prepare = createSigV4Prepare({ credentials: async () => held });
    const sent = request("http://127.0.0.1:9/model/m%3A0/converse?x=1", { authorization: clientSig("us-east-1"), "x-amz-date": "20260101T000000Z", "x-amz-security-token": "client-token", "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "amz-sdk-request": "attempt=1" });
    const signed = await prepare(sent, context());
    expect(signed.headers["x-amz-security-token"]).toBe(MOCK_AWS_CREDENTIALS.sessionToken);
    expect(signed.headers["amz-sdk-request"]).toBe("attempt=1");
    expect(signed.headers.host).toBeUndefined();
    expect(signed.body).toBe(body);
    const arriving = new Request(signed.url, { method: "POST", headers: { ...signed.headers, host: "127.0.0.1:9" }, body });
    expect(await verifySigV4(arriving, body)).toMatchObject({ valid: true, region: "us-east-1", service: "bedrock" });
    // The same request with one byte of body changed no longer verifies.
    const tampered = new TextEncoder().encode('{"messages":[1]}');
    expect((await verifySigV4(new Request(signed.url, { method: "POST", headers: { ...signed.headers, host: "127.0.0.1:9" }, body: tampered }), tampered)).valid).toBe(false);
  });

  test("a Bedrock API key passes untouched", async () => {
    const prepare = createSigV4Prepare({ credentials: async () => held });
    const keyed = request(DEFAULT, { authorization: "Bearer bedrock-api-key-x" });
    expect(await prepare(keyed, context())).toBe(keyed);
  });

  test("no credentials held: a SigV4 client gets a LoupeError 401; an unsigned call goes as sent", async () => {
    const prepare = createSigV4Prepare({ credentials: async () => undefined });
    const error = await prepare(request(DEFAULT, { authorization: clientSig("us-east-1") }), context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoupeError);
    expect(error).toMatchObject({ code: "unauthorized", status: 401 });
    const unsigned = await prepare(request(DEFAULT, {}), context({ region: "eu-north-1" }));
    expect(unsigned).toMatchObject({ url: "https://bedrock-runtime.eu-north-1.amazonaws.com/model/m%3A0/converse", headers: { "content-type": "application/json" } });
    expect(unsigned.headers.authorization).toBeUndefined();
  });

  test("signRequest is deterministic for a date, and signs a session token when the credentials carry one", async () => {
    const at = new Date("2026-01-01T00:00:00Z");
    const a = await signRequest(request("https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", {}), held, "us-east-1", at);
    const b = await signRequest(request("https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", {}), held, "us-east-1", at);
    expect(a.headers.authorization).toBe(b.headers.authorization!);
    expect(a.headers.authorization).toContain("x-amz-security-token");
    const bare = await signRequest(request("https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", {}), { accessKeyId: "AKID", secretAccessKey: "s" }, "us-east-1", at);
    expect(bare.headers["x-amz-security-token"]).toBeUndefined();
  });
});
