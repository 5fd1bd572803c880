import { describe, expect, test } from "bun:test";
import { EventStreamCodec, type MessageHeaders } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import fc from "fast-check";
import { brotliCompressSync, deflateSync, gzipSync, zstdCompressSync } from "node:zlib";
import { createResponseObserver, type BodyKind } from "../../src/observe/response-observer.ts";
import { createSseRewriter } from "../../src/observe/sse-rewriter.ts";
import type { Endpoint } from "../../src/providers/contract.ts";
import { createEventStreamFrames, MALFORMED } from "../../src/providers/bedrock/eventstream-frames.ts";
import { removeUsageChunk } from "../../src/providers/openai-wire.ts";
import { anyChunks, cutAnywhere, lineText, runs, TIMEOUT, utf8, wellFormedText } from "./arbitraries.ts";

/**
 * The frame decoders the proxy runs on upstream bytes as they pass: SSE and
 * NDJSON (the response observer), AWS event streams (Bedrock), and the SSE
 * rewriter that edits what the client receives. Whatever the bytes and
 * wherever the chunks are cut: nothing throws, and a valid stream decodes to
 * the same events as when it arrives whole.
 */

type Seen = [data: string, event: string | undefined];

/** An endpoint whose stream reader writes down every event the observer hands it. */
function recordingEndpoint(seen: Seen[]): Endpoint {
  return { operation: "chat", billable: true, createStreamReader: () => ({ onEvent: (data, event) => void seen.push([data, event]), result: () => ({}) }) };
}

const ENCODERS: Record<string, (bytes: Uint8Array) => Uint8Array> = {
  identity: (bytes) => bytes,
  gzip: gzipSync,
  deflate: deflateSync,
  br: brotliCompressSync,
  zstd: zstdCompressSync,
};

/** Feeds chunks to a fresh observer; the events its stream reader saw, and the observation. */
function observe(chunks: Uint8Array[], kind: BodyKind, encoding: string | null, frames?: () => ReturnType<typeof createEventStreamFrames>) {
  const seen: Seen[] = [];
  const observer = createResponseObserver({ endpoint: recordingEndpoint(seen), kind, frames, encoding, captureBytes: 100 });
  for (const chunk of chunks) observer.feed(chunk);
  return { seen, observation: observer.finish() };
}

// --- SSE ------------------------------------------------------------------

interface SseEvent {
  event: string | undefined;
  data: string[];
  id: string | undefined;
  comment: string | undefined;
}

const sseEvent: fc.Arbitrary<SseEvent> = fc.record({
  event: fc.option(lineText(12).filter((s) => s !== ""), { nil: undefined }),
  data: fc.array(lineText(), { minLength: 1, maxLength: 3 }),
  id: fc.option(lineText(8).map((s) => s.replaceAll("\0", "")), { nil: undefined }),
  comment: fc.option(lineText(8), { nil: undefined }),
});

/** A stream of events as an upstream writes it (WHATWG HTML §9.2.6): one kind of line end throughout, optionally a BOM, the last blank line optional. */
const sseStream = fc.record({
  events: fc.array(sseEvent, { maxLength: 6 }),
  eol: fc.constantFrom("\n", "\r\n", "\r"),
  bom: fc.boolean(),
  terminated: fc.boolean(),
});

type SseStream = typeof sseStream extends fc.Arbitrary<infer T> ? T : never;

function writeSse({ events, eol, bom, terminated }: SseStream): string {
  let out = bom ? "\ufeff" : "";
  events.forEach((e, i) => {
    if (e.comment !== undefined) out += `:${e.comment}${eol}`;
    if (e.id !== undefined) out += `id: ${e.id}${eol}`;
    if (e.event !== undefined) out += `event: ${e.event}${eol}`;
    for (const line of e.data) out += `data: ${line}${eol}`;
    if (terminated || i < events.length - 1) out += eol;
  });
  return out;
}

/** What a stream reader is handed: each event's data lines joined; an event the body ends in before its blank line is not dispatched (WHATWG HTML §9.2.6). */
const expectedSse = ({ events, terminated }: SseStream): Seen[] => (terminated ? events : events.slice(0, -1)).map((e) => [e.data.join("\n"), e.event]);

describe("SSE (the response observer)", () => {
  test(
    "a valid stream cut anywhere, or compressed and then cut, decodes to its events",
    () => {
      const streams = sseStream.chain((stream) => {
        const encoding = fc.constantFrom(...Object.keys(ENCODERS));
        return fc.tuple(fc.constant(stream), encoding).chain(([s, enc]) => {
          const bytes = ENCODERS[enc]!(utf8.encode(writeSse(s)));
          return fc.tuple(fc.constant(s), fc.constant(enc), cutAnywhere(bytes));
        });
      });
      fc.assert(
        fc.property(streams, ([stream, encoding, chunks]) => {
          const { seen, observation } = observe(chunks, "sse", encoding === "identity" ? null : encoding);
          expect(observation.problems).toEqual([]);
          expect(seen).toEqual(expectedSse(stream));
        }),
        runs(300),
      );
    },
    TIMEOUT,
  );

  test("found by the property above: a stream of CR line ends whose last blank line is a final CR still dispatches its last event", () => {
    expect(observe([utf8.encode("data: a\r\rdata: b\r\r")], "sse", null).seen).toEqual([["a", undefined], ["b", undefined]]);
    expect(observe([gzipSync(utf8.encode("data: a\r\r"))], "sse", "gzip").seen).toEqual([["a", undefined]]);
    expect(observe([utf8.encode("data: a\r")], "sse", null).seen).toEqual([]);
  });

  test(
    "any bytes, any encoding, any body kind: finish() answers and never throws",
    () => {
      const kinds = fc.constantFrom<BodyKind>("sse", "ndjson", "json", "frames");
      const encodings = fc.constantFrom(null, "identity", "gzip", "x-gzip", "deflate", "br", "zstd", "GZIP ", "compress", "");
      fc.assert(
        fc.property(anyChunks, kinds, encodings, fc.boolean(), (chunks, kind, encoding, compressed) => {
          // Valid compression of garbage, or garbage under a compression's name.
          const body = compressed && encoding === "gzip" ? [gzipSync(Buffer.concat(chunks))] : chunks;
          const seen: Seen[] = [];
          const observer = createResponseObserver({ endpoint: recordingEndpoint(seen), kind, frames: createEventStreamFrames, encoding, captureBytes: 16 });
          for (const chunk of body) observer.feed(chunk);
          const observation = observer.finish();
          expect(observation.problems.every((p) => typeof p === "string")).toBe(true);
          expect(observation.body === undefined || observation.body.length <= 16).toBe(true);
        }),
        runs(400),
      );
    },
    TIMEOUT,
  );

  test("a reader that throws on every event costs the call its usage, never the stream", () => {
    fc.assert(
      fc.property(anyChunks, (chunks) => {
        const endpoint: Endpoint = { operation: "chat", billable: true, createStreamReader: () => ({ onEvent: () => { throw new Error("boom"); }, result: () => ({}) }) };
        const observer = createResponseObserver({ endpoint, kind: "sse", encoding: null, captureBytes: 0 });
        for (const chunk of chunks) observer.feed(chunk);
        // A blank line first ends whatever the garbage left open.
        observer.feed(utf8.encode("\n\ndata: x\n\n"));
        const { problems } = observer.finish();
        expect(problems.length).toBeGreaterThan(0);
        expect(problems.length).toBeLessThanOrEqual(5);
      }),
      runs(100),
    );
  });
});

describe("the SSE rewriter (what the client receives when Loupe asked for stream usage)", () => {
  test(
    "an event it does not change passes byte for byte, however the stream is cut",
    () => {
      const streams = fc.tuple(sseStream, fc.array(wellFormedText(40), { maxLength: 3 })).chain(([stream, noise]) => {
        const bytes = utf8.encode(writeSse(stream) + noise.join(""));
        return fc.tuple(fc.constant(bytes), cutAnywhere(bytes));
      });
      fc.assert(
        fc.property(streams, ([bytes, chunks]) => {
          const rewriter = createSseRewriter((data) => data);
          const out = [...chunks.map((chunk) => rewriter.push(chunk)), rewriter.end()];
          expect(Buffer.concat(out)).toEqual(Buffer.from(bytes));
        }),
        runs(300),
      );
    },
    TIMEOUT,
  );

  test("found by the property above: a BOM at the start of the stream reaches the client", () => {
    const rewriter = createSseRewriter((data) => data);
    const bom = Uint8Array.of(0xef, 0xbb, 0xbf);
    expect(Buffer.concat([rewriter.push(bom.subarray(0, 1)), rewriter.push(bom.subarray(1)), rewriter.push(utf8.encode("data: x\n\n")), rewriter.end()])).toEqual(Buffer.concat([bom, utf8.encode("data: x\n\n")]));
  });

  test("removeUsageChunk on any stream: no throw, and only events are dropped", () => {
    fc.assert(
      fc.property(anyChunks, (chunks) => {
        const rewriter = createSseRewriter(removeUsageChunk);
        const out = Buffer.concat([...chunks.map((chunk) => rewriter.push(chunk)), rewriter.end()]);
        expect(out.byteLength).toBeLessThanOrEqual(Buffer.concat(chunks).byteLength * 3);
      }),
      runs(300),
    );
  });

  test("the usage chunk Loupe asked for is dropped wherever the stream is cut; the rest passes", () => {
    const usageChunk = 'data: {"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\n';
    const stream = fc.array(fc.constantFrom('data: {"id":"c","choices":[{"delta":{"content":"hi"}}],"usage":null}\n\n', usageChunk, ": keep-alive\n\n", "data: [DONE]\n\n"), { maxLength: 6 });
    fc.assert(
      fc.property(
        stream.chain((events) => fc.tuple(fc.constant(events), cutAnywhere(utf8.encode(events.join(""))))),
        ([events, chunks]) => {
          const rewriter = createSseRewriter(removeUsageChunk);
          const out = new TextDecoder().decode(Buffer.concat([...chunks.map((chunk) => rewriter.push(chunk)), rewriter.end()]));
          expect(out).toBe(events.filter((e) => e !== usageChunk).map((e) => e.replace(',"usage":null', "")).join(""));
        },
      ),
      runs(200),
    );
  });
});

// --- NDJSON ---------------------------------------------------------------

describe("NDJSON (the response observer)", () => {
  test(
    "lines cut anywhere decode to the same lines (blank ones skipped, the last one without its newline too)",
    () => {
      const streams = fc.tuple(fc.array(lineText(30), { maxLength: 8 }), fc.boolean()).chain(([lines, trailing]) => {
        const bytes = utf8.encode(lines.join("\n") + (trailing ? "\n" : ""));
        return fc.tuple(fc.constant(lines), cutAnywhere(bytes));
      });
      fc.assert(
        fc.property(streams, ([lines, chunks]) => {
          const { seen, observation } = observe(chunks, "ndjson", null);
          expect(observation.problems).toEqual([]);
          // TextDecoder drops a BOM at the very start of the body (Encoding Standard, "UTF-8 decode").
          const sent = lines.map((line, i) => (i === 0 ? line.replace(/^\ufeff/, "") : line));
          expect(seen).toEqual(sent.filter((line) => line.trim() !== "").map((line) => [line, undefined]));
        }),
        runs(300),
      );
    },
    TIMEOUT,
  );
});

// --- AWS event streams ----------------------------------------------------

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const str = (value: string) => ({ type: "string" as const, value });

/** A message as Bedrock sends one, and what the decoder should emit for it. */
const awsMessage = fc.oneof(
  fc.record({ kind: fc.constant("event" as const), type: fc.option(fc.stringMatching(/^[a-zA-Z]{1,12}$/), { nil: undefined }), payload: wellFormedText(60) }),
  fc.record({ kind: fc.constant("exception" as const), type: fc.option(fc.stringMatching(/^[a-zA-Z]{1,20}$/), { nil: undefined }), payload: wellFormedText(60) }),
  fc.record({ kind: fc.constant("error" as const), type: fc.option(fc.stringMatching(/^[a-zA-Z]{1,20}$/), { nil: undefined }), payload: wellFormedText(30) }),
);
type AwsMessage = typeof awsMessage extends fc.Arbitrary<infer T> ? T : never;

/** Headers of other types beside the named ones: the decoder must skip them. */
const extraHeaders = fc.dictionary(
  fc.stringMatching(/^[a-z-]{1,10}$/),
  fc.oneof(
    fc.boolean().map((value) => ({ type: "boolean" as const, value })),
    fc.integer({ min: -128, max: 127 }).map((value) => ({ type: "byte" as const, value })),
    fc.integer().map((value) => ({ type: "integer" as const, value })),
    fc.uint8Array({ maxLength: 8 }).map((value) => ({ type: "binary" as const, value })),
    fc.date({ min: new Date(0), max: new Date(2 ** 40), noInvalidDate: true }).map((value) => ({ type: "timestamp" as const, value })),
    fc.uuid().map((value) => ({ type: "uuid" as const, value })),
  ),
  { maxKeys: 3 },
);

function encodeAws(message: AwsMessage, extra: MessageHeaders): Uint8Array {
  const headers: MessageHeaders = { ...extra, ":message-type": str(message.kind) };
  if (message.kind === "event" && message.type) headers[":event-type"] = str(message.type);
  if (message.kind === "exception" && message.type) headers[":exception-type"] = str(message.type);
  if (message.kind === "error") {
    if (message.type) headers[":error-code"] = str(message.type);
    headers[":error-message"] = str(message.payload);
    return codec.encode({ headers, body: new Uint8Array(0) });
  }
  return codec.encode({ headers, body: utf8.encode(message.payload) });
}

/** A payload as UTF-8 decoding reads it (a leading BOM is not part of the text: Encoding Standard, "UTF-8 decode"). */
const decoded = (payload: string) => payload.replace(/^\ufeff/, "");

function expectedAws(message: AwsMessage): Seen {
  if (message.kind === "event") return [decoded(message.payload), message.type];
  if (message.kind === "exception") return [decoded(message.payload), `exception:${message.type ?? "unknown"}`];
  return [JSON.stringify({ message: message.payload }), `error:${message.type ?? "unknown"}`];
}

function decodeAws(chunks: Uint8Array[]): Seen[] {
  const seen: Seen[] = [];
  const frames = createEventStreamFrames();
  const emit = (data: string, event: string | undefined) => void seen.push([data, event]);
  for (const chunk of chunks) frames.feed(chunk, emit);
  frames.end(emit);
  return seen;
}

const awsStream = fc.array(fc.tuple(awsMessage, extraHeaders), { maxLength: 5 }).map((messages) => ({
  messages: messages.map(([m]) => m),
  frames: messages.map(([m, extra]) => encodeAws(m, extra)),
}));

describe("AWS event streams (Bedrock)", () => {
  test(
    "valid messages cut anywhere decode to the same events as whole",
    () => {
      const cut = awsStream.chain(({ messages, frames }) => fc.tuple(fc.constant(messages), cutAnywhere(Buffer.concat(frames))));
      fc.assert(
        fc.property(cut, ([messages, chunks]) => {
          expect(decodeAws(chunks)).toEqual(messages.map(expectedAws));
        }),
        runs(300),
      );
    },
    TIMEOUT,
  );

  test(
    "one flipped bit anywhere: the messages before it, then one `malformed`, nothing after (CRC32 catches every single-bit error)",
    () => {
      const flipped = awsStream
        .filter(({ frames }) => frames.length > 0)
        .chain(({ messages, frames }) => {
          const bytes = Buffer.concat(frames);
          return fc.tuple(fc.constant(messages), fc.constant(frames), fc.nat({ max: bytes.byteLength * 8 - 1 })).chain(([m, f, bit]) => {
            const copy = Uint8Array.from(bytes);
            copy[bit >> 3]! ^= 1 << (bit & 7);
            return fc.tuple(fc.constant(m), fc.constant(f), fc.constant(bit >> 3), cutAnywhere(copy));
          });
        });
      fc.assert(
        fc.property(flipped, ([messages, frames, at, chunks]) => {
          let start = 0;
          let hit = 0;
          while (start + frames[hit]!.byteLength <= at) start += frames[hit++]!.byteLength;
          const seen = decodeAws(chunks);
          expect(seen.slice(0, hit)).toEqual(messages.slice(0, hit).map(expectedAws));
          expect(seen.length).toBe(hit + 1);
          expect(seen[hit]![1]).toBe(MALFORMED);
        }),
        runs(300),
      );
    },
    TIMEOUT,
  );

  test(
    "any bytes: no throw, and at most one `malformed`, always last",
    () => {
      // Half the time a valid stream comes first, so garbage lands mid-stream too.
      const input = fc.tuple(awsStream, anyChunks, fc.boolean()).map(([{ frames }, garbage, prefix]) => (prefix ? [...frames, ...garbage] : garbage));
      fc.assert(
        fc.property(input, (chunks) => {
          const seen = decodeAws(chunks);
          const malformed = seen.filter(([, event]) => event === MALFORMED).length;
          expect(malformed).toBeLessThanOrEqual(1);
          if (malformed === 1) expect(seen.at(-1)![1]).toBe(MALFORMED);
        }),
        runs(400),
      );
    },
    TIMEOUT,
  );

  test("through the observer (frames kind), compressed or not, the events are the decoder's", () => {
    const input = awsStream.chain(({ messages, frames }) =>
      fc.constantFrom("identity", "gzip").chain((encoding) => fc.tuple(fc.constant(messages), fc.constant(encoding), cutAnywhere(ENCODERS[encoding]!(Buffer.concat(frames))))),
    );
    fc.assert(
      fc.property(input, ([messages, encoding, chunks]) => {
        const { seen } = observe(chunks, "frames", encoding === "identity" ? null : encoding, createEventStreamFrames);
        expect(seen).toEqual(messages.map(expectedAws));
      }),
      runs(150),
    );
  });
});
