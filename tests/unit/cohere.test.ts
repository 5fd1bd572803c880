import { describe, expect, test } from "bun:test";
import { cohere, convertCohereUsage } from "../../src/providers/cohere.ts";

/** Cohere v2 chat: billed units are the usage; its stream's last word is message-end. */

const chat = cohere.endpoint("POST", "/v2/chat")!;

describe("usage", () => {
  test("billed units, not the model's token counts; cached tokens stay in the raw usage only", () => {
    expect(convertCohereUsage({ billed_units: { input_tokens: 50, output_tokens: 26 }, tokens: { input_tokens: 793, output_tokens: 61 }, cached_tokens: 176 })).toEqual({ inputTokens: 50, outputTokens: 26 });
  });

  test("without billed units, the token counts; without either, none", () => {
    expect(convertCohereUsage({ tokens: { input_tokens: 893, output_tokens: 62 } })).toEqual({ inputTokens: 893, outputTokens: 62 });
    expect(convertCohereUsage({})).toBeUndefined();
    expect(convertCohereUsage(null)).toBeUndefined();
  });
});

describe("stream reader", () => {
  const read = (...events: unknown[]) => {
    const reader = chat.createStreamReader!();
    for (const event of events) reader.onEvent(typeof event === "string" ? event : JSON.stringify(event), undefined);
    return reader.result();
  };

  test("the id from message-start, usage and finish reason from message-end; a [DONE] terminator is no event", () => {
    expect(
      read(
        { type: "message-start", id: "29f14a5a", delta: { message: { role: "assistant" } } },
        { type: "content-delta", index: 0, delta: { message: { content: { text: "Hi" } } } },
        { type: "message-end", delta: { finish_reason: "COMPLETE", usage: { billed_units: { input_tokens: 5, output_tokens: 2 } } } },
        "[DONE]",
      ),
    ).toEqual({ responseId: "29f14a5a", finishReason: "COMPLETE", usage: { inputTokens: 5, outputTokens: 2 }, usageRaw: { billed_units: { input_tokens: 5, output_tokens: 2 } } });
  });

  test("a generation that failed midway says so in message-end", () => {
    expect(read({ type: "message-end", delta: { finish_reason: "ERROR", error: "internal error during generation" } })).toEqual({
      finishReason: "ERROR",
      errorType: "stream_error",
      errorMessage: "internal error during generation",
    });
  });

  test("a stream cut before message-end has no usage (NULL, not 0)", () => {
    expect(read({ type: "message-start", id: "x" }, { type: "content-delta", index: 0 }).usage).toBeUndefined();
  });
});

describe("request and routes", () => {
  test("model, stream flag and parameters under their semconv names", () => {
    expect(chat.readRequest!({ model: "command-a-03-2025", stream: true, max_tokens: 100, temperature: 0.3, p: 0.9, k: 40, stop_sequences: ["END"], messages: [] })).toEqual({
      model: "command-a-03-2025",
      streamed: true,
      params: { max_tokens: 100, temperature: 0.3, top_p: 0.9, top_k: 40, stop_sequences: ["END"] },
    });
  });

  test("an error body's message is the record's error message", () => {
    expect(chat.readResponse!({ message: "invalid request: message must not be empty" })).toMatchObject({ errorMessage: "invalid request: message must not be empty", usage: undefined });
  });

  test("only v2 chat is a known endpoint; the rest are forwarded and recorded without usage", () => {
    expect(cohere.endpoint("POST", "/v1/chat")).toBeUndefined();
    expect(cohere.endpoint("POST", "/v2/embed")).toBeUndefined();
    expect(cohere.endpoint("GET", "/v2/chat")).toBeUndefined();
  });
});
