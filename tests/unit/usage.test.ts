import { describe, expect, test } from "bun:test";
import { anthropic } from "../../src/providers/anthropic.ts";
import { gemini } from "../../src/providers/gemini.ts";
import { openai } from "../../src/providers/openai.ts";
import type { ProviderAdapter } from "../../src/providers/contract.ts";
import { createResponseObserver, type BodyKind } from "../../src/observe/response-observer.ts";
import type { Usage } from "../../src/usage/usage.ts";
import { fixtureText } from "../support/fixtures.ts";

interface Case {
  adapter: ProviderAdapter;
  path: string;
  fixture: string;
  kind: BodyKind;
  usage: Usage | undefined;
  model?: string;
  finish?: string;
}

// Expected values worked out by hand from each fixture and DESIGN.md's usage facts.
const cases: Case[] = [
  { adapter: anthropic, path: "/v1/messages", fixture: "anthropic/messages-nonstream-basic.json", kind: "json", usage: { inputTokens: 2095, outputTokens: 503 } },
  { adapter: anthropic, path: "/v1/messages", fixture: "anthropic/messages-nonstream-cache.CONSTRUCTED.json", kind: "json", usage: { inputTokens: 4096, cacheReadTokens: 1800, cacheWriteTokens: 248, cacheWrite1hTokens: 100, outputTokens: 503 } },
  { adapter: anthropic, path: "/v1/messages", fixture: "anthropic/messages-stream-cache.CONSTRUCTED.sse", kind: "sse", usage: { inputTokens: 4096, cacheReadTokens: 1800, cacheWriteTokens: 248, cacheWrite1hTokens: 100, outputTokens: 503 }, finish: "end_turn" },
  { adapter: anthropic, path: "/v1/messages", fixture: "anthropic/messages-stream-basic.sse", kind: "sse", usage: { inputTokens: 25, outputTokens: 15 }, finish: "end_turn" },
  { adapter: anthropic, path: "/v1/messages", fixture: "anthropic/messages-stream-sdk-basic.sse", kind: "sse", usage: { inputTokens: 11, outputTokens: 6 }, model: "claude-opus-4-8" },
  { adapter: anthropic, path: "/v1/messages", fixture: "anthropic/messages-stream-sdk-tool-use.sse", kind: "sse", usage: { inputTokens: 377, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 65 } },
  { adapter: anthropic, path: "/v1/messages", fixture: "anthropic/messages-stream-sdk-refusal-modern-usage.sse", kind: "sse", usage: { inputTokens: 28, cacheReadTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, outputTokens: 106, reasoningTokens: 67 }, finish: "refusal" },
  { adapter: anthropic, path: "/v1/messages", fixture: "anthropic/messages-stream-thinking.sse", kind: "sse", usage: undefined },
  { adapter: openai, path: "/v1/chat/completions", fixture: "openai/chat-nonstream.json", kind: "json", usage: { inputTokens: 1117, cacheReadTokens: 0, outputTokens: 46, reasoningTokens: 0 } },
  { adapter: openai, path: "/v1/chat/completions", fixture: "openai/chat-stream-include-usage-modern.CONSTRUCTED.sse", kind: "sse", usage: { inputTokens: 2006, cacheReadTokens: 1920, outputTokens: 300, reasoningTokens: 0 }, finish: "stop" },
  { adapter: openai, path: "/v1/chat/completions", fixture: "azure/chat-stream-include-usage-2026.observed.sse", kind: "sse", usage: { inputTokens: 23, cacheReadTokens: 0, outputTokens: 11, reasoningTokens: 0 }, model: "gpt-5.4-mini-2026-03-17" },
  { adapter: openai, path: "/v1/responses", fixture: "openai/responses-nonstream.json", kind: "json", usage: { inputTokens: 36, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 87, reasoningTokens: 0 } },
  { adapter: openai, path: "/v1/responses", fixture: "openai/responses-stream-modern.CONSTRUCTED.sse", kind: "sse", usage: { inputTokens: 37, cacheReadTokens: 0, outputTokens: 11, reasoningTokens: 0 } },
  { adapter: openai, path: "/v1/responses", fixture: "openai/responses-stream.openai-node-synthetic.sse", kind: "sse", usage: { inputTokens: 10, cacheReadTokens: 0, outputTokens: 2, reasoningTokens: 0 } },
  { adapter: gemini, path: "/v1beta/models/gemini-2.5-flash:generateContent", fixture: "gemini/generateContent-2.5-flash-cache-thoughts.js-genai-recording.json", kind: "json", usage: { inputTokens: 5, cacheReadTokens: 3, outputTokens: 279, reasoningTokens: 41 }, finish: "STOP" },
  { adapter: gemini, path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent", fixture: "gemini/streamGenerateContent-2.5-flash-thoughts.js-genai-recording.sse", kind: "sse", usage: { inputTokens: 20, outputTokens: 513, reasoningTokens: 260 }, finish: "STOP" },
  { adapter: gemini, path: "/v1beta/models/gemini-2.0-flash:streamGenerateContent", fixture: "gemini/streamGenerateContent-2.0-flash.js-genai-recording.sse", kind: "sse", usage: { inputTokens: 6, outputTokens: 377 } },
  { adapter: gemini, path: "/v1beta/models/gemini-2.5-flash-preview-05-20:streamGenerateContent", fixture: "gemini/streamGenerateContent-curl-output.simonw-llm-gemini-97.sse", kind: "sse", usage: { inputTokens: 5, outputTokens: 230, reasoningTokens: 186 }, model: "gemini-2.5-flash-preview-05-20" },
];

function observe(c: Case, chunkSize: number) {
  const endpoint = c.adapter.endpoint("POST", c.path);
  const observer = createResponseObserver({ endpoint, kind: c.kind, encoding: null, captureBytes: 0 });
  const bytes = new TextEncoder().encode(fixtureText(c.fixture));
  for (let i = 0; i < bytes.length; i += chunkSize) observer.feed(bytes.subarray(i, i + chunkSize));
  return observer.finish();
}

const defined = (usage: Usage | undefined) => usage && Object.fromEntries(Object.entries(usage).filter(([, v]) => v !== undefined));

describe("usage extraction over every fixture, whatever the chunking", () => {
  for (const c of cases) {
    test(`${c.fixture}`, () => {
      const whole = observe(c, 1 << 20);
      expect(whole.problems).toEqual([]);
      expect(defined(whole.facts.usage) ?? undefined).toEqual(c.usage && defined(c.usage));
      if (c.model) expect(whole.facts.responseModel).toBe(c.model);
      if (c.finish) expect(whole.facts.finishReason).toBe(c.finish);
      // Split into 7-byte chunks (CRLFs and UTF-8 cut in half): the same facts.
      expect(observe(c, 7).facts).toEqual(whole.facts);
    });
  }

  test("Anthropic message_delta overwrites message_start counts, never adds", () => {
    const c = cases[2]!;
    expect(observe(c, 64).facts.usage?.outputTokens).toBe(503); // not 1 + 503
  });

  test("an in-stream error event is reported", () => {
    const facts = observe({ adapter: anthropic, path: "/v1/messages", fixture: "anthropic/error-stream-overloaded.sse", kind: "sse", usage: undefined }, 5).facts;
    expect(facts).toMatchObject({ errorType: "overloaded_error", errorMessage: "Overloaded" });
  });

  test("compressed bodies are decoded on the side", () => {
    const endpoint = openai.endpoint("POST", "/v1/chat/completions");
    const observer = createResponseObserver({ endpoint, kind: "json", encoding: "gzip", captureBytes: 0 });
    observer.feed(Bun.gzipSync(new TextEncoder().encode(fixtureText("openai/chat-nonstream.json"))));
    expect(observer.finish().facts.usage?.inputTokens).toBe(1117);
  });
});
