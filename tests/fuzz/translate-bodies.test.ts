import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  convertChatErrorToMessages,
  convertChatRequestToMessages,
  convertChatResponseToMessages,
  convertMessagesErrorToChat,
  convertMessagesRequestToChat,
  convertMessagesResponseToChat,
} from "../../src/translate/index.ts";
import { anyJson, edgeNumber, lineText, looseJson, runs, text, TIMEOUT } from "./arbitraries.ts";

/**
 * Whole bodies across the two dialects (part 8): requests, answers and
 * errors of any shape convert without throwing into plain JSON of the other
 * dialect's shape; well-formed requests and answers keep what the other
 * dialect can say on a round trip.
 */

type Json = Record<string, unknown>;

const KEYS = [
  ...["model", "messages", "role", "content", "system", "developer", "user", "assistant", "tool", "tool_calls", "tool_call_id", "function", "name", "arguments", "type", "text"],
  ...["image_url", "url", "file", "file_data", "refusal", "tools", "parameters", "description", "tool_choice", "parallel_tool_calls", "max_tokens", "max_completion_tokens"],
  ...["temperature", "top_p", "stop", "stream", "stream_options", "safety_identifier", "metadata", "user_id", "source", "media_type", "data", "tool_result", "tool_use_id"],
  ...["tool_use", "id", "input", "input_schema", "disable_parallel_tool_use", "stop_sequences", "choices", "message", "finish_reason", "usage", "stop_reason", "error"],
];
const VALUES = ["system", "developer", "user", "assistant", "tool", "function", "text", "image_url", "file", "image", "document", "base64", "url", "tool_use", "tool_result", "auto", "any", "none", "required", "custom", "refusal", "data:image/png;base64,AAAA"];
const body = fc.oneof({ weight: 4, arbitrary: looseJson(KEYS, VALUES) }, { weight: 1, arbitrary: anyJson }).map((value) => JSON.parse(JSON.stringify(value)) as unknown);

/** Plain JSON: what JSON.stringify writes and JSON.parse reads back the same (no undefined in arrays, no functions, no cycles). */
function expectPlainJson(value: unknown): void {
  expect(JSON.parse(JSON.stringify(value))).toEqual(value);
}

describe("any body", () => {
  test(
    "Chat request → Messages: plain JSON, alternating turns that are never empty, a max_tokens, a temperature within 0–1, tool ids Messages accepts",
    () => {
      fc.assert(
        fc.property(body, (request) => {
          const out = convertChatRequestToMessages(request, { model: "m" });
          expectPlainJson(out);
          expect(out.model).toBe("m");
          expect(Number.isFinite(out.max_tokens)).toBe(true);
          if (out.temperature !== undefined) expect(out.temperature as number).toBeWithin(0, 1.0000001);
          const messages = out.messages as Json[];
          messages.forEach((message, i) => {
            expect(["user", "assistant"]).toContain(message.role as string);
            if (i > 0) expect(message.role).not.toBe(messages[i - 1]!.role);
            const content = message.content;
            expect(typeof content === "string" ? content.length : (content as unknown[]).length).toBeGreaterThan(0);
            for (const block of typeof content === "string" ? [] : (content as Json[])) {
              if (block.type === "tool_use") expect(block.id).toMatch(/^[a-zA-Z0-9_-]+$/);
              if (block.type === "tool_result") expect(block.tool_use_id).toMatch(/^[a-zA-Z0-9_-]+$/);
            }
          });
        }),
        runs(400),
      );
    },
    TIMEOUT,
  );

  test(
    "Messages request → Chat: plain JSON, known roles, a user of at most 64 characters",
    () => {
      fc.assert(
        fc.property(body, (request) => {
          const out = convertMessagesRequestToChat(request, { model: "m" });
          expectPlainJson(out);
          expect(out.model).toBe("m");
          for (const message of out.messages as Json[]) expect(["system", "user", "assistant", "tool"]).toContain(message.role as string);
          if (out.user !== undefined) expect((out.user as string).length).toBeLessThanOrEqual(64);
        }),
        runs(400),
      );
    },
    TIMEOUT,
  );

  test("answers and errors of any shape, any status, convert to plain JSON of the other dialect", () => {
    const status = fc.oneof(fc.constantFrom(400, 401, 404, 413, 429, 500, 503, 529), fc.integer({ min: 100, max: 999 }));
    fc.assert(
      fc.property(fc.oneof(body, text(40)), status, (answer, code) => {
        const chat = convertMessagesResponseToChat(answer, { created: 1 });
        expectPlainJson(chat);
        expect((chat.choices as Json[])[0]!.finish_reason).toBeOneOf(["stop", "length", "tool_calls", "content_filter"]);
        for (const n of Object.values(chat.usage as Json).filter((v) => typeof v === "number")) expect(Number.isFinite(n)).toBe(true);

        const messages = convertChatResponseToMessages(answer);
        expectPlainJson(messages);
        expect(messages.stop_reason).toBeOneOf(["end_turn", "max_tokens", "tool_use", "refusal"]);
        const usage = messages.usage as Json;
        expect(usage.input_tokens as number).toBeGreaterThanOrEqual(0);

        const toChat = convertMessagesErrorToChat(answer, code);
        expectPlainJson(toChat);
        expect(typeof (toChat.error as Json).message).toBe("string");
        const toMessages = convertChatErrorToMessages(answer, code);
        expectPlainJson(toMessages);
        expect(toMessages.type).toBe("error");
        expect(typeof (toMessages.error as Json).type).toBe("string");
        expect(typeof (toMessages.error as Json).message).toBe("string");
      }),
      runs(400),
    );
  });
});

// --- Well-formed bodies: round trips ------------------------------------------

const word = lineText(12).filter((s) => s.trim() !== "");
const toolId = fc.stringMatching(/^toolu_[a-zA-Z0-9_-]{1,8}$/);
const toolName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,10}$/);
const toolInput = fc.dictionary(toolName, fc.oneof(fc.integer(), word, fc.boolean(), fc.constant(null)), { maxKeys: 3 });
const image = fc.oneof(
  fc.record({ type: fc.constant("image"), source: fc.record({ type: fc.constant("base64"), media_type: fc.constantFrom("image/png", "image/jpeg"), data: fc.base64String({ minLength: 4, maxLength: 12 }) }) }),
  fc.record({ type: fc.constant("image"), source: fc.record({ type: fc.constant("url"), url: fc.webUrl() }) }),
);
const textBlock = word.map((text) => ({ type: "text", text }));

/** A user turn: tool results first (as Messages wants them), then text and images. */
const userTurn = fc.oneof(
  word,
  fc
    .tuple(fc.array(fc.record({ type: fc.constant("tool_result"), tool_use_id: toolId, content: word }), { maxLength: 2 }), fc.array(fc.oneof(textBlock, image), { maxLength: 3 }))
    .filter(([results, rest]) => results.length + rest.length > 0)
    .map(([results, rest]) => [...results, ...rest]),
);
/** An assistant turn: text, then tool calls. */
const assistantTurn = fc
  .tuple(fc.array(textBlock, { maxLength: 2 }), fc.array(fc.record({ type: fc.constant("tool_use"), id: toolId, name: toolName, input: toolInput }), { maxLength: 2 }))
  .filter(([texts, calls]) => texts.length + calls.length > 0)
  .map(([texts, calls]) => [...texts, ...calls]);

const tool = fc.record({ name: toolName, description: fc.option(word, { nil: undefined }), input_schema: fc.constant({ type: "object", properties: { q: { type: "string" } } }) });
const messagesRequest = fc
  .record({
    system: fc.option(word, { nil: undefined }),
    turns: fc.array(fc.tuple(userTurn, assistantTurn), { maxLength: 3 }),
    last: userTurn,
    max_tokens: fc.integer({ min: 1, max: 64_000 }),
    temperature: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    top_p: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    stop_sequences: fc.option(fc.array(word, { minLength: 1, maxLength: 2 }), { nil: undefined }),
    stream: fc.boolean(),
    user: fc.option(fc.stringMatching(/^[a-z0-9-]{1,64}$/), { nil: undefined }),
    tools: fc.array(tool, { maxLength: 2 }),
    choice: fc.constantFrom(undefined, "auto", "any", "none", "tool"),
    serial: fc.boolean(),
  })
  .map((r) => {
    const request: Json = {
      model: "claude-x",
      max_tokens: r.max_tokens,
      messages: [...r.turns.flatMap(([user, assistant]) => [{ role: "user", content: user }, { role: "assistant", content: assistant }]), { role: "user", content: r.last }],
    };
    if (r.system !== undefined) request.system = r.system;
    if (r.temperature !== undefined) request.temperature = r.temperature;
    if (r.top_p !== undefined) request.top_p = r.top_p;
    if (r.stop_sequences) request.stop_sequences = r.stop_sequences;
    if (r.stream) request.stream = true;
    if (r.user) request.metadata = { user_id: r.user };
    if (r.tools.length > 0) {
      request.tools = r.tools.map((t) => (t.description === undefined ? { name: t.name, input_schema: t.input_schema } : t));
      const serial = r.serial && r.choice !== "none" ? { disable_parallel_tool_use: true } : {};
      if (r.choice === "tool") request.tool_choice = { type: "tool", name: r.tools[0]!.name, ...serial };
      else if (r.choice !== undefined) request.tool_choice = { type: r.choice, ...serial };
    }
    return request;
  });

/**
 * What a Messages request says once it went through Chat: a user turn's text
 * and images without tool results are one text when all text (Chat content is
 * a string then), tool results keep their place ahead of the rest, an
 * assistant turn's text is one text.
 */
function normalize(request: Json): Json {
  const blocks = (content: unknown): Json[] => (typeof content === "string" ? [{ type: "text", text: content }] : (content as Json[]));
  const messages = (request.messages as Json[]).map((message) => {
    const all = blocks(message.content);
    const head = all.filter((b) => b.type === "tool_result" || b.type === "tool_use");
    const rest = all.filter((b) => b.type !== "tool_result" && b.type !== "tool_use");
    const joined = message.role === "assistant" ? "" : "\n\n";
    const texts = rest.every((b) => b.type === "text") && rest.length > 0 ? [{ type: "text", text: rest.map((b) => b.text).join(joined) }] : rest;
    const content = message.role === "assistant" ? [...texts, ...head] : [...head, ...texts];
    return { role: message.role, content: content.length === 1 && content[0]!.type === "text" ? content[0]!.text : content };
  });
  return { ...request, messages };
}

describe("well-formed requests and answers", () => {
  test(
    "Messages request → Chat → Messages keeps every turn, tool call and setting Chat can carry",
    () => {
      fc.assert(
        fc.property(messagesRequest, (request) => {
          const chat = convertMessagesRequestToChat(request, { model: "gpt-x" });
          const back = convertChatRequestToMessages(chat, { model: "claude-x" });
          expect(back).toEqual(normalize(request));
        }),
        runs(300),
      );
    },
    TIMEOUT,
  );

  test("a Messages answer → Chat → Messages keeps its text, tool calls, stop reason and token totals", () => {
    const answer = fc.record({
      id: fc.stringMatching(/^msg_[a-z0-9]{1,8}$/),
      model: word,
      content: assistantTurn,
      stop_reason: fc.constantFrom("end_turn", "max_tokens", "tool_use", "refusal"),
      usage: fc.record({ input_tokens: fc.nat(), cache_read_input_tokens: fc.nat(), cache_creation_input_tokens: fc.nat(), output_tokens: fc.nat() }),
    });
    fc.assert(
      fc.property(answer, (message) => {
        const back = convertChatResponseToMessages(convertMessagesResponseToChat({ type: "message", role: "assistant", ...message }, { created: 1 }));
        const text = message.content.filter((b) => b.type === "text").map((b) => (b as { text: string }).text).join("");
        const calls = message.content.filter((b) => b.type === "tool_use");
        expect(back.content).toEqual([...(text ? [{ type: "text", text }] : []), ...calls]);
        expect([back.id, back.model, back.stop_reason]).toEqual([message.id, message.model, message.stop_reason]);
        const u = back.usage as Record<string, number>;
        const sent = message.usage;
        expect(u.input_tokens! + u.cache_read_input_tokens! + u.cache_creation_input_tokens!).toBe(sent.input_tokens + sent.cache_read_input_tokens + sent.cache_creation_input_tokens);
        expect([u.cache_read_input_tokens, u.output_tokens]).toEqual([sent.cache_read_input_tokens, sent.output_tokens]);
      }),
      runs(300),
    );
  });

  test("usage counts at any edge stay finite and non-negative both ways", () => {
    fc.assert(
      fc.property(fc.record({ input_tokens: edgeNumber, cache_read_input_tokens: edgeNumber, cache_creation_input_tokens: edgeNumber, output_tokens: edgeNumber, prompt_tokens: edgeNumber, completion_tokens: edgeNumber }), (usage) => {
        for (const n of Object.values(convertMessagesResponseToChat({ usage }).usage as Json)) if (typeof n === "number") expect(Number.isFinite(n)).toBe(true);
        for (const n of Object.values(convertChatResponseToMessages({ usage }).usage as Json)) expect(Number.isFinite(n) && (n as number) >= 0).toBe(true);
      }),
      // Found by this property: a negative count passed through, and counts near the largest double added up to Infinity (JSON null).
      { ...runs(200), examples: [[{ input_tokens: 1e308, cache_read_input_tokens: 1e308, cache_creation_input_tokens: 0, output_tokens: 0, prompt_tokens: 0, completion_tokens: -1 }]] },
    );
  });
});
