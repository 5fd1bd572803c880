import type { MessageCreateParamsNonStreaming } from "@anthropic-ai/sdk/resources/messages";
import { describe, expect, test } from "bun:test";
import { createParser } from "eventsource-parser";
import type { ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import type { ResponseCreateParamsNonStreaming } from "openai/resources/responses/responses";
import { anthropicMessagesContent } from "../../src/providers/anthropic-content.ts";
import { geminiGenerateContent } from "../../src/providers/gemini-content.ts";
import { openAIChatContent, openAIResponsesContent } from "../../src/providers/openai-content.ts";
import type { ContentHooks, GenAIOutputMessage, GenAIPart } from "../../src/telemetry/genai-content.ts";
import { fixtureJson, fixtureText, sseEvents } from "../support/fixtures.ts";

/** Feeds SSE text to a fresh content reader through the same parser the proxy uses, `size` characters at a time. */
function readStream(hooks: ContentHooks, text: string, size: number): GenAIOutputMessage[] {
  const reader = hooks.createContentStreamReader!();
  const parser = createParser({ onEvent: (message) => reader.onEvent(message.data, message.event) });
  for (let i = 0; i < text.length; i += size) parser.feed(text.slice(i, i + size));
  parser.reset({ consume: true });
  return reader.result();
}

/** The output messages of a stream fixture; every chunking must give the same. */
function streamFixture(hooks: ContentHooks, name: string): GenAIOutputMessage[] {
  const text = fixtureText(name);
  const whole = readStream(hooks, text, text.length);
  for (const size of [1, 7, 64]) expect(readStream(hooks, text, size)).toStrictEqual(whole);
  // Event by event, as the observer hands them on; an event the file ends in before its blank line is never dispatched (SSE spec).
  const reader = hooks.createContentStreamReader!();
  for (const event of sseEvents(text).filter((e) => /\r?\n\r?\n$/.test(e))) {
    const name = /^event: ?(.*)$/m.exec(event)?.[1]?.trim();
    const data = [...event.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1]).join("\n");
    reader.onEvent(data, name);
  }
  expect(reader.result()).toStrictEqual(whole);
  return whole;
}

const text = (content: string) => ({ type: "text", content });
const reasoning = (content: string) => ({ type: "reasoning", content });
const assistant = (finish_reason: string, ...parts: GenAIPart[]): GenAIOutputMessage[] => [{ role: "assistant", parts, finish_reason }];

interface Case {
  hooks: ContentHooks;
  fixture: string;
  expected: GenAIOutputMessage[];
}

// Expected messages worked out by hand from each fixture (deltas concatenated, JSON tool input parsed).
const GEMINI_THOUGHTS_TEXT = [
  "low!\n\nThe sky is blue primarily due to a phenomenon called **Rayleigh scattering**. Here's a breakdown:\n\n1.  **Sunlight is White:** Sunlight, which appears white to us, is actually made up of all the colors",
  " of the rainbow, each with a different wavelength (red has the longest, violet the shortest).\n2.  **Atmospheric Particles:** Earth's atmosphere is filled with tiny gas molecules (mostly nitrogen and oxygen) and some small dust particles.",
  "\n3.  **Scattering:** When sunlight enters the atmosphere, it hits these tiny molecules. Shorter-wavelength colors (like blue and violet) are scattered much more efficiently and in all directions by these small particles than longer-wavelength colors (like",
  " red, orange, and yellow).\n4.  **Blue Everywhere:** Because blue light is scattered all over the sky, no matter where you look during the day, some of that scattered blue light reaches your eyes, making the sky appear blue",
  ".\n5.  **Why Not Violet?** Violet light is scattered even more than blue, but our eyes are more sensitive to blue light, and some of the violet light is absorbed in the upper atmosphere, so we perceive the sky as blue",
  " rather than violet.",
].join("");

const streams: Case[] = [
  { hooks: anthropicMessagesContent, fixture: "anthropic/messages-stream-basic.sse", expected: assistant("stop", text("Hello!")) },
  { hooks: anthropicMessagesContent, fixture: "anthropic/messages-stream-sdk-basic.sse", expected: assistant("stop", text("Hello there!")) },
  { hooks: anthropicMessagesContent, fixture: "anthropic/messages-stream-cache.CONSTRUCTED.sse", expected: assistant("stop", text("Here is the summary of the cached document.")) },
  {
    hooks: anthropicMessagesContent,
    fixture: "anthropic/messages-stream-tool-use.sse",
    expected: assistant(
      "tool_call",
      text("Okay, let's check the weather for San Francisco, CA:"),
      { type: "tool_call", id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", name: "get_weather", arguments: { location: "San Francisco, CA", unit: "fahrenheit" } },
    ),
  },
  {
    hooks: anthropicMessagesContent,
    fixture: "anthropic/messages-stream-sdk-tool-use.sse",
    expected: assistant(
      "tool_call",
      text("I'll check the current weather in Paris for you."),
      { type: "tool_call", id: "toolu_01NRLabsLyVHZPKxbKvkfSMn", name: "get_weather", arguments: { location: "Paris" } },
    ),
  },
  {
    hooks: anthropicMessagesContent,
    fixture: "anthropic/messages-stream-thinking.sse",
    expected: assistant(
      "stop",
      reasoning("Let me solve this step by step:\n\n1. First break down 27 * 453\n2. 453 = 400 + 50 + 3\n3. 27 * 400 = 10,800\n4. 27 * 50 = 1,350\n5. 27 * 3 = 81\n6. 10,800 + 1,350 + 81 = 12,231"),
      text("27 * 453 = 12,231"),
    ),
  },
  {
    hooks: anthropicMessagesContent,
    fixture: "anthropic/messages-stream-sdk-refusal-modern-usage.sse",
    expected: assistant(
      "refusal",
      reasoning('Simple educational question about what a solar eclipse is. This is benign general knowledge — definitions are fine. Also the user called me "claudius" — I\'m Claude. Minor correction or just roll with it politely.'),
      text("Hi"),
    ),
  },
  // Only an error event: no message was started, so there is nothing to report.
  { hooks: anthropicMessagesContent, fixture: "anthropic/error-stream-overloaded.sse", expected: [] },
  { hooks: openAIChatContent, fixture: "openai/chat-stream-include-usage.openai-node-recording.sse", expected: assistant("stop", text('{"city":"San Francisco","units":"c"}')) },
  { hooks: openAIChatContent, fixture: "openai/chat-stream-include-usage-modern.CONSTRUCTED.sse", expected: assistant("stop", text("Hello!")) },
  { hooks: openAIChatContent, fixture: "azure/chat-stream-include-usage-2026.observed.sse", expected: assistant("stop", text("Hi! How can I help?")) },
  { hooks: openAIChatContent, fixture: "azure/chat-stream-prompt-filter.langchain4j-recording.sse", expected: assistant("stop", text("Hallo Welt!")) },
  { hooks: openAIChatContent, fixture: "mistral/chat-stream.abridged.sse", expected: assistant("length", text("Cizable")) },
  // Only the final chunk was kept: an empty delta that ends in tool_calls.
  { hooks: openAIChatContent, fixture: "groq/chat-stream-x_groq-tail.abridged.sse", expected: assistant("tool_call") },
  { hooks: openAIResponsesContent, fixture: "openai/responses-stream-modern.CONSTRUCTED.sse", expected: assistant("stop", text("Hi there! How can I assist you today?")) },
  // The file ends without the blank line that would dispatch response.completed: the finished item is all there is.
  { hooks: openAIResponsesContent, fixture: "openai/responses-stream.documented.sse", expected: assistant("error", text("Hi there! How can I assist you today?")) },
  { hooks: openAIResponsesContent, fixture: "openai/responses-stream.openai-node-synthetic.sse", expected: assistant("stop", text("Hello world")) },
  { hooks: geminiGenerateContent, fixture: "gemini/streamGenerateContent-2.5-flash-thoughts.js-genai-recording.sse", expected: assistant("stop", text(GEMINI_THOUGHTS_TEXT)) },
  {
    hooks: geminiGenerateContent,
    fixture: "gemini/streamGenerateContent-curl-output.simonw-llm-gemini-97.sse",
    expected: assistant("stop", text("Here you go!\n\n1.  **English:** Hi\n2.  **Spanish:** Hola\n3.  **French:** Bonjour\n4.  **German:** Hallo\n5.  **Italian:** Ciao")),
  },
];

const responses: Case[] = [
  { hooks: anthropicMessagesContent, fixture: "anthropic/messages-nonstream-basic.json", expected: assistant("stop", text("Hi! My name is Claude.")) },
  { hooks: anthropicMessagesContent, fixture: "anthropic/messages-nonstream-cache.CONSTRUCTED.json", expected: assistant("stop", text("Here is the summary of the cached document.")) },
  { hooks: anthropicMessagesContent, fixture: "anthropic/error-not-found.json", expected: [] },
  {
    hooks: openAIChatContent,
    fixture: "openai/chat-nonstream.json",
    expected: assistant(
      "stop",
      text("The image shows a wooden boardwalk path running through a lush green field or meadow. The sky is bright blue with some scattered clouds, giving the scene a serene and peaceful atmosphere. Trees and shrubs are visible in the background."),
    ),
  },
  { hooks: openAIChatContent, fixture: "deepseek/chat-nonstream-usage.CONSTRUCTED.json", expected: assistant("stop", text("Hello! How can I help you today?")) },
  { hooks: openAIChatContent, fixture: "openai/error-401.CONSTRUCTED.json", expected: [] },
  {
    hooks: openAIResponsesContent,
    fixture: "openai/responses-nonstream.json",
    expected: assistant(
      "stop",
      text("In a peaceful grove beneath a silver moon, a unicorn named Lumina discovered a hidden pool that reflected the stars. As she dipped her horn into the water, the pool began to shimmer, revealing a pathway to a magical realm of endless night skies. Filled with wonder, Lumina whispered a wish for all who dream to find their own hidden magic, and as she glanced back, her hoofprints sparkled like stardust."),
    ),
  },
  {
    hooks: geminiGenerateContent,
    fixture: "gemini/generateContent-2.5-flash-cache-thoughts.js-genai-recording.json",
    expected: assistant(
      "stop",
      text('{\n  "simpleString": "example",\n  "stringDatatime": "2023-10-27T10:00:00Z",\n  "stringWithEnum": "enumvalue1",\n  "stringWithLength": "short",\n  "simpleNumber": 123.45,\n  "simpleInteger": 678,\n  "integerInt64": 9876543210,\n  "numberWithMinMax": 5.5,\n  "simpleBoolean": true,\n  "arrayFiled": ["item1", "item2"],\n  "unionField": "unionString",\n  "nullableField": null,\n  "nullableArrayField": ["nullArr1", "nullArr2"],\n  "nullableObjectField": {\n    "innerString": "objString",\n    "innerNumber": 42\n  },\n  "inner": {\n    "innerString": "nestedString",\n    "innerNumber": 100\n  }\n}'),
    ),
  },
  { hooks: geminiGenerateContent, fixture: "gemini/error-404-on-stream-endpoint.js-genai-recording.json", expected: [] },
];

describe("output messages from every stream fixture, whatever the chunking", () => {
  for (const c of streams) test(c.fixture, () => expect(streamFixture(c.hooks, c.fixture)).toStrictEqual(c.expected));

  test("Gemini 2.0 stream: one text part, the chunks' texts in order", () => {
    const name = "gemini/streamGenerateContent-2.0-flash.js-genai-recording.sse";
    const chunks = [...fixtureText(name).matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!).candidates[0].content.parts[0].text);
    expect(chunks).toHaveLength(11);
    const [message] = streamFixture(geminiGenerateContent, name);
    expect(message).toStrictEqual({ role: "assistant", parts: [text(chunks.join(""))], finish_reason: "stop" });
    expect(chunks.join("")).toStartWith("The sky is blue due to a phenomenon called **Rayleigh scattering**.");
  });
});

describe("output messages from every JSON response fixture", () => {
  for (const c of responses) test(c.fixture, () => expect(c.hooks.readResponseContent!(fixtureJson(c.fixture))).toStrictEqual(c.expected));
});

describe("Anthropic Messages", () => {
  test("request: system blocks, images, tool use and results, thinking, tools", () => {
    const body = {
      model: "claude-sonnet-4-5",
      max_tokens: 1024,
      system: [
        { type: "text", text: "You are a weather bot." },
        { type: "text", text: "Answer briefly.", cache_control: { type: "ephemeral" } },
      ],
      tools: [
        {
          name: "get_weather",
          description: "Current weather for a city",
          input_schema: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
        },
        { type: "web_search_20250305", name: "web_search", max_uses: 3 },
      ],
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is the weather where this was taken?" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
            { type: "image", source: { type: "url", url: "https://example.com/paris.jpg" } },
          ],
        },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "The photo shows the Eiffel Tower.", signature: "sig" },
            { type: "tool_use", id: "toolu_01", name: "get_weather", input: { location: "Paris" } },
          ],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_01", content: "rainy, 57°F" },
            { type: "tool_result", tool_use_id: "toolu_02", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }], is_error: true },
          ],
        },
        { role: "assistant", content: "It is rainy in Paris." },
      ],
    } satisfies MessageCreateParamsNonStreaming;

    expect(anthropicMessagesContent.readRequestContent!(body)).toStrictEqual({
      systemInstructions: [text("You are a weather bot."), text("Answer briefly.")],
      inputMessages: [
        {
          role: "user",
          parts: [
            text("What is the weather where this was taken?"),
            { type: "blob", modality: "image", mime_type: "image/png", content: "iVBORw0KGgo=" },
            { type: "uri", modality: "image", uri: "https://example.com/paris.jpg" },
          ],
        },
        {
          role: "assistant",
          parts: [reasoning("The photo shows the Eiffel Tower."), { type: "tool_call", id: "toolu_01", name: "get_weather", arguments: { location: "Paris" } }],
        },
        {
          role: "user",
          parts: [
            { type: "tool_call_response", id: "toolu_01", response: "rainy, 57°F" },
            { type: "tool_call_response", id: "toolu_02", response: [text("a"), text("b")] },
          ],
        },
        { role: "assistant", parts: [text("It is rainy in Paris.")] },
      ],
      toolDefinitions: [
        {
          type: "function",
          name: "get_weather",
          description: "Current weather for a city",
          parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
        },
        { type: "web_search_20250305", name: "web_search" },
      ],
    });
  });

  test("request: a string system prompt and string content; documents by file id and as text", () => {
    const body = {
      model: "claude-sonnet-4-5",
      max_tokens: 1024,
      system: "Be terse.",
      messages: [
        {
          role: "user",
          content: [
            { type: "document", source: { type: "file", file_id: "file_011" } },
            { type: "document", source: { type: "text", media_type: "text/plain", data: "The grass is green." } },
            { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" } },
          ],
        },
        { role: "user", content: "Hi" },
      ],
    } satisfies MessageCreateParamsNonStreaming;
    expect(anthropicMessagesContent.readRequestContent!(body)).toStrictEqual({
      systemInstructions: [text("Be terse.")],
      inputMessages: [
        {
          role: "user",
          parts: [
            { type: "file", modality: "document", file_id: "file_011" },
            text("The grass is green."),
            { type: "blob", modality: "document", mime_type: "application/pdf", content: "JVBERi0=" },
          ],
        },
        { role: "user", parts: [text("Hi")] },
      ],
      toolDefinitions: undefined,
    });
  });

  test("response: thinking, text and tool use; max_tokens is semconv length", () => {
    const body = {
      id: "msg_1",
      type: "message",
      role: "assistant",
      content: [
        { type: "thinking", thinking: "Need the weather.", signature: "sig" },
        { type: "text", text: "Checking." },
        { type: "tool_use", id: "toolu_9", name: "get_weather", input: { location: "Oslo" } },
        { type: "redacted_thinking", data: "opaque" },
      ],
      stop_reason: "max_tokens",
    };
    expect(anthropicMessagesContent.readResponseContent!(body)).toStrictEqual(
      assistant(
        "length",
        reasoning("Need the weather."),
        text("Checking."),
        { type: "tool_call", id: "toolu_9", name: "get_weather", arguments: { location: "Oslo" } },
        { type: "redacted_thinking", data: "opaque" },
      ),
    );
  });

  test("stream: tool input that never completes is kept as the string received; no stop reason is error", () => {
    const reader = anthropicMessagesContent.createContentStreamReader!();
    reader.onEvent('{"type":"message_start","message":{"role":"assistant"}}', "message_start");
    reader.onEvent('{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_x","name":"f","input":{}}}', "content_block_start");
    reader.onEvent('{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\": 1"}}', "content_block_delta");
    expect(reader.result()).toStrictEqual(assistant("error", { type: "tool_call", id: "toolu_x", name: "f", arguments: '{"a": 1' }));
  });
});

describe("OpenAI Chat Completions", () => {
  test("request: system and developer messages stay in the chat history; parts, tool calls, tool results, tools", () => {
    const body = {
      model: "gpt-5.4",
      messages: [
        { role: "system", content: "You are a weather bot." },
        { role: "developer", content: [{ type: "text", text: "Use metric units." }] },
        {
          role: "user",
          name: "ada",
          content: [
            { type: "text", text: "Weather here?" },
            { type: "image_url", image_url: { url: "https://example.com/paris.jpg", detail: "low" } },
            { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQ" } },
            { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } },
          ],
        },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } },
            { id: "call_2", type: "function", function: { name: "get_time", arguments: "not json" } },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: "rainy, 14°C" },
        { role: "tool", tool_call_id: "call_2", content: [{ type: "text", text: "09:00" }] },
      ],
      tools: [
        {
          type: "function",
          function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { location: { type: "string" } } } },
        },
        { type: "function", function: { name: "get_time" } },
      ],
    } satisfies ChatCompletionCreateParamsNonStreaming;

    expect(openAIChatContent.readRequestContent!(body)).toStrictEqual({
      systemInstructions: undefined,
      inputMessages: [
        { role: "system", parts: [text("You are a weather bot.")] },
        { role: "developer", parts: [text("Use metric units.")] },
        {
          role: "user",
          name: "ada",
          parts: [
            text("Weather here?"),
            { type: "uri", modality: "image", uri: "https://example.com/paris.jpg" },
            { type: "blob", modality: "image", mime_type: "image/jpeg", content: "/9j/4AAQ" },
            { type: "blob", modality: "audio", mime_type: "audio/wav", content: "UklGRg==" },
          ],
        },
        {
          role: "assistant",
          parts: [
            { type: "tool_call", id: "call_1", name: "get_weather", arguments: { location: "Paris" } },
            { type: "tool_call", id: "call_2", name: "get_time", arguments: "not json" },
          ],
        },
        { role: "tool", parts: [{ type: "tool_call_response", id: "call_1", response: "rainy, 14°C" }] },
        { role: "tool", parts: [{ type: "tool_call_response", id: "call_2", response: "09:00" }] },
      ],
      toolDefinitions: [
        { type: "function", name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { location: { type: "string" } } } },
        { type: "function", name: "get_time" },
      ],
    });
  });

  test("response: one output message per choice, tool_calls is semconv tool_call", () => {
    const body = {
      object: "chat.completion",
      choices: [
        {
          index: 1,
          message: { role: "assistant", content: null, tool_calls: [{ id: "call_7", type: "function", function: { name: "get_weather", arguments: '{"location":"Rome"}' } }] },
          finish_reason: "tool_calls",
        },
        { index: 0, message: { role: "assistant", content: "Sunny.", reasoning_content: "Look it up." }, finish_reason: "content_filter" },
      ],
    };
    expect(openAIChatContent.readResponseContent!(body)).toStrictEqual([
      { role: "assistant", parts: [reasoning("Look it up."), text("Sunny.")], finish_reason: "content_filter" },
      { role: "assistant", parts: [{ type: "tool_call", id: "call_7", name: "get_weather", arguments: { location: "Rome" } }], finish_reason: "tool_call" },
    ]);
  });

  // Shape per the API reference's chat completion chunk object (parallel tool calls, n=2).
  const toolStream = [
    { choices: [{ index: 0, delta: { role: "assistant", content: null, tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "get_weather", arguments: "" } }] }, finish_reason: null }] },
    { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"loca' } }] }, finish_reason: null }] },
    { choices: [{ index: 1, delta: { role: "assistant", content: "Let me" }, finish_reason: null }] },
    { choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "get_time", arguments: "{}" } }] }, finish_reason: null }] },
    { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: 'tion":"Oslo"}' } }] }, finish_reason: null }] },
    { choices: [{ index: 1, delta: { content: " check." }, finish_reason: "stop" }] },
    { choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] },
    { choices: [], usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 } },
  ];

  test("stream: tool calls assembled by index, choices kept apart", () => {
    const sse = toolStream.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`).join("") + "data: [DONE]\n\n";
    const expected = [
      {
        role: "assistant",
        parts: [
          { type: "tool_call", id: "call_a", name: "get_weather", arguments: { location: "Oslo" } },
          { type: "tool_call", id: "call_b", name: "get_time", arguments: {} },
        ],
        finish_reason: "tool_call",
      },
      { role: "assistant", parts: [text("Let me check.")], finish_reason: "stop" },
    ];
    for (const size of [sse.length, 5]) expect(readStream(openAIChatContent, sse, size)).toStrictEqual(expected);
  });

  test("stream: reasoning deltas (DeepSeek reasoning_content) come before the text; no finish reason is error", () => {
    const reader = openAIChatContent.createContentStreamReader!();
    reader.onEvent('{"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Hmm"}}]}', undefined);
    reader.onEvent('{"choices":[{"index":0,"delta":{"content":"Yes"}}]}', undefined);
    expect(reader.result()).toStrictEqual(assistant("error", reasoning("Hmm"), text("Yes")));
  });
});

describe("OpenAI Responses", () => {
  test("request: instructions are system instructions; input items grouped into turns", () => {
    const body = {
      model: "gpt-5.4",
      instructions: "You must never tell jokes",
      input: [
        { role: "system", content: "You are a helpful assistant" },
        {
          role: "user",
          content: [
            { type: "input_text", text: "What is in this image, and the weather there?" },
            { type: "input_image", image_url: "https://example.com/a.png", detail: "auto" },
            { type: "input_image", file_id: "file-abc", detail: "auto" },
          ],
        },
        { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "Identify the city." }] },
        { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
        { type: "function_call_output", call_id: "call_1", output: "rainy" },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "It rains.", annotations: [] }], id: "msg_1", status: "completed" },
        { role: "user", content: "Thanks" },
      ],
      tools: [
        { type: "function", name: "get_weather", description: "Weather", parameters: { type: "object" }, strict: true },
        { type: "web_search" },
      ],
    } satisfies ResponseCreateParamsNonStreaming;

    expect(openAIResponsesContent.readRequestContent!(body)).toStrictEqual({
      systemInstructions: [text("You must never tell jokes")],
      inputMessages: [
        { role: "system", parts: [text("You are a helpful assistant")] },
        {
          role: "user",
          parts: [
            text("What is in this image, and the weather there?"),
            { type: "uri", modality: "image", uri: "https://example.com/a.png" },
            { type: "file", modality: "image", file_id: "file-abc" },
          ],
        },
        { role: "assistant", parts: [reasoning("Identify the city."), { type: "tool_call", id: "call_1", name: "get_weather", arguments: { city: "Paris" } }] },
        { role: "tool", parts: [{ type: "tool_call_response", id: "call_1", response: "rainy" }] },
        { role: "assistant", parts: [text("It rains.")] },
        { role: "user", parts: [text("Thanks")] },
      ],
      toolDefinitions: [
        { type: "function", name: "get_weather", description: "Weather", parameters: { type: "object" } },
        { type: "web_search", name: "web_search" },
      ],
    });
  });

  test("request: a string input is one user message", () => {
    expect(openAIResponsesContent.readRequestContent!({ model: "gpt-5.4", input: "Hi" })).toStrictEqual({
      systemInstructions: undefined,
      inputMessages: [{ role: "user", parts: [text("Hi")] }],
      toolDefinitions: undefined,
    });
  });

  test("response: reasoning summary, text and a function call make one message; incomplete gives its reason", () => {
    const output = [
      { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "Plan." }] },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Calling.", annotations: [] }] },
      { type: "function_call", call_id: "call_9", name: "lookup", arguments: '{"q":"x"}' },
    ];
    expect(openAIResponsesContent.readResponseContent!({ status: "completed", output })).toStrictEqual(
      assistant("tool_call", reasoning("Plan."), text("Calling."), { type: "tool_call", id: "call_9", name: "lookup", arguments: { q: "x" } }),
    );
    const incomplete = { status: "incomplete", incomplete_details: { reason: "max_output_tokens" }, output: output.slice(0, 2) };
    expect(openAIResponsesContent.readResponseContent!(incomplete)).toStrictEqual(assistant("length", reasoning("Plan."), text("Calling.")));
    const filtered = { status: "incomplete", incomplete_details: { reason: "content_filter" }, output: [] };
    expect(openAIResponsesContent.readResponseContent!(filtered)).toStrictEqual(assistant("content_filter"));
  });

  test("stream cut before response.completed: finished items, then text deltas; finish reason error", () => {
    const events = sseEvents(fixtureText("openai/responses-stream-modern.CONSTRUCTED.sse"));
    const upTo = (type: string) => events.slice(0, events.findIndex((e) => e.includes(`event: ${type}\n`))).join("");
    const expected = assistant("error", text("Hi there! How can I assist you today?"));
    expect(readStream(openAIResponsesContent, upTo("response.completed"), 7)).toStrictEqual(expected);
    expect(readStream(openAIResponsesContent, upTo("response.output_text.done"), 7)).toStrictEqual(expected);
    expect(readStream(openAIResponsesContent, upTo("response.output_item.added"), 7)).toStrictEqual([]);
  });
});

describe("Gemini generateContent", () => {
  test("request fixture: systemInstruction and one user turn", () => {
    const body = fixtureJson<Record<string, unknown>>("gemini/streamGenerateContent-2.5-flash-thoughts.request.json");
    expect(geminiGenerateContent.readRequestContent!(body)).toStrictEqual({
      systemInstructions: [text("I say high you say low, and then tell me why is the sky blue.")],
      inputMessages: [{ role: "user", parts: [text("high")] }],
      toolDefinitions: undefined,
    });
  });

  test("request: inline and file data, function calls and responses, thoughts, tools", () => {
    const body = {
      systemInstruction: { parts: [{ text: "Be brief." }] },
      contents: [
        {
          role: "user",
          parts: [
            { text: "Where is this?" },
            { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } },
            { fileData: { mimeType: "video/mp4", fileUri: "gs://bucket/clip.mp4" } },
          ],
        },
        {
          role: "model",
          parts: [
            { text: "Looks like Paris.", thought: true },
            { functionCall: { name: "get_weather", args: { city: "Paris" } }, thoughtSignature: "c2ln" },
          ],
        },
        { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { forecast: "rain" } } }] },
      ],
      tools: [
        { functionDeclarations: [{ name: "get_weather", description: "Weather", parameters: { type: "OBJECT", properties: { city: { type: "STRING" } } } }] },
        { googleSearch: {} },
      ],
    };
    expect(geminiGenerateContent.readRequestContent!(body)).toStrictEqual({
      systemInstructions: [text("Be brief.")],
      inputMessages: [
        {
          role: "user",
          parts: [
            text("Where is this?"),
            { type: "blob", modality: "image", mime_type: "image/png", content: "iVBORw0KGgo=" },
            { type: "uri", modality: "video", mime_type: "video/mp4", uri: "gs://bucket/clip.mp4" },
          ],
        },
        { role: "assistant", parts: [reasoning("Looks like Paris."), { type: "tool_call", name: "get_weather", arguments: { city: "Paris" } }] },
        { role: "user", parts: [{ type: "tool_call_response", response: { forecast: "rain" } }] },
      ],
      toolDefinitions: [
        { type: "function", name: "get_weather", description: "Weather", parameters: { type: "OBJECT", properties: { city: { type: "STRING" } } } },
        { type: "googleSearch", name: "googleSearch" },
      ],
    });
  });

  test("request: snake_case field names (Google's curl examples) read the same", () => {
    const body = {
      system_instruction: { parts: [{ text: "Be brief." }] },
      contents: [{ parts: [{ inline_data: { mime_type: "application/pdf", data: "JVBERi0=" } }, { file_data: { file_uri: "https://x/y.pdf" } }] }],
      tools: [{ function_declarations: [{ name: "f", parameters_json_schema: { type: "object" } }] }],
    };
    expect(geminiGenerateContent.readRequestContent!(body)).toStrictEqual({
      systemInstructions: [text("Be brief.")],
      inputMessages: [
        {
          role: "user",
          parts: [
            { type: "blob", modality: "document", mime_type: "application/pdf", content: "JVBERi0=" },
            { type: "uri", modality: "document", uri: "https://x/y.pdf" },
          ],
        },
      ],
      toolDefinitions: [{ type: "function", name: "f", parameters: { type: "object" } }],
    });
  });

  test("response: one message per candidate; a function call ends in tool_call, SAFETY is lower-cased", () => {
    const body = {
      candidates: [
        { index: 0, content: { role: "model", parts: [{ functionCall: { id: "fc_1", name: "get_weather", args: { city: "Oslo" } } }] }, finishReason: "STOP" },
        { index: 1, content: { role: "model", parts: [{ text: "thinking…", thought: true }, { text: "No." }] }, finishReason: "SAFETY" },
        { index: 2, content: { role: "model", parts: [{ text: "Cut" }] }, finishReason: "MAX_TOKENS" },
      ],
    };
    expect(geminiGenerateContent.readResponseContent!(body)).toStrictEqual([
      { role: "assistant", parts: [{ type: "tool_call", id: "fc_1", name: "get_weather", arguments: { city: "Oslo" } }], finish_reason: "tool_call" },
      { role: "assistant", parts: [reasoning("thinking…"), text("No.")], finish_reason: "safety" },
      { role: "assistant", parts: [text("Cut")], finish_reason: "length" },
    ]);
  });

  test("stream: thoughts and text joined apart, function calls collected, last finish reason wins; a JSON array body reads the same", () => {
    const chunks = [
      { candidates: [{ content: { role: "model", parts: [{ text: "Let me ", thought: true }] } }] },
      { candidates: [{ content: { role: "model", parts: [{ text: "think.", thought: true }] } }] },
      { candidates: [{ content: { role: "model", parts: [{ text: "Calling " }] } }] },
      { candidates: [{ content: { role: "model", parts: [{ text: "now." }, { functionCall: { name: "f", args: { a: 1 } } }] } }] },
      { candidates: [{ content: { role: "model", parts: [{ functionCall: { name: "g", args: {} } }] }, finishReason: "STOP" }], usageMetadata: { promptTokenCount: 3 } },
    ];
    const expected = assistant(
      "tool_call",
      reasoning("Let me think."),
      text("Calling now."),
      { type: "tool_call", name: "f", arguments: { a: 1 } },
      { type: "tool_call", name: "g", arguments: {} },
    );
    const sse = chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`).join("");
    expect(readStream(geminiGenerateContent, sse, 3)).toStrictEqual(expected);
    expect(geminiGenerateContent.readResponseContent!(chunks)).toStrictEqual(expected);
  });
});

describe("odd input never throws and yields what it can", () => {
  const all = { anthropicMessagesContent, openAIChatContent, openAIResponsesContent, geminiGenerateContent };
  for (const [name, hooks] of Object.entries(all)) {
    test(name, () => {
      const reader = hooks.createContentStreamReader!();
      for (const data of ["not json", "null", "[]", "42", '{"type":"content_block_delta","index":5}', '{"choices":[null,{"delta":7}]}', '{"candidates":"x"}', "[DONE]"]) {
        expect(() => reader.onEvent(data, undefined)).not.toThrow();
      }
      expect(() => reader.result()).not.toThrow();
      for (const body of [null, "text", 1, [], {}, { content: "x", choices: {}, output: null, candidates: [null] }]) {
        expect(Array.isArray(hooks.readResponseContent!(body))).toBe(true);
      }
      expect(hooks.readRequestContent!({})).toStrictEqual({ systemInstructions: undefined, inputMessages: undefined, toolDefinitions: undefined });
      expect(() => hooks.readRequestContent!({ messages: [null, 1, { content: 5 }], input: [null], contents: "x", tools: [null, {}], system: 3 })).not.toThrow();
    });
  }
});
