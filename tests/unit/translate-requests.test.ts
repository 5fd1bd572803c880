import { describe, expect, test } from "bun:test";
import { convertChatRequestToMessages, convertMessagesRequestToChat, DEFAULT_MAX_TOKENS } from "../../src/translate/index.ts";

const PNG = "iVBORw0KGgo=";

describe("Chat request → Messages request", () => {
  const cases: { name: string; chat: object; messages: Record<string, unknown> }[] = [
    {
      name: "system and developer messages become the top-level system, max_tokens defaults",
      chat: { model: "gpt-4o", messages: [{ role: "system", content: "Be brief." }, { role: "developer", content: [{ type: "text", text: "Use French." }] }, { role: "user", content: "Hi" }] },
      messages: { model: "claude-x", max_tokens: DEFAULT_MAX_TOKENS, system: [{ type: "text", text: "Be brief." }, { type: "text", text: "Use French." }], messages: [{ role: "user", content: "Hi" }] },
    },
    {
      name: "one system message is a string; max_completion_tokens wins over max_tokens",
      chat: { model: "m", max_tokens: 10, max_completion_tokens: 20, messages: [{ role: "system", content: "S" }, { role: "user", content: "Q" }] },
      messages: { model: "claude-x", max_tokens: 20, system: "S", messages: [{ role: "user", content: "Q" }] },
    },
    {
      name: "images: data URL → base64 source, http URL → url source",
      chat: {
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is this?" },
              { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}`, detail: "high" } },
              { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
            ],
          },
        ],
      },
      messages: {
        model: "claude-x",
        max_tokens: DEFAULT_MAX_TOKENS,
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is this?" },
              { type: "image", source: { type: "base64", media_type: "image/png", data: PNG } },
              { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
            ],
          },
        ],
      },
    },
    {
      name: "tools, tool choice, assistant tool calls and consecutive tool results merged into one user turn",
      chat: {
        messages: [
          { role: "user", content: "Weather in Paris and Rome?" },
          {
            role: "assistant",
            content: null,
            tool_calls: [
              { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
              { id: "functions.get_weather:2", type: "function", function: { name: "get_weather", arguments: "" } },
            ],
          },
          { role: "tool", tool_call_id: "call_1", content: "18C" },
          { role: "tool", tool_call_id: "functions.get_weather:2", content: [{ type: "text", text: "21C" }] },
          { role: "user", content: "Thanks" },
        ],
        tools: [{ type: "function", function: { name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
        tool_choice: { type: "function", function: { name: "get_weather" } },
        parallel_tool_calls: false,
      },
      messages: {
        model: "claude-x",
        max_tokens: DEFAULT_MAX_TOKENS,
        messages: [
          { role: "user", content: "Weather in Paris and Rome?" },
          {
            role: "assistant",
            content: [
              { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } },
              { type: "tool_use", id: "functions_get_weather_2", name: "get_weather", input: {} },
            ],
          },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "call_1", content: "18C" },
              { type: "tool_result", tool_use_id: "functions_get_weather_2", content: [{ type: "text", text: "21C" }] },
              { type: "text", text: "Thanks" },
            ],
          },
        ],
        tools: [{ name: "get_weather", description: "Weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }],
        tool_choice: { type: "tool", name: "get_weather", disable_parallel_tool_use: true },
      },
    },
    {
      name: "sampling, stop → stop_sequences, stream, user → metadata; temperature clamped to 1; unknown fields dropped",
      chat: { messages: [{ role: "user", content: "x" }], temperature: 1.5, top_p: 0.9, stop: "END", stream: true, stream_options: { include_usage: true }, user: "u-1", n: 2, seed: 7, logprobs: true, response_format: { type: "json_object" } },
      messages: { model: "claude-x", max_tokens: DEFAULT_MAX_TOKENS, messages: [{ role: "user", content: "x" }], temperature: 1, top_p: 0.9, stop_sequences: ["END"], stream: true, metadata: { user_id: "u-1" } },
    },
    {
      name: "tool_choice none stays none (parallel_tool_calls has nothing to attach to)",
      chat: { messages: [], tools: [{ type: "function", function: { name: "f" } }], tool_choice: "none", parallel_tool_calls: false },
      messages: { model: "claude-x", max_tokens: DEFAULT_MAX_TOKENS, messages: [], tools: [{ name: "f", input_schema: { type: "object", properties: {} } }], tool_choice: { type: "none" } },
    },
    {
      name: "tool_choice required → any",
      chat: { messages: [], tools: [{ type: "function", function: { name: "f" } }], tool_choice: "required" },
      messages: { model: "claude-x", max_tokens: DEFAULT_MAX_TOKENS, messages: [], tools: [{ name: "f", input_schema: { type: "object", properties: {} } }], tool_choice: { type: "any" } },
    },
  ];
  test.each(cases)("$name", ({ chat, messages }) => {
    expect(convertChatRequestToMessages(chat, { model: "claude-x" })).toEqual(messages);
  });
});

describe("Messages request → Chat request", () => {
  const cases: { name: string; messages: object; chat: Record<string, unknown>; target?: { model: string; maxTokensField?: "max_tokens" } }[] = [
    {
      name: "system blocks (Claude Code's shape) become one system message; cache_control and thinking dropped",
      messages: {
        model: "claude-sonnet-4-5",
        max_tokens: 32000,
        system: [{ type: "text", text: "x-anthropic-billing-header: cc" }, { type: "text", text: "You are Claude Code.", cache_control: { type: "ephemeral" } }],
        thinking: { type: "enabled", budget_tokens: 1024 },
        messages: [{ role: "user", content: [{ type: "text", text: "hello", cache_control: { type: "ephemeral" } }] }],
      },
      chat: { model: "gpt-x", max_completion_tokens: 32000, messages: [{ role: "system", content: "x-anthropic-billing-header: cc\n\nYou are Claude Code." }, { role: "user", content: "hello" }] },
    },
    {
      name: "images: base64 → data URL, url → url; max_tokens field chosen by the target",
      target: { model: "gpt-x", maxTokensField: "max_tokens" },
      messages: {
        max_tokens: 100,
        system: "S",
        messages: [
          {
            role: "user",
            content: [
              { type: "image", source: { type: "base64", media_type: "image/png", data: PNG } },
              { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
              { type: "text", text: "Describe" },
            ],
          },
        ],
      },
      chat: {
        model: "gpt-x",
        max_tokens: 100,
        messages: [
          { role: "system", content: "S" },
          {
            role: "user",
            content: [
              { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
              { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
              { type: "text", text: "Describe" },
            ],
          },
        ],
      },
    },
    {
      name: "tool_use → tool_calls with JSON arguments, tool_result → tool messages before the rest of the user turn",
      messages: {
        max_tokens: 50,
        messages: [
          { role: "user", content: "Weather?" },
          { role: "assistant", content: [{ type: "thinking", thinking: "hmm", signature: "s" }, { type: "text", text: "Checking." }, { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } }] },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "18C" }, { type: "image", source: { type: "url", url: "https://example.com/map.png" } }] },
              { type: "text", text: "And tomorrow?" },
            ],
          },
        ],
        tools: [
          { name: "get_weather", description: "Weather", input_schema: { type: "object", properties: { city: { type: "string" } } }, cache_control: { type: "ephemeral" } },
          { type: "web_search_20250305", name: "web_search", max_uses: 3 },
        ],
        tool_choice: { type: "any", disable_parallel_tool_use: true },
      },
      chat: {
        model: "gpt-x",
        max_completion_tokens: 50,
        messages: [
          { role: "user", content: "Weather?" },
          { role: "assistant", content: "Checking.", tool_calls: [{ id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
          { role: "tool", tool_call_id: "toolu_1", content: "18C" },
          { role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/map.png" } }, { type: "text", text: "And tomorrow?" }] },
        ],
        tools: [{ type: "function", function: { name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
        tool_choice: "required",
        parallel_tool_calls: false,
      },
    },
    {
      name: "stop_sequences, sampling, stream asks for usage, short user_id → user; top_k dropped",
      messages: { max_tokens: 5, messages: [{ role: "user", content: "x" }], stop_sequences: ["END"], temperature: 0.2, top_p: 0.5, top_k: 40, stream: true, metadata: { user_id: "user-42" } },
      chat: { model: "gpt-x", max_completion_tokens: 5, messages: [{ role: "user", content: "x" }], temperature: 0.2, top_p: 0.5, stop: ["END"], stream: true, stream_options: { include_usage: true }, user: "user-42" },
    },
    {
      name: "Claude Code's long JSON user_id is not sent as user; tool_choice tool → function",
      messages: {
        max_tokens: 5,
        messages: [{ role: "user", content: "x" }],
        metadata: { user_id: JSON.stringify({ device_id: "d".repeat(64), account_uuid: "", session_id: "3f1c2b7e-0000-4000-8000-000000000000" }) },
        tools: [{ name: "f", input_schema: { type: "object" } }],
        tool_choice: { type: "tool", name: "f" },
      },
      chat: { model: "gpt-x", max_completion_tokens: 5, messages: [{ role: "user", content: "x" }], tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }], tool_choice: { type: "function", function: { name: "f" } } },
    },
  ];
  test.each(cases)("$name", ({ messages, chat, target }) => {
    expect(convertMessagesRequestToChat(messages, target ?? { model: "gpt-x" })).toEqual(chat);
  });

  test("a round trip Chat → Messages → Chat keeps the conversation", () => {
    const chat = {
      model: "gpt-x",
      max_completion_tokens: 64,
      messages: [
        { role: "system", content: "S" },
        { role: "user", content: "Weather?" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "w", arguments: '{"c":"P"}' } }] },
        { role: "tool", tool_call_id: "call_1", content: "18C" },
      ],
    };
    expect(convertMessagesRequestToChat(convertChatRequestToMessages(chat, { model: "c" }), { model: "gpt-x" })).toEqual(chat);
  });
});
