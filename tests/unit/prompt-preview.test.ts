import { describe, expect, test } from "bun:test";
import { anthropic } from "../../src/providers/anthropic.ts";
import { gemini } from "../../src/providers/gemini.ts";
import { openai } from "../../src/providers/openai.ts";
import { readPromptPreview } from "../../src/providers/prompt-preview.ts";

const messages = anthropic.endpoint("POST", "/v1/messages");
const chat = openai.endpoint("POST", "/v1/chat/completions");
const responses = openai.endpoint("POST", "/v1/responses");
const generate = gemini.endpoint("POST", "/v1beta/models/gemini-2.5-flash:generateContent");

describe("prompt_preview: the first thing the user wrote, read through each provider's content hook", () => {
  test.each([
    ["Claude Code's context first, then the user's words", messages, { model: "claude", messages: [{ role: "user", content: [{ type: "text", text: "<system-reminder>ctx</system-reminder>" }, { type: "text", text: "Fix the\n  failing test" }] }] }, "Fix the failing test"],
    ["only context: the context it is", messages, { model: "claude", messages: [{ role: "user", content: "<system-reminder>only</system-reminder>" }] }, "<system-reminder>only</system-reminder>"],
    ["OpenAI chat: the system prompt is not the user's", chat, { model: "gpt", messages: [{ role: "system", content: "be brief" }, { role: "user", content: "What is DuckDB?" }] }, "What is DuckDB?"],
    ["OpenAI Responses: input as a string", responses, { model: "gpt", input: "Summarise this" }, "Summarise this"],
    ["Gemini contents", generate, { contents: [{ role: "user", parts: [{ text: "Hola Gemini" }] }] }, "Hola Gemini"],
  ])("%s", (_, endpoint, body, expected) => {
    expect(readPromptPreview(endpoint, JSON.stringify(body))).toBe(expected);
  });

  test("cut to 200 characters; none for a body cut at the logging limit, an endpoint without content hooks, or no user text", () => {
    expect(readPromptPreview(chat, JSON.stringify({ messages: [{ role: "user", content: "x".repeat(500) }] }))).toBe("x".repeat(200));
    expect(readPromptPreview(chat, '{"messages":[{"role":"user","content":"cut')).toBeUndefined();
    expect(readPromptPreview(anthropic.endpoint("POST", "/v1/messages/count_tokens"), JSON.stringify({ messages: [{ role: "user", content: "hi" }] }))).toBeUndefined();
    expect(readPromptPreview(chat, JSON.stringify({ messages: [{ role: "assistant", content: "hello" }] }))).toBeUndefined();
  });
});
