import { afterAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { join } from "node:path";
import {
  convertChatRequestToMessages,
  convertChatResponseToMessages,
  convertMessagesRequestToChat,
  convertMessagesResponseToChat,
  createChatToMessagesStream,
  createMessagesToChatStream,
} from "../../src/translate/index.ts";

/**
 * The client SDKs get a well-formed answer: a local server answers each SDK
 * with a recorded upstream answer of the other dialect, translated. The
 * request the SDK sent is translated too, as the gateway will.
 */
const FIXTURES = join(import.meta.dir, "..", "fixtures");
const bytes = (path: string) => Bun.file(join(FIXTURES, path)).stream();
const json = (path: string) => Bun.file(join(FIXTURES, path)).json();
const sse = (body: ReadableStream<Uint8Array>) => new Response(body, { headers: { "content-type": "text/event-stream" } });

let upstream = { chat: "", messages: "" };
const translated: object[] = [];
const CHAT_TOOL_STREAM = [
  { role: "assistant", content: "" },
  { tool_calls: [{ index: 0, id: "call_w", type: "function", function: { name: "get_weather", arguments: "" } }] },
  { tool_calls: [{ index: 0, function: { arguments: '{"location":' } }] },
  { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] },
]
  .map((delta) => `data: ${JSON.stringify({ id: "chatcmpl-t", object: "chat.completion.chunk", created: 1, model: "gpt-x", choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`)
  .join("")
  .concat(`data: ${JSON.stringify({ id: "chatcmpl-t", object: "chat.completion.chunk", created: 1, model: "gpt-x", choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] })}\n\n`)
  .concat(`data: ${JSON.stringify({ id: "chatcmpl-t", object: "chat.completion.chunk", created: 1, model: "gpt-x", choices: [], usage: { prompt_tokens: 120, completion_tokens: 15, total_tokens: 135, prompt_tokens_details: { cached_tokens: 100 } } })}\n\n`)
  .concat("data: [DONE]\n\n");

const server = Bun.serve({
  port: 0,
  async fetch(request) {
    const body = (await request.json()) as { stream?: boolean; stream_options?: { include_usage?: boolean } };
    if (new URL(request.url).pathname === "/v1/chat/completions") {
      // A Chat client answered by a Messages upstream.
      translated.push(convertChatRequestToMessages(body, { model: "claude-opus-4-8" }));
      if (!body.stream) return Response.json(convertMessagesResponseToChat(await json(upstream.messages)));
      return sse(bytes(upstream.messages).pipeThrough(createMessagesToChatStream({ includeUsage: body.stream_options?.include_usage === true })));
    }
    // A Messages client answered by a Chat upstream.
    translated.push(convertMessagesRequestToChat(body, { model: "gpt-x" }));
    if (!body.stream) return Response.json(convertChatResponseToMessages(await json(upstream.chat)));
    const source = upstream.chat ? bytes(upstream.chat) : new Response(CHAT_TOOL_STREAM).body!;
    return sse(source.pipeThrough(createChatToMessagesStream()));
  },
});
afterAll(() => server.stop(true));

const openai = new OpenAI({ apiKey: "test", baseURL: `${server.url}v1`, maxRetries: 0 });
const anthropic = new Anthropic({ apiKey: "test", baseURL: server.url.href.replace(/\/$/, ""), maxRetries: 0 });

describe("an OpenAI SDK client answered by a translated Messages upstream", () => {
  test("streamed tool call (anthropic/messages-stream-sdk-tool-use): finalChatCompletion has the text, the tool call and the usage", async () => {
    upstream = { chat: "", messages: "anthropic/messages-stream-sdk-tool-use.sse" };
    const stream = openai.chat.completions.stream({
      model: "claude-opus-4-8",
      messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Weather in Paris?" }],
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { location: { type: "string" } } } } }],
      stream_options: { include_usage: true },
    });
    const completion = await stream.finalChatCompletion();
    const choice = completion.choices[0]!;
    expect(choice.message.content).toBe("I'll check the current weather in Paris for you.");
    expect(choice.message.tool_calls).toEqual([{ id: "toolu_01NRLabsLyVHZPKxbKvkfSMn", type: "function", function: { name: "get_weather", arguments: '{"location": "Paris"}' } }]);
    expect(choice.finish_reason).toBe("tool_calls");
    expect(completion.model).toBe("claude-opus-4-8");
    expect(completion.usage).toMatchObject({ prompt_tokens: 377, completion_tokens: 65, total_tokens: 442 });
    expect(translated.at(-1)).toMatchObject({ model: "claude-opus-4-8", system: "Be brief.", max_tokens: 4096, stream: true, tools: [{ name: "get_weather" }] });
  });

  test("an upstream error event reaches the SDK as an APIError", async () => {
    upstream = { chat: "", messages: "anthropic/error-stream-overloaded.sse" };
    const stream = await openai.chat.completions.create({ model: "c", messages: [{ role: "user", content: "x" }], stream: true });
    const read = async () => {
      for await (const _ of stream);
    };
    await expect(read()).rejects.toThrow("Overloaded");
  });

  test("non-streamed (anthropic/messages-nonstream-cache): content, finish reason and cached usage", async () => {
    upstream = { chat: "", messages: "anthropic/messages-nonstream-cache.CONSTRUCTED.json" };
    const completion = await openai.chat.completions.create({ model: "c", messages: [{ role: "user", content: "Summarise" }] });
    expect(completion.choices[0]?.message.content).toBe("Here is the summary of the cached document.");
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    expect(completion.usage).toEqual({ prompt_tokens: 4096, completion_tokens: 503, total_tokens: 4599, prompt_tokens_details: { cached_tokens: 1800 } });
  });
});

describe("an Anthropic SDK client (Claude Code's) answered by a translated Chat upstream", () => {
  test("streamed text (openai/chat-stream-include-usage-modern): finalMessage resolves with content and usage", async () => {
    upstream = { chat: "openai/chat-stream-include-usage-modern.CONSTRUCTED.sse", messages: "" };
    const message = await anthropic.messages
      .stream({ model: "gpt-x", max_tokens: 512, system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }], messages: [{ role: "user", content: "Hello" }] })
      .finalMessage();
    expect(message.content).toHaveLength(1);
    expect(message.content[0]).toMatchObject({ type: "text", text: expect.any(String) });
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage).toMatchObject({ input_tokens: 86, output_tokens: 300, cache_read_input_tokens: 1920, cache_creation_input_tokens: 0 });
    expect(translated.at(-1)).toMatchObject({ model: "gpt-x", max_completion_tokens: 512, stream: true, stream_options: { include_usage: true }, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello" }] });
  });

  test("streamed tool call in pieces: finalMessage has a tool_use block with the parsed input", async () => {
    upstream = { chat: "", messages: "" };
    const message = await anthropic.messages
      .stream({ model: "gpt-x", max_tokens: 64, messages: [{ role: "user", content: "Weather?" }], tools: [{ name: "get_weather", input_schema: { type: "object", properties: { location: { type: "string" } } } }] })
      .finalMessage();
    expect(message.content as unknown[]).toEqual([{ type: "tool_use", id: "call_w", name: "get_weather", input: { location: "Paris" } }]);
    expect(message.stop_reason).toBe("tool_use");
    expect(message.usage).toMatchObject({ input_tokens: 20, output_tokens: 15, cache_read_input_tokens: 100 });
  });

  test("a mid-stream error (openrouter/chat-stream-midstream-error) rejects finalMessage with the upstream's message", async () => {
    upstream = { chat: "openrouter/chat-stream-midstream-error.CONSTRUCTED.sse", messages: "" };
    const done = anthropic.messages.stream({ model: "gpt-x", max_tokens: 8, messages: [{ role: "user", content: "x" }] }).finalMessage();
    await expect(done).rejects.toThrow("Provider disconnected unexpectedly");
  });

  test("non-streamed (xai/chat-nonstream-tool-calls): tool_use blocks and usage", async () => {
    upstream = { chat: "xai/chat-nonstream-tool-calls.fantasy-recording.json", messages: "" };
    const message = await anthropic.messages.create({ model: "gpt-x", max_tokens: 64, messages: [{ role: "user", content: "2+3, 2*3" }] });
    expect(message.content.map((b) => b.type)).toEqual(["tool_use", "tool_use"]);
    expect(message.stop_reason).toBe("tool_use");
    expect(message.usage).toMatchObject({ input_tokens: 284, output_tokens: 68, cache_read_input_tokens: 152 });
  });
});
