import { describe, expect, test } from "bun:test";
import { usdToNano } from "../../src/pricing/compute-cost.ts";
import { perplexity } from "../../src/providers/perplexity.ts";
import { together } from "../../src/providers/together.ts";
import { ticksToUsd, xai } from "../../src/providers/xai.ts";
import type { Provider } from "../../src/providers/contract.ts";

/**
 * Where OpenAI-compatible providers' usage departs from OpenAI's, beyond what
 * their recorded fixtures show (tests/contract walks those): the arithmetic
 * of xAI ticks, and usage fields no capture holds.
 */

const usageOf = (provider: Provider, path: string, usage: Record<string, unknown>) => provider.endpoint("POST", path)!.readResponse!({ usage }).usage;

describe("xAI ticks (1e-10 USD) become whole nano-USD exactly", () => {
  test.each([
    [0, 0n],
    [4, 0n],
    [5, 1n],
    [14, 1n],
    [15, 2n],
    [1_724_000, 172_400n],
    [3_080_400, 308_040n],
    [318_319_000, 31_831_900n],
    [Number.MAX_SAFE_INTEGER, 900_719_925_474_099n],
  ])("%d ticks are %d nano-USD, rounded once, half up", (ticks, nano) => {
    expect(usdToNano(ticksToUsd(ticks)!)).toBe(nano);
  });

  test("the USD number carries the integer through the price book's conversion, at every magnitude", () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed / 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      const ticks = Math.floor(random() * 10 ** (1 + Math.floor(random() * 15)));
      const exact = (BigInt(ticks) + 5n) / 10n;
      expect({ ticks, nano: usdToNano(ticksToUsd(ticks)!) }).toEqual({ ticks, nano: exact });
    }
  });

  test.each([[-10], [1.5], [2 ** 53], ["100"], [null]])("%p is no charge", (ticks) => {
    expect(ticksToUsd(ticks)).toBeUndefined();
  });
});

describe("xAI output tokens", () => {
  test("chat: reasoning is outside completion_tokens, so it is added", () => {
    expect(usageOf(xai, "/v1/chat/completions", { prompt_tokens: 10, completion_tokens: 3, completion_tokens_details: { reasoning_tokens: 7 } })).toMatchObject({ outputTokens: 10, reasoningTokens: 7 });
  });
  test("chat without reasoning details: completion_tokens as they are", () => {
    expect(usageOf(xai, "/v1/chat/completions", { prompt_tokens: 10, completion_tokens: 3 })).toMatchObject({ outputTokens: 3, reasoningTokens: undefined });
  });
  test("Responses: output_tokens already include reasoning", () => {
    expect(usageOf(xai, "/v1/responses", { input_tokens: 10, output_tokens: 9, output_tokens_details: { reasoning_tokens: 7 } })).toMatchObject({ outputTokens: 9, reasoningTokens: 7 });
  });
});

describe("Perplexity usage", () => {
  test("Sonar reasoning_tokens are billed apart from completion_tokens: output is both", () => {
    const usage = usageOf(perplexity, "/chat/completions", { prompt_tokens: 20, completion_tokens: 300, reasoning_tokens: 7000, citation_tokens: 900, num_search_queries: 3, cost: { total_cost: 0.0917 } });
    expect(usage).toEqual({ inputTokens: 20, cacheReadTokens: undefined, cacheWriteTokens: undefined, outputTokens: 7300, reasoningTokens: 7000, providerCostUsd: 0.0917 });
  });
  test("a cost that is not a non-negative number is no charge", () => {
    for (const total_cost of ["0.1", -1, null, Number.NaN]) expect(usageOf(perplexity, "/chat/completions", { prompt_tokens: 1, completion_tokens: 1, cost: { total_cost } })?.providerCostUsd).toBeUndefined();
  });
  test("Agent API cache writes under Anthropic's name", () => {
    expect(usageOf(perplexity, "/v1/responses", { input_tokens: 100, input_tokens_details: { cache_creation_input_tokens: 60 }, output_tokens: 5 })).toMatchObject({ inputTokens: 100, cacheWriteTokens: 60 });
  });
});

describe("Together usage", () => {
  test("top-level cached_tokens are cache reads, unless OpenAI's details say otherwise", () => {
    expect(usageOf(together, "/v1/chat/completions", { prompt_tokens: 100, completion_tokens: 5, cached_tokens: 64 })?.cacheReadTokens).toBe(64);
    expect(usageOf(together, "/v1/chat/completions", { prompt_tokens: 100, completion_tokens: 5, cached_tokens: 64, prompt_tokens_details: { cached_tokens: 32 } })?.cacheReadTokens).toBe(32);
  });
});
