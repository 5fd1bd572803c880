import { describe, expect, test } from "bun:test";
import { removeUsageChunk } from "../../src/providers/openai-wire.ts";
import { createSseRewriter } from "../../src/observe/sse-rewriter.ts";
import { fixtureText } from "../support/fixtures.ts";

function rewrite(text: string, chunkSize: number): string {
  const rewriter = createSseRewriter(removeUsageChunk);
  const bytes = new TextEncoder().encode(text);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) out.push(rewriter.push(bytes.subarray(i, i + chunkSize)));
  out.push(rewriter.end());
  return new TextDecoder().decode(Buffer.concat(out));
}

/** What OpenAI sends without include_usage, derived independently: parse, delete `usage`, re-serialise. */
function expected(text: string): string {
  return text
    .split(/(?<=\n\n)/)
    .flatMap((event) => {
      const data = /^data: (\{.*)$/m.exec(event)?.[1];
      if (!data) return [event];
      const chunk = JSON.parse(data);
      if (chunk.choices.length === 0 && chunk.usage) return [];
      delete chunk.usage;
      return [event.replace(data, JSON.stringify(chunk))];
    })
    .join("");
}

describe("removing the usage Loupe asked for", () => {
  for (const fixture of ["openai/chat-stream-include-usage-modern.CONSTRUCTED.sse", "openai/chat-stream-include-usage.openai-node-recording.sse"]) {
    for (const size of [1, 3, 64, 100_000]) {
      test(`${fixture} in ${size}-byte chunks`, () => {
        const text = fixtureText(fixture);
        const out = rewrite(text, size);
        expect(out).toBe(expected(text));
        expect(out).not.toContain('"usage"');
        expect(out).toEndWith("data: [DONE]\n\n");
      });
    }
  }

  test("content mentioning usage is left alone", () => {
    const event = 'data: {"choices":[{"delta":{"content":"\\"usage\\":null, choices:[]"}}],"usage":null}\n\n';
    expect(rewrite(event, 5)).toBe('data: {"choices":[{"delta":{"content":"\\"usage\\":null, choices:[]"}}]}\n\n');
  });
});
