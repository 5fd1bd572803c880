import { describe, expect, test } from "bun:test";
import { ollamaChatContent, ollamaGenerateContent } from "../../src/providers/ollama-content.ts";
import { readPromptPreview } from "../../src/providers/prompt-preview.ts";
import { ollama } from "../../src/providers/ollama.ts";
import type { ContentHooks } from "../../src/telemetry/genai-content.ts";
import { fixtureJson, fixtureText } from "../support/fixtures.ts";

/** Ollama's native message shapes in GenAI semconv shapes (spans' opt-in content, and the record's prompt_preview). */
function readLines(hooks: ContentHooks, fixture: string) {
  const reader = hooks.createContentStreamReader!();
  for (const line of fixtureText(fixture).split("\n")) if (line.trim()) reader.onEvent(line, undefined);
  return reader.result();
}

describe("Ollama /api/chat content", () => {
  test("request: system and user turns, images as blobs, tool calls and tool results, tools", () => {
    const content = ollamaChatContent.readRequestContent!({
      model: "llama3.2",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "What is in this picture?", images: ["iVBORw0KGgo="] },
        { role: "assistant", content: "", tool_calls: [{ function: { name: "get_weather", arguments: { city: "Tokyo" } } }] },
        { role: "tool", content: "11 degrees", tool_name: "get_weather" },
      ],
      tools: [{ type: "function", function: { name: "get_weather", description: "Get the weather", parameters: { type: "object" } } }],
    });
    expect(content).toEqual({
      inputMessages: [
        { role: "system", parts: [{ type: "text", content: "Be brief." }] },
        { role: "user", parts: [{ type: "text", content: "What is in this picture?" }, { type: "blob", modality: "image", content: "iVBORw0KGgo=" }] },
        { role: "assistant", parts: [{ type: "tool_call", name: "get_weather", arguments: { city: "Tokyo" } }] },
        { role: "tool", parts: [{ type: "tool_call_response", response: "11 degrees" }], name: "get_weather" },
      ],
      toolDefinitions: [{ type: "function", name: "get_weather", description: "Get the weather", parameters: { type: "object" } }],
    });
  });

  test("response: the message; done without done_reason is stop", () => {
    expect(ollamaChatContent.readResponseContent!(fixtureJson("ollama/api-chat-nonstream.documented.json"))).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "Hello! How are you today?" }], finish_reason: "stop" },
    ]);
  });

  test("stream: the pieces joined; a whole tool call in one object; done_reason of the last", () => {
    expect(readLines(ollamaChatContent, "ollama/api-chat-stream.documented.ndjson")).toEqual([{ role: "assistant", parts: [{ type: "text", content: "The" }], finish_reason: "stop" }]);
    expect(readLines(ollamaChatContent, "ollama/api-chat-stream-tools.documented.ndjson")).toEqual([
      { role: "assistant", parts: [{ type: "tool_call", name: "get_weather", arguments: { city: "Tokyo" } }], finish_reason: "stop" },
    ]);
  });

  test("prompt_preview: the first user text", () => {
    const endpoint = ollama.endpoint("POST", "/api/chat");
    expect(readPromptPreview(endpoint, JSON.stringify({ model: "m", messages: [{ role: "system", content: "s" }, { role: "user", content: "  why is\nthe sky blue?" }] }))).toBe("why is the sky blue?");
  });
});

describe("Ollama /api/generate content", () => {
  test("request: system as system instructions, the prompt as one user message", () => {
    expect(ollamaGenerateContent.readRequestContent!({ model: "m", system: "Be brief.", prompt: "Why is the sky blue?" })).toEqual({
      systemInstructions: [{ type: "text", content: "Be brief." }],
      inputMessages: [{ role: "user", parts: [{ type: "text", content: "Why is the sky blue?" }] }],
    });
  });

  test("response and stream; a stream ended by an error has no finish reason: semconv error", () => {
    expect(ollamaGenerateContent.readResponseContent!(fixtureJson("ollama/api-generate-nonstream.documented.json"))).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "Hello! How can I help you today?" }], finish_reason: "stop" },
    ]);
    expect(readLines(ollamaGenerateContent, "ollama/api-generate-stream-error.documented.ndjson")).toEqual([
      { role: "assistant", parts: [{ type: "text", content: " Yes.Ican" }], finish_reason: "error" },
    ]);
  });
});
