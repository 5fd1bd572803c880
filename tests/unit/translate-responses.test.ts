import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  convertChatErrorToMessages,
  convertChatResponseToMessages,
  convertChatUsageToMessages,
  convertFinishReasonToMessages,
  convertMessagesErrorToChat,
  convertMessagesResponseToChat,
  convertMessagesUsageToChat,
  convertStopReasonToChat,
} from "../../src/translate/index.ts";

const FIXTURES = join(import.meta.dir, "..", "fixtures");
const fixture = (path: string) => Bun.file(join(FIXTURES, path)).json();

describe("finish reasons", () => {
  test.each([
    ["end_turn", "stop"],
    ["stop_sequence", "stop"],
    ["max_tokens", "length"],
    ["tool_use", "tool_calls"],
    ["refusal", "content_filter"],
    ["pause_turn", "stop"],
    [null, "stop"],
  ])("stop_reason %p → finish_reason %p", (from, to) => expect(convertStopReasonToChat(from)).toBe(to));

  test.each([
    ["stop", "end_turn"],
    ["length", "max_tokens"],
    ["tool_calls", "tool_use"],
    ["function_call", "tool_use"],
    ["content_filter", "refusal"],
    [null, "end_turn"],
  ])("finish_reason %p → stop_reason %p", (from, to) => expect(convertFinishReasonToMessages(from)).toBe(to));
});

describe("usage with cache tokens", () => {
  test.each([
    {
      name: "cache read and write are counted into prompt_tokens; cached_tokens is the read part",
      messages: { input_tokens: 2048, cache_creation_input_tokens: 248, cache_read_input_tokens: 1800, output_tokens: 503 },
      chat: { prompt_tokens: 4096, completion_tokens: 503, total_tokens: 4599, prompt_tokens_details: { cached_tokens: 1800 } },
    },
    {
      name: "no cache fields reported",
      messages: { input_tokens: 2095, output_tokens: 503 },
      chat: { prompt_tokens: 2095, completion_tokens: 503, total_tokens: 2598, prompt_tokens_details: { cached_tokens: 0 } },
    },
  ])("Messages → Chat: $name", ({ messages, chat }) => expect(convertMessagesUsageToChat(messages)).toEqual(chat));

  test.each([
    {
      name: "cached tokens are taken out of input_tokens",
      chat: { prompt_tokens: 2006, completion_tokens: 300, total_tokens: 2306, prompt_tokens_details: { cached_tokens: 1920 } },
      messages: { input_tokens: 86, output_tokens: 300, cache_read_input_tokens: 1920, cache_creation_input_tokens: 0 },
    },
    {
      name: "no details reported",
      chat: { prompt_tokens: 17, completion_tokens: 10, total_tokens: 27 },
      messages: { input_tokens: 17, output_tokens: 10, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    },
  ])("Chat → Messages: $name", ({ chat, messages }) => expect(convertChatUsageToMessages(chat)).toEqual(messages));

  test("the total input is the same on both sides of a round trip", () => {
    const messages = { input_tokens: 10, cache_read_input_tokens: 1000, cache_creation_input_tokens: 0, output_tokens: 5 };
    expect(convertChatUsageToMessages(convertMessagesUsageToChat(messages))).toEqual(messages);
  });
});

describe("Messages answer → Chat completion", () => {
  test("recorded answer (anthropic/messages-nonstream-cache): text, finish reason, model that answered, cache usage", async () => {
    const chat = convertMessagesResponseToChat(await fixture("anthropic/messages-nonstream-cache.CONSTRUCTED.json"), { created: 1700000000 });
    expect(chat).toEqual({
      id: "msg_01CacheFixture0000000000001",
      object: "chat.completion",
      created: 1700000000,
      model: "claude-sonnet-4-5-20250929",
      choices: [{ index: 0, message: { role: "assistant", content: "Here is the summary of the cached document.", refusal: null }, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: 4096, completion_tokens: 503, total_tokens: 4599, prompt_tokens_details: { cached_tokens: 1800 } },
    });
  });

  test("tool_use blocks become tool_calls with JSON string arguments; thinking is dropped", () => {
    const chat = convertMessagesResponseToChat({
      id: "msg_1",
      model: "claude-opus-4-8",
      content: [
        { type: "thinking", thinking: "…", signature: "sig" },
        { type: "text", text: "Checking." },
        { type: "tool_use", id: "toolu_1", name: "get_weather", input: { location: "Paris" } },
      ],
      stop_reason: "tool_use",
      usage: { input_tokens: 1, output_tokens: 2 },
    });
    expect(chat["choices"]).toEqual([
      {
        index: 0,
        message: { role: "assistant", content: "Checking.", refusal: null, tool_calls: [{ id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }] },
        logprobs: null,
        finish_reason: "tool_calls",
      },
    ]);
  });
});

describe("Chat completion → Messages answer", () => {
  test("recorded answer (openai/chat-nonstream): text, end_turn, model, usage", async () => {
    expect(convertChatResponseToMessages(await fixture("openai/chat-nonstream.json"))).toEqual({
      id: "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
      type: "message",
      role: "assistant",
      model: "gpt-5.4",
      content: [{ type: "text", text: expect.stringMatching(/^The image shows a wooden boardwalk/) }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 1117, output_tokens: 46, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    });
  });

  test("recorded tool calls (xai/chat-nonstream-tool-calls): tool_use blocks with parsed input, cached tokens split out", async () => {
    const message = convertChatResponseToMessages(await fixture("xai/chat-nonstream-tool-calls.fantasy-recording.json"));
    expect(message["content"]).toEqual([
      { type: "tool_use", id: "call_17376387", name: "add", input: { a: 2, b: 3 } },
      { type: "tool_use", id: "call_83407729", name: "multiply", input: { a: 2, b: 3 } },
    ]);
    expect(message["stop_reason"]).toBe("tool_use");
    expect(message["usage"]).toEqual({ input_tokens: 284, output_tokens: 68, cache_read_input_tokens: 152, cache_creation_input_tokens: 0 });
  });

  test("arguments that are not a JSON object become an empty input", () => {
    const message = convertChatResponseToMessages({ choices: [{ message: { tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "not json" } }] }, finish_reason: "tool_calls" }] });
    expect(message["content"]).toEqual([{ type: "tool_use", id: "c", name: "f", input: {} }]);
  });
});

describe("error bodies across dialects (status kept by the caller)", () => {
  test("Messages 404 (anthropic/error-not-found) in the Chat shape", async () => {
    expect(convertMessagesErrorToChat(await fixture("anthropic/error-not-found.json"), 404)).toEqual({
      error: { message: "The requested resource could not be found.", type: "not_found_error", param: null, code: "not_found_error" },
    });
  });

  test.each([
    [401, "authentication_error"],
    [429, "rate_limit_error"],
    [503, "overloaded_error"],
    [500, "api_error"],
    [418, "invalid_request_error"],
  ])("Chat error with status %p → Messages type %p", async (status, type) => {
    const body = convertChatErrorToMessages(await fixture("openai/error-401.CONSTRUCTED.json"), status);
    expect(body).toEqual({ type: "error", error: { type, message: expect.stringMatching(/^Incorrect API key provided/) } });
  });

  test("a context overflow is worded the way Claude Code recognises", () => {
    const body = convertChatErrorToMessages({ error: { message: "This model's maximum context length is 128000 tokens.", type: "invalid_request_error", code: "context_length_exceeded" } }, 400);
    expect(body).toEqual({ type: "error", error: { type: "invalid_request_error", message: "prompt is too long: This model's maximum context length is 128000 tokens." } });
  });

  test("a plain-text body (a proxy's 502 page) keeps its text", () => {
    expect(convertChatErrorToMessages("Bad Gateway\n", 502)).toEqual({ type: "error", error: { type: "api_error", message: "Bad Gateway" } });
    expect(convertMessagesErrorToChat("Bad Gateway", 502)).toEqual({ error: { message: "Bad Gateway", type: "server_error", param: null, code: "server_error" } });
  });
});
