// Loupe's OTLP encoders, checked by decoding what they write with the test receiver
// (protobufjs over the official proto definitions, and the OTLP/JSON mapping).
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { OtlpTarget } from "../../src/telemetry/otel-config.ts";
import { encodeOrigin, type Attributes, type OtlpProtocol } from "../../src/sinks/otlp/otlp-common.ts";
import { createPoint, encodeMetrics, recordValue, type Histogram } from "../../src/sinks/otlp/otlp-metrics.ts";
import { createOtlpPost } from "../../src/sinks/otlp/otlp-post.ts";
import { createSpanBatch, SPAN_KIND, type FinishedSpan } from "../../src/sinks/otlp/otlp-spans.ts";
import { ProtobufWriter } from "../../src/sinks/otlp/protobuf-writer.ts";
import { startOtlpReceiver, type OtlpReceiver } from "../support/otlp-receiver.ts";

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver.stop());
beforeEach(() => receiver.reset());

const MATRIX: [OtlpProtocol, "gzip" | "none"][] = [
  ["http/protobuf", "none"],
  ["http/protobuf", "gzip"],
  ["http/json", "none"],
  ["http/json", "gzip"],
];

const target = (signal: "traces" | "metrics", protocol: OtlpProtocol, compression: "gzip" | "none"): OtlpTarget => ({
  url: `${receiver.url}/v1/${signal}`,
  headers: { authorization: "Bearer t0ken" },
  protocol,
  compression,
  timeoutMs: 5000,
});

const origin = encodeOrigin({ "deployment.environment.name": "ci", "service.name": "loupe-test", "service.version": "9.9.9" }, { name: "loupe", version: "9.9.9" });

const LONG = "x".repeat(20_000); // a length that needs a 3-byte varint, in a span that needs one too
const ATTRIBUTES: Attributes = {
  "gen_ai.usage.input_tokens": 42,
  "gen_ai.request.temperature": 0.75,
  "loupe.zero": 0,
  "loupe.negative": -5,
  "loupe.big_negative": -(2 ** 40),
  "loupe.max_safe": Number.MAX_SAFE_INTEGER,
  "loupe.beyond_safe": 2 ** 60, // not a safe integer: a double, as the SDK wrote it
  "loupe.streamed": true,
  "loupe.truncated": false,
  "gen_ai.response.finish_reasons": ["stop", "length"],
  "loupe.ints": [1, 2, 3],
  "loupe.doubles": [0.5, 1.25],
  "loupe.bools": [true, false],
  "loupe.empty_string": "",
  "loupe.unicode": "héllo → 世界 🙂",
  "loupe.medium": "m".repeat(200),
  "gen_ai.input.messages": LONG,
  "loupe.left_out": undefined,
};

const ms = 1_700_000_000_123; // ns = 1.7e18, far above 2^53
const span = (over: Partial<FinishedSpan>): FinishedSpan => ({
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  parentSpanId: undefined,
  traceState: undefined,
  flags: 0x101,
  name: "span",
  kind: SPAN_KIND.server,
  startTime: ms,
  endTime: ms + 1,
  attributes: {},
  error: undefined,
  ...over,
});

/** Every AnyValue of the raw decoded request, by attribute key: which oneof field carried it. */
function valueFields(decoded: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== "object" || node === null) return;
    const { key, value } = node as { key?: unknown; value?: unknown };
    if (typeof key === "string" && typeof value === "object" && value !== null) out[key] = Object.keys(value).join(",");
    Object.values(node).forEach(walk);
  };
  walk(decoded);
  return out;
}

describe.each(MATRIX)("spans as %s, compression %s", (protocol, compression) => {
  test("ids, parent, trace state, kind, times to the nanosecond, attributes, status, resource and scope decode exactly", async () => {
    const batch = createSpanBatch(protocol, origin);
    batch.add(span({ name: "POST /openai/v1/chat/completions", parentSpanId: "b7ad6b7169203331", traceState: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", flags: 0x301 }));
    batch.add(
      span({
        spanId: "a1b2c3d4e5f60718",
        parentSpanId: "00f067aa0ba902b7",
        name: "chat gpt-4o",
        kind: SPAN_KIND.client,
        startTime: 4_102_444_800_000.25, // 2100-01-01, and a quarter millisecond
        endTime: 4_102_444_800_001,
        attributes: ATTRIBUTES,
        error: { message: "upstream 503" },
      }),
    );
    batch.add(span({ spanId: "0000000000000001", name: "error without message", startTime: 0, endTime: 1, error: { message: undefined } }));
    expect(batch.spans).toBe(3);
    await createOtlpPost(target("traces", protocol, compression), batch.contentType)(batch.take());
    expect(batch.spans).toBe(0);

    const [server, client, bare] = receiver.spans;
    expect(receiver.spans).toHaveLength(3);
    expect(server).toMatchObject({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      parentSpanId: "b7ad6b7169203331",
      traceState: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
      name: "POST /openai/v1/chat/completions",
      kind: "SERVER",
      startTimeUnixNano: 1_700_000_000_123_000_000n,
      endTimeUnixNano: 1_700_000_000_124_000_000n,
      attributes: {},
      status: { code: "UNSET" },
      resource: { "deployment.environment.name": "ci", "service.name": "loupe-test", "service.version": "9.9.9" },
      scope: { name: "loupe", version: "9.9.9" },
    });
    expect(client).toMatchObject({ spanId: "a1b2c3d4e5f60718", parentSpanId: "00f067aa0ba902b7", kind: "CLIENT", name: "chat gpt-4o" });
    expect(client!.startTimeUnixNano).toBe(4_102_444_800_000_250_000n);
    expect(client!.endTimeUnixNano).toBe(4_102_444_800_001_000_000n);
    expect(client!.status).toEqual({ code: "ERROR", message: "upstream 503" });
    const { "loupe.left_out": _, ...sent } = ATTRIBUTES;
    expect(client!.attributes).toEqual(sent);
    expect(client!.traceState).toBeUndefined();
    expect(bare).toMatchObject({ parentSpanId: undefined, startTimeUnixNano: 0n, endTimeUnixNano: 1_000_000n, status: { code: "ERROR" } });

    const fields = valueFields(receiver.requests[0]!.decoded);
    expect(fields).toMatchObject({
      "gen_ai.usage.input_tokens": "intValue",
      "loupe.zero": "intValue",
      "loupe.negative": "intValue",
      "loupe.big_negative": "intValue",
      "loupe.max_safe": "intValue",
      "gen_ai.request.temperature": "doubleValue",
      "loupe.beyond_safe": "doubleValue",
      "loupe.streamed": "boolValue",
      "loupe.ints": "arrayValue",
      "loupe.empty_string": "stringValue",
    });
    expect(fields["loupe.left_out"]).toBeUndefined();
    const request = receiver.requests[0]!;
    expect(request.contentType).toBe(protocol === "http/json" ? "application/json" : "application/x-protobuf");
    expect(request.encoding).toBe(compression === "gzip" ? "gzip" : "identity");
    expect(request.headers.get("authorization")).toBe("Bearer t0ken");
  });
});

test("OTLP/JSON: ids in hex, int64 as strings, enums as integers", () => {
  const batch = createSpanBatch("http/json", origin);
  batch.add(span({ parentSpanId: "b7ad6b7169203331", kind: SPAN_KIND.client, attributes: { n: 7, d: 0.5 }, error: { message: "m" } }));
  const body = JSON.parse(new TextDecoder().decode(batch.take()));
  const [got] = body.resourceSpans[0].scopeSpans[0].spans;
  expect(got).toMatchObject({
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    parentSpanId: "b7ad6b7169203331",
    kind: 3,
    startTimeUnixNano: "1700000000123000000",
    status: { code: 2, message: "m" },
    attributes: [
      { key: "n", value: { intValue: "7" } },
      { key: "d", value: { doubleValue: 0.5 } },
    ],
  });
});

describe("protobuf writer", () => {
  const bytesOf = (write: (w: ProtobufWriter) => void) => {
    const w = new ProtobufWriter(4); // tiny: every write grows it
    write(w);
    return [...w.bytes()];
  };

  test("varints, lengths and nested messages, growing the buffer as it goes", () => {
    expect(bytesOf((w) => w.uint32(1, 300))).toEqual([0x08, 0xac, 0x02]);
    expect(bytesOf((w) => w.int64(3, -1))).toEqual([0x18, ...Array(9).fill(0xff), 0x01]);
    expect(bytesOf((w) => w.uint32(1, 2 ** 32))).toEqual([0x08, 0x80, 0x80, 0x80, 0x80, 0x10]);
    expect(bytesOf((w) => w.string(2, "é"))).toEqual([0x12, 0x02, 0xc3, 0xa9]);
    expect(bytesOf((w) => w.fixed64(1, 0x01020304, 0x05060708))).toEqual([0x09, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01]);
    const nested = bytesOf((w) => {
      const outer = w.open(1);
      w.string(1, "a".repeat(130)); // the nested length needs two bytes: content moves by one
      w.close(outer);
    });
    expect(nested.slice(0, 5)).toEqual([0x0a, 0x85, 0x01, 0x0a, 0x82]);
    expect(nested).toHaveLength(3 + 133);
  });
});

const DURATION: Histogram = { name: "gen_ai.client.operation.duration", description: "GenAI operation duration", unit: "s", bounds: [0.01, 0.1, 1] };

describe.each(MATRIX)("metrics as %s, compression %s", (protocol, compression) => {
  test("cumulative histograms: count, sum, buckets (upper bound inclusive), bounds, min, max, times", async () => {
    const a = createPoint(DURATION, { "gen_ai.operation.name": "chat", "server.port": 443 });
    for (const value of [0.005, 0.01, 0.05, 0.1, 2.5]) recordValue(DURATION, a, value);
    const b = createPoint(DURATION, { "gen_ai.operation.name": "embeddings", "server.port": 443 });
    recordValue(DURATION, b, 0.5);
    const body = encodeMetrics(protocol, origin, { startTime: ms, time: ms + 60_000, histograms: [{ histogram: DURATION, points: [a, b] }, { histogram: { ...DURATION, name: "unused" }, points: [] }] });
    await createOtlpPost(target("metrics", protocol, compression), protocol === "http/json" ? "application/json" : "application/x-protobuf")(body);

    expect(receiver.metrics).toEqual([
      {
        metric: "gen_ai.client.operation.duration",
        unit: "s",
        description: "GenAI operation duration",
        type: "histogram",
        temporality: "CUMULATIVE",
        attributes: { "gen_ai.operation.name": "chat", "server.port": 443 },
        count: 5,
        sum: 0.005 + 0.01 + 0.05 + 0.1 + 2.5,
        min: 0.005,
        max: 2.5,
        bucketCounts: [2, 2, 0, 1],
        explicitBounds: [0.01, 0.1, 1],
        startTimeUnixNano: 1_700_000_000_123_000_000n,
        timeUnixNano: 1_700_000_060_123_000_000n,
        resource: { "deployment.environment.name": "ci", "service.name": "loupe-test", "service.version": "9.9.9" },
        scope: { name: "loupe", version: "9.9.9" },
      },
      expect.objectContaining({ attributes: { "gen_ai.operation.name": "embeddings", "server.port": 443 }, count: 1, bucketCounts: [0, 0, 1, 0], min: 0.5, max: 0.5 }),
    ]);
  });
});

describe("export failures", () => {
  test("name the backend without the credentials its URL carries (they are logged and shown in /livez)", async () => {
    const withCredentials = new URL(`${receiver.url}/v1/traces?api_key=query-secret-0123`);
    withCredentials.username = "otlp";
    withCredentials.password = "url-password-4567";
    const post = createOtlpPost({ ...target("traces", "http/json", "none"), url: withCredentials.href }, "application/json");
    receiver.failWith(503);
    const refused = await post(new Uint8Array()).catch((error: Error) => error.message);
    receiver.failWith(null);
    const unreachable = await createOtlpPost({ ...target("traces", "http/json", "none"), url: "http://otlp:url-password-4567@127.0.0.1:1/v1/traces" }, "application/json")(new Uint8Array()).catch((error: Error) => error.message);
    for (const message of [refused, unreachable]) {
      expect(message).toBeString();
      expect(message).not.toContain("url-password-4567");
      expect(message).not.toContain("query-secret-0123");
    }
    expect(refused).toContain(`${receiver.url}/v1/traces answered 503`);
  });
});
