import { describe, expect, test } from "bun:test";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import fc from "fast-check";
import { createChatToMessagesMapper, createMessagesToChatMapper, createMessagesToChatStream, createSseTranslation, encodeSse, type StreamMapper } from "../../src/translate/index.ts";
import { anyChunks, cutAnywhere, edgeNumber, lineText, looseJson, runs, text, TIMEOUT, utf8 } from "./arbitraries.ts";

/**
 * Streaming translation (part 8), both directions, on any upstream stream:
 * push/end never throw, and what the client receives is a well-formed stream
 * of its own dialect that always ends — in its closing events, or in its
 * error event (never silently, never with something after the end). For
 * well-formed upstream streams, a round trip keeps the answer.
 */

type Json = Record<string, unknown>;

/** Runs the translation over chunks; the client's SSE text. */
function translate(mapper: StreamMapper, chunks: Uint8Array[]): string {
  const translation = createSseTranslation(mapper);
  const out = [...chunks.map((chunk) => translation.push(chunk)), translation.end()];
  return new TextDecoder().decode(Buffer.concat(out));
}

function parseSse(text: string): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => void events.push(event) });
  parser.feed(text);
  return events;
}

/** The Messages stream rules an SDK relies on (Messages API, "Streaming messages"). Returns the message it adds up to. */
function readMessagesStream(text: string): { message: Json; content: Json[]; stopReason: unknown; usage: Json; error?: Json } {
  let started = false;
  let open = -1;
  let next = 0;
  let ended: "stop" | "error" | undefined;
  let sawDelta = false;
  const content: Json[] = [];
  let message: Json = {};
  let stopReason: unknown;
  let usage: Json = {};
  let error: Json | undefined;
  for (const { event, data } of parseSse(text)) {
    expect(ended).toBeUndefined(); // nothing after message_stop or error
    const payload = JSON.parse(data) as Json;
    expect(payload.type).toBe(event);
    switch (event) {
      case "ping":
        break;
      case "error":
        expect(typeof (payload.error as Json).message).toBe("string");
        error = payload.error as Json;
        ended = "error";
        break;
      case "message_start":
        expect(started).toBe(false);
        started = true;
        message = payload.message as Json;
        usage = { ...(message.usage as Json) };
        break;
      case "content_block_start": {
        expect([started, open, payload.index]).toEqual([true, -1, next]);
        open = next++;
        const block = payload.content_block as Json;
        content.push(block.type === "tool_use" ? { ...block, input: "" } : { ...block });
        break;
      }
      case "content_block_delta": {
        expect(payload.index).toBe(open);
        const delta = payload.delta as Json;
        const block = content[open]!;
        if (block.type === "text") (expect(delta.type).toBe("text_delta"), (block.text = `${block.text}${delta.text}`));
        else (expect(delta.type).toBe("input_json_delta"), (block.input = `${block.input}${delta.partial_json}`));
        break;
      }
      case "content_block_stop":
        expect(payload.index).toBe(open);
        open = -1;
        break;
      case "message_delta":
        expect([started, open, sawDelta]).toEqual([true, -1, false]);
        sawDelta = true;
        stopReason = (payload.delta as Json).stop_reason;
        Object.assign(usage, payload.usage);
        break;
      case "message_stop":
        expect(sawDelta).toBe(true);
        ended = "stop";
        break;
      default:
        throw new Error(`unexpected event ${event}`);
    }
  }
  expect(ended).toBeDefined(); // the stream always ends, one way or the other
  return { message, content, stopReason, usage, ...(error ? { error } : {}) };
}

/**
 * The Chat chunk rules (Chat Completions, "Streaming") the OpenAI SDK's
 * stream relies on; the answer it adds up to. (A chunk after the finish
 * reason, which only an upstream sending events out of order causes, is
 * harmless there: the SDK adds it to the choice.)
 */
function readChatStream(text: string): { text: string; calls: Json[]; finish: unknown; usage: Json | undefined; error?: Json } {
  let ended: "done" | "error" | undefined;
  let finish: unknown;
  let usage: Json | undefined;
  let content = "";
  const calls: Json[] = [];
  let error: Json | undefined;
  for (const { event, data } of parseSse(text)) {
    expect(ended).toBeUndefined();
    expect(event).toBeUndefined();
    if (data === "[DONE]") {
      ended = "done";
      continue;
    }
    const chunk = JSON.parse(data) as Json;
    if (chunk.error !== undefined) {
      expect(typeof (chunk.error as Json).message).toBe("string");
      error = chunk.error as Json;
      ended = "error";
      continue;
    }
    expect(chunk.object).toBe("chat.completion.chunk");
    const choices = chunk.choices as Json[];
    if (choices.length === 0) {
      usage = chunk.usage as Json;
      continue;
    }
    expect(usage).toBeUndefined(); // the usage chunk comes last
    const delta = choices[0]!.delta as Json;
    if (typeof delta.content === "string") content += delta.content;
    for (const call of (delta.tool_calls as Json[] | undefined) ?? []) {
      const index = call.index as number;
      const fn = call.function as Json;
      if (calls[index] === undefined) {
        expect(index).toBe(calls.length);
        calls[index] = { id: call.id, name: fn.name, arguments: "" };
      }
      calls[index]!.arguments = `${calls[index]!.arguments}${fn.arguments ?? ""}`;
    }
    if (choices[0]!.finish_reason !== null) finish ??= choices[0]!.finish_reason;
  }
  expect(ended).toBeDefined();
  return { text: content, calls, finish, usage, ...(error ? { error } : {}) };
}

// --- Any upstream stream ----------------------------------------------------

const STREAM_KEYS = [
  ...["type", "message", "id", "model", "usage", "content_block", "index", "delta", "text", "partial_json", "stop_reason", "input_tokens", "output_tokens"],
  ...["cache_read_input_tokens", "cache_creation_input_tokens", "error", "choices", "finish_reason", "tool_calls", "function", "name", "arguments", "content"],
  ...["refusal", "prompt_tokens", "completion_tokens", "prompt_tokens_details", "cached_tokens", "input"],
];
const STREAM_VALUES = ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop", "ping", "error", "text", "tool_use", "text_delta", "input_json_delta", "stop", "length", "tool_calls", "end_turn"];

const loose = looseJson(STREAM_KEYS, STREAM_VALUES);
/** A field of the right type or of any other. */
const either = <T>(right: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: right }, { weight: 1, arbitrary: loose });
const index = either(fc.oneof(fc.nat({ max: 3 }), edgeNumber));
const usage = either(fc.record({ input_tokens: edgeNumber, output_tokens: edgeNumber, cache_read_input_tokens: edgeNumber, prompt_tokens: edgeNumber, completion_tokens: edgeNumber }, { requiredKeys: [] }));

/** Messages events with the right types and any fields, in any order. */
const messagesEvent = fc.oneof(
  fc.record({ type: fc.constant("message_start"), message: either(fc.record({ id: either(text(6)), model: either(text(6)), usage }, { requiredKeys: [] })) }),
  fc.record({ type: fc.constant("content_block_start"), index, content_block: either(fc.oneof(fc.record({ type: fc.constant("text"), text: either(text(6)) }), fc.record({ type: fc.constant("tool_use"), id: either(text(6)), name: either(text(6)), input: loose }))) }),
  fc.record({ type: fc.constant("content_block_delta"), index, delta: either(fc.oneof(fc.record({ type: fc.constant("text_delta"), text: either(text(6)) }), fc.record({ type: fc.constant("input_json_delta"), partial_json: either(text(6)) }))) }),
  fc.record({ type: fc.constant("content_block_stop"), index }),
  fc.record({ type: fc.constant("message_delta"), delta: either(fc.record({ stop_reason: either(fc.constantFrom("end_turn", "tool_use", "max_tokens")) })), usage }),
  fc.record({ type: fc.constantFrom("message_stop", "ping") }),
  fc.record({ type: fc.constant("error"), error: loose }),
);

/** Chat chunks with the right types and any fields. */
const toolCallDelta = fc.record({ index, id: either(text(6)), type: either(fc.constant("function")), function: either(fc.record({ name: either(text(6)), arguments: either(text(6)) }, { requiredKeys: [] })) }, { requiredKeys: [] });
const chatChunk = fc.record(
  {
    id: either(text(6)),
    model: either(text(6)),
    choices: either(fc.array(fc.record({ delta: either(fc.record({ content: either(text(6)), refusal: either(text(6)), tool_calls: either(fc.array(toolCallDelta, { maxLength: 2 })) }, { requiredKeys: [] })), finish_reason: either(fc.constantFrom("stop", "length", "tool_calls", null)) }, { requiredKeys: [] }), { maxLength: 2 })),
    usage,
    error: loose,
  },
  { requiredKeys: [] },
);

/** One upstream SSE block: an event of either dialect, loose JSON, a comment, `[DONE]`, or a run of anything. */
const upstreamBlock = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(messagesEvent, fc.boolean()).map(([data, named]) => encodeSse(JSON.stringify(data), named ? data.type : undefined)) },
  { weight: 4, arbitrary: chatChunk.map((data) => encodeSse(JSON.stringify(data))) },
  { weight: 1, arbitrary: fc.tuple(loose, fc.option(fc.constantFrom(...STREAM_VALUES), { nil: undefined })).map(([data, event]) => encodeSse(JSON.stringify(data), event)) },
  { weight: 1, arbitrary: fc.constant("data: [DONE]\n\n") },
  { weight: 1, arbitrary: lineText(12).map((comment) => `:${comment}\n\n`) },
  { weight: 1, arbitrary: text(30) },
);
const upstream = fc.array(upstreamBlock, { maxLength: 12 }).chain((blocks) => cutAnywhere(utf8.encode(blocks.join(""))));

describe("any upstream stream", () => {
  test(
    "Messages upstream → Chat client: a well-formed Chat stream that ends in [DONE] or an error chunk",
    () => {
      fc.assert(
        fc.property(fc.oneof(upstream, anyChunks), fc.boolean(), (chunks, includeUsage) => {
          readChatStream(translate(createMessagesToChatMapper({ includeUsage, created: 1 }), chunks));
        }),
        runs(400),
      );
    },
    TIMEOUT,
  );

  test(
    "Chat upstream → Messages client: a well-formed Messages stream that ends in message_stop or an error event",
    () => {
      fc.assert(
        fc.property(fc.oneof(upstream, anyChunks), (chunks) => {
          readMessagesStream(translate(createChatToMessagesMapper(), chunks));
        }),
        runs(400),
      );
    },
    TIMEOUT,
  );

  test("as a TransformStream: the client's stream never errors", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(upstream, anyChunks), async (chunks) => {
        const source = new ReadableStream<Uint8Array>({
          start(controller) {
            for (const chunk of chunks) controller.enqueue(chunk);
            controller.close();
          },
        });
        readChatStream(await new Response(source.pipeThrough(createMessagesToChatStream({ includeUsage: true }))).text());
      }),
      runs(100),
    );
  });
});

// --- Well-formed upstream streams: the round trip keeps the answer -----------

const toolName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,10}$/);
const block = fc.oneof(
  fc.record({ type: fc.constant("text" as const), pieces: fc.array(lineText(10).filter((s) => s !== ""), { minLength: 1, maxLength: 3 }) }),
  fc.record({
    type: fc.constant("tool_use" as const),
    id: fc.stringMatching(/^toolu_[a-zA-Z0-9]{1,8}$/),
    name: toolName,
    input: fc.dictionary(toolName, fc.oneof(fc.integer(), lineText(8), fc.boolean()), { maxKeys: 3 }),
    cuts: fc.array(fc.nat(), { maxLength: 3 }),
  }),
);
/** Messages API streams as Anthropic writes them: text blocks, tool_use blocks whose input JSON comes in pieces, usage, a stop reason. */
const messagesStream = fc.record({
  id: fc.stringMatching(/^msg_[a-zA-Z0-9]{1,10}$/),
  model: fc.stringMatching(/^claude-[a-z0-9-]{1,10}$/),
  blocks: fc.array(block, { maxLength: 4 }),
  stopReason: fc.constantFrom("end_turn", "max_tokens", "tool_use", "refusal"),
  input: fc.nat({ max: 100_000 }),
  cacheRead: fc.nat({ max: 100_000 }),
  cacheWrite: fc.nat({ max: 100_000 }),
  output: fc.nat({ max: 100_000 }),
  pings: fc.boolean(),
});
type MessagesStream = typeof messagesStream extends fc.Arbitrary<infer T> ? T : never;

function pieces(json: string, cuts: number[]): string[] {
  const points = [...new Set([0, ...cuts.map((c) => c % (json.length + 1)), json.length])].sort((a, b) => a - b);
  return points.slice(1).map((end, i) => json.slice(points[i], end)).filter(Boolean);
}

function writeMessagesStream(s: MessagesStream): string {
  const ev = (data: Json) => encodeSse(JSON.stringify(data), data.type as string);
  let out = ev({ type: "message_start", message: { id: s.id, type: "message", role: "assistant", model: s.model, content: [], stop_reason: null, usage: { input_tokens: s.input, cache_read_input_tokens: s.cacheRead, cache_creation_input_tokens: s.cacheWrite, output_tokens: 1 } } });
  if (s.pings) out += ev({ type: "ping" });
  s.blocks.forEach((b, index) => {
    if (b.type === "text") {
      out += ev({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
      for (const text of b.pieces) out += ev({ type: "content_block_delta", index, delta: { type: "text_delta", text } });
    } else {
      out += ev({ type: "content_block_start", index, content_block: { type: "tool_use", id: b.id, name: b.name, input: {} } });
      for (const partial_json of pieces(JSON.stringify(b.input), b.cuts)) out += ev({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json } });
    }
    out += ev({ type: "content_block_stop", index });
  });
  out += ev({ type: "message_delta", delta: { stop_reason: s.stopReason, stop_sequence: null }, usage: { output_tokens: s.output } });
  return out + ev({ type: "message_stop" });
}

describe("well-formed streams", () => {
  test(
    "Messages → Chat → Messages, each leg cut anywhere: the same text, tool calls, stop reason and token totals",
    () => {
      const trip = messagesStream.chain((s) => fc.tuple(fc.constant(s), cutAnywhere(utf8.encode(writeMessagesStream(s))), fc.array(fc.nat(), { maxLength: 8 })));
      fc.assert(
        fc.property(trip, ([s, chunks, secondCuts]) => {
          const chat = translate(createMessagesToChatMapper({ includeUsage: true, created: 1 }), chunks);
          const asChat = readChatStream(chat);
          expect(asChat.error).toBeUndefined();
          const chatBytes = utf8.encode(chat);
          const points = [0, ...secondCuts.map((c) => c % (chatBytes.length + 1)).sort((a, b) => a - b), chatBytes.length];
          const back = readMessagesStream(translate(createChatToMessagesMapper(), points.slice(1).map((end, i) => chatBytes.subarray(points[i], end))));

          expect(back.error).toBeUndefined();
          expect([back.message.id, back.message.model]).toEqual([s.id, s.model]);
          // Adjacent text blocks become one (Chat has one content string).
          const expected: Json[] = [];
          for (const b of s.blocks) {
            const last = expected.at(-1);
            if (b.type === "text" && last?.type === "text") last.text = `${last.text}${b.pieces.join("")}`;
            else expected.push(b.type === "text" ? { type: "text", text: b.pieces.join("") } : { type: "tool_use", id: b.id, name: b.name, input: b.input });
          }
          const got: Json[] = back.content.map((c) => (c.type === "tool_use" ? { type: "tool_use", id: c.id, name: c.name, input: JSON.parse((c.input as string) || "{}") } : { type: "text", text: c.text }));
          expect(got).toEqual(expected);
          expect(back.stopReason).toBe(s.stopReason);
          expect(back.usage.output_tokens).toBe(s.output);
          const totalInput = (u: Json) => Number(u.input_tokens ?? 0) + Number(u.cache_read_input_tokens ?? 0) + Number(u.cache_creation_input_tokens ?? 0);
          expect(totalInput(back.usage)).toBe(s.input + s.cacheRead + s.cacheWrite);
          expect(back.usage.cache_read_input_tokens).toBe(s.cacheRead);
        }),
        runs(250),
      );
    },
    TIMEOUT,
  );
});
