import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createChatToMessagesStream, createMessagesToChatStream } from "../../src/translate/index.ts";

const FIXTURES = join(import.meta.dir, "..", "fixtures");

/** Pipes `input` through `stream` in pieces of `size` bytes (1 splits every event, every line and every UTF-8 sequence). */
async function run(stream: TransformStream<Uint8Array, Uint8Array>, input: string, size = 1 << 20): Promise<string> {
  const bytes = new TextEncoder().encode(input);
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size));
      controller.close();
    },
  });
  return new Response(source.pipeThrough(stream)).text();
}

/** SSE text as `{ event?, data }` records, comments kept as `{ comment }`. */
function events(text: string): { event?: string; data?: unknown; comment?: string }[] {
  return text
    .split("\n\n")
    .filter(Boolean)
    .map((block) => {
      if (block.startsWith(":")) return { comment: block.slice(1).trim() };
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? "";
      return { ...(event ? { event } : {}), data: data === "[DONE]" ? data : JSON.parse(data) };
    });
}

const fixture = (path: string) => Bun.file(join(FIXTURES, path)).text();

describe("Messages stream → Chat chunks", () => {
  test.each([1, 7, 1 << 20])("recorded tool-use stream (anthropic/messages-stream-sdk-tool-use) in %p-byte pieces", async (size) => {
    const out = events(await run(createMessagesToChatStream({ includeUsage: true, created: 1 }), await fixture("anthropic/messages-stream-sdk-tool-use.sse"), size));
    const chunks = out.filter((e) => e.data && e.data !== "[DONE]").map((e) => e.data as { id: string; model: string; choices: { delta: Record<string, unknown>; finish_reason: string | null }[]; usage?: unknown });
    expect(chunks.every((c) => c.id === "msg_019Q1hrJbZG26Fb9BQhrkHEr" && c.model === "claude-opus-4-8")).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta ?? "usage")).toEqual([
      { role: "assistant", content: "" },
      { content: "I" },
      { content: "'ll check the current weather in Paris for you." },
      { tool_calls: [{ index: 0, id: "toolu_01NRLabsLyVHZPKxbKvkfSMn", type: "function", function: { name: "get_weather", arguments: "" } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"locati' } }] },
      { tool_calls: [{ index: 0, function: { arguments: 'on": "P' } }] },
      { tool_calls: [{ index: 0, function: { arguments: "ar" } }] },
      { tool_calls: [{ index: 0, function: { arguments: 'is"}' } }] },
      {},
      "usage",
    ]);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("tool_calls");
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 377, completion_tokens: 65, total_tokens: 442, prompt_tokens_details: { cached_tokens: 0 } } });
    expect(out.filter((e) => e.comment === "ping")).toHaveLength(1);
    expect(out.at(-1)).toEqual({ data: "[DONE]" });
  });

  test("cache usage (anthropic/messages-stream-cache) is counted into prompt_tokens; no usage chunk unless asked", async () => {
    const input = await fixture("anthropic/messages-stream-cache.CONSTRUCTED.sse");
    const withUsage = events(await run(createMessagesToChatStream({ includeUsage: true }), input));
    const usage = (withUsage.at(-2)?.data as { usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } } }).usage;
    expect(usage).toMatchObject({ prompt_tokens_details: { cached_tokens: expect.any(Number) } });
    const without = events(await run(createMessagesToChatStream({ includeUsage: false }), input));
    expect(without.some((e) => typeof e.data === "object" && "usage" in (e.data as object))).toBe(false);
    expect(without.at(-1)).toEqual({ data: "[DONE]" });
  });

  test("an upstream error event (anthropic/error-stream-overloaded) becomes a Chat error chunk, and nothing follows", async () => {
    const input = (await fixture("anthropic/messages-stream-basic.sse")).split("event: content_block_stop")[0] + (await fixture("anthropic/error-stream-overloaded.sse"));
    const out = events(await run(createMessagesToChatStream({ includeUsage: true }), input, 5));
    expect(out.at(-1)).toEqual({ data: { error: { message: "Overloaded", type: "overloaded_error", param: null, code: "overloaded_error" } } });
    expect(out.some((e) => e.data === "[DONE]")).toBe(false);
  });

  test("a stream cut before message_stop ends with an error chunk, not a silent stop", async () => {
    const input = (await fixture("anthropic/messages-stream-basic.sse")).split("event: message_delta")[0] ?? "";
    const out = events(await run(createMessagesToChatStream({ includeUsage: false }), input));
    expect(out.at(-1)).toEqual({ data: { error: { message: "upstream stream ended before message_stop", type: "api_error", param: null, code: "api_error" } } });
  });

  test("the last event is read without its closing blank line; bad JSON is skipped", async () => {
    const input = 'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":3,"output_tokens":1}}}\n\ndata: {not json\n\nevent: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":9}}\n\nevent: message_stop\ndata: {"type":"message_stop"}';
    const out = events(await run(createMessagesToChatStream({ includeUsage: true }), input));
    const finish = (data: unknown) => (data as { choices?: { finish_reason: string | null }[] }).choices?.[0]?.finish_reason;
    expect(out.map((e) => (finish(e.data) === undefined ? e.data : finish(e.data)))).toEqual([null, "length", expect.objectContaining({ usage: expect.objectContaining({ prompt_tokens: 3, completion_tokens: 9 }) }), "[DONE]"]);
  });
});

const chunk = (delta: object, finish: string | null = null, extra: object = {}) =>
  `data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-x", choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;

describe("Chat chunks → Messages stream", () => {
  test("recorded stream with usage (openai/chat-stream-include-usage-modern): text block, then stop reason and cache usage in message_delta", async () => {
    const out = events(await run(createChatToMessagesStream(), await fixture("openai/chat-stream-include-usage-modern.CONSTRUCTED.sse"), 3));
    const types = out.map((e) => e.event);
    expect(types[0]).toBe("message_start");
    expect(types.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    expect(types.filter((t) => t === "content_block_start")).toHaveLength(1);
    expect(out.at(-2)?.data).toEqual({
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { input_tokens: 86, output_tokens: 300, cache_read_input_tokens: 1920, cache_creation_input_tokens: 0 },
    });
    expect(out.at(-1)).toEqual({ event: "message_stop", data: { type: "message_stop" } });
  });

  test("tool calls streamed in pieces become tool_use blocks with input_json_delta, one block at a time", async () => {
    const input =
      chunk({ role: "assistant", content: "Let me check." }) +
      chunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "get_weather", arguments: "" } }] }) +
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }) +
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }) +
      chunk({ tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "get_time", arguments: '{"tz":"CET"}' } }] }) +
      chunk({}, "tool_calls") +
      `data: ${JSON.stringify({ id: "chatcmpl-1", choices: [], usage: { prompt_tokens: 50, completion_tokens: 20, total_tokens: 70 } })}\n\n` +
      "data: [DONE]\n\n";
    const out = events(await run(createChatToMessagesStream(), input, 11)).map((e) => e.data);
    expect(out).toEqual([
      { type: "message_start", message: { id: "chatcmpl-1", type: "message", role: "assistant", model: "gpt-x", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } } },
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Let me check." } },
      { type: "content_block_stop", index: 0 },
      { type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "call_a", name: "get_weather", input: {} } },
      { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '{"city":' } },
      { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '"Paris"}' } },
      { type: "content_block_stop", index: 1 },
      { type: "content_block_start", index: 2, content_block: { type: "tool_use", id: "call_b", name: "get_time", input: {} } },
      { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '{"tz":"CET"}' } },
      { type: "content_block_stop", index: 2 },
      { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { input_tokens: 50, output_tokens: 20, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 } },
      { type: "message_stop" },
    ]);
  });

  test("a mid-stream error chunk (openrouter/chat-stream-midstream-error) becomes an error event; the keep-alive comment a ping", async () => {
    const out = events(await run(createChatToMessagesStream(), await fixture("openrouter/chat-stream-midstream-error.CONSTRUCTED.sse"), 4));
    expect(out[0]).toEqual({ event: "ping", data: { type: "ping" } });
    expect(out.at(-1)).toEqual({ event: "error", data: { type: "error", error: { type: "api_error", message: "Provider disconnected unexpectedly" } } });
    expect(out.some((e) => e.event === "message_stop")).toBe(false);
  });

  test("a server that ends without [DONE] still closes the message once it sent a finish reason", async () => {
    const out = events(await run(createChatToMessagesStream(), chunk({ content: "hi" }) + chunk({}, "length")));
    expect(out.slice(-2).map((e) => e.event)).toEqual(["message_delta", "message_stop"]);
    expect((out.at(-2)?.data as { delta: { stop_reason: string } }).delta.stop_reason).toBe("max_tokens");
  });

  test("a stream cut before any finish reason ends with an error event", async () => {
    const out = events(await run(createChatToMessagesStream(), chunk({ content: "hi" })));
    expect(out.at(-1)).toEqual({ event: "error", data: { type: "error", error: { type: "api_error", message: "upstream stream ended before a finish_reason" } } });
  });

  test("multi-byte text split inside a UTF-8 sequence arrives whole", async () => {
    const out = events(await run(createChatToMessagesStream(), chunk({ content: "héllo 🌍" }) + chunk({}, "stop") + "data: [DONE]\n\n", 1));
    expect(out.find((e) => e.event === "content_block_delta")?.data).toMatchObject({ delta: { text: "héllo 🌍" } });
  });
});
