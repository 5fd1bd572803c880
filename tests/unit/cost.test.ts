import { describe, expect, test } from "bun:test";
import { computeCostNano, formatNanoUsd } from "../../src/pricing/compute-cost.ts";
import { loadPriceBook } from "../../src/pricing/load-prices.ts";
import { createPriceBook } from "../../src/pricing/price-book.ts";
import { tempDir } from "../support/gateway.ts";
import snapshot from "../../pricing/genai-prices.json" with { type: "json" };

const sonnet45 = {
  input_mtok: { base: 3, tiers: [{ start: 200_000, price: 6 }] },
  cache_write_mtok: { base: 3.75, tiers: [{ start: 200_000, price: 7.5 }] },
  cache_read_mtok: { base: 0.3, tiers: [{ start: 200_000, price: 0.6 }] },
  output_mtok: { base: 15, tiers: [{ start: 200_000, price: 22.5 }] },
  cache_write_1h_mtok: { base: 6, tiers: [{ start: 200_000, price: 12 }] },
};

describe("exact cost in nano-USD", () => {
  test("cache read, 5-minute and 1-hour writes each at their own price", () => {
    const usage = { inputTokens: 4096, cacheReadTokens: 1800, cacheWriteTokens: 248, cacheWrite1hTokens: 100, outputTokens: 503 };
    // 2048×3 + 1800×0.3 + 148×3.75 + 100×6 + 503×15 = 15384 µUSD
    expect(formatNanoUsd(computeCostNano(usage, sonnet45))).toBe("0.015384000");
  });

  test("past a tier's start every token takes the tier price", () => {
    const usage = { inputTokens: 250_000, outputTokens: 1000 };
    // 250000×6 + 1000×22.5 per million
    expect(formatNanoUsd(computeCostNano(usage, sonnet45))).toBe("1.522500000");
  });

  test("no float drift: 0.1 + 0.2 style prices sum exactly", () => {
    const prices = { input_mtok: 0.1, output_mtok: 0.2 };
    expect(formatNanoUsd(computeCostNano({ inputTokens: 3_000_000, outputTokens: 3_000_000 }, prices))).toBe("0.900000000");
    expect(formatNanoUsd(computeCostNano({ inputTokens: 1, outputTokens: 1 }, { input_mtok: 0.075, output_mtok: 0.3 }))).toBe("0.000000375");
  });

  test("a cache read without its own price is charged as input", () => {
    expect(computeCostNano({ inputTokens: 100, cacheReadTokens: 40 }, { input_mtok: 1 })).toBe(100_000n);
  });

  test("reasoning is output unless priced apart", () => {
    expect(computeCostNano({ outputTokens: 100, reasoningTokens: 60 }, { output_mtok: 10 })).toBe(1_000_000n);
    expect(computeCostNano({ outputTokens: 100, reasoningTokens: 60 }, { output_mtok: 10, output_reasoning_mtok: 20 })).toBe(1_600_000n);
  });
});

describe("price book", () => {
  const book = loadPriceBook(undefined);
  const at = new Date("2026-11-01T00:00:00Z");

  test("resolves dated model ids through the snapshot and records its version", () => {
    const cost = book.price({ provider: "anthropic", model: "claude-sonnet-4-5-20250929", usage: { inputTokens: 100_000, outputTokens: 0 }, at });
    expect(cost).toMatchObject({ nano: 300_000_000n, source: "genai-prices", priceVersion: `genai-prices@${snapshot.version}`, pricedAs: "claude-sonnet-4-5" });
  });

  test("unknown model: no cost at all, never 0", () => {
    expect(book.price({ provider: "openai", model: "gpt-internal-9000", usage: { inputTokens: 10, outputTokens: 10 }, at })).toEqual({});
  });

  test("a provider-reported cost wins (OpenRouter usage.cost)", () => {
    expect(book.price({ provider: "openrouter", model: "x", usage: { inputTokens: 10, providerCostUsd: 0.00123 }, at })).toMatchObject({ nano: 1_230_000n, source: "provider" });
  });

  test("operator overrides win and can price unknown models", async () => {
    const file = `${tempDir()}/prices.json`;
    await Bun.write(file, JSON.stringify({ models: [{ provider: "openai", model: "gpt-internal-*", prices: { input_mtok: 1, output_mtok: 2 } }, { model: "gpt-4o", prices: { input_mtok: 100 } }] }));
    const custom = loadPriceBook(file);
    expect(custom.price({ provider: "openai", model: "gpt-internal-9000", usage: { inputTokens: 1_000_000, outputTokens: 1_000_000 }, at })).toMatchObject({ nano: 3_000_000_000n, source: "override" });
    expect(custom.price({ provider: "openai", model: "gpt-4o", usage: { inputTokens: 1_000_000 }, at }).nano).toBe(100_000_000_000n);
    // gpt-4o-mini is not gpt-4o: exact match only without a trailing *
    expect(custom.price({ provider: "openai", model: "gpt-4o-mini", usage: { inputTokens: 1_000_000 }, at }).source).toBe("genai-prices");
  });

  test("a bad override file is refused with the field at fault", async () => {
    const file = `${tempDir()}/prices.json`;
    await Bun.write(file, JSON.stringify({ models: [{ model: "m", prices: { input_mtok: -1 } }] }));
    expect(() => loadPriceBook(file)).toThrow(/models\.0\.prices\.input_mtok/);
  });

  test("the snapshot and genai-prices agree on a plain case", () => {
    const own = createPriceBook({ version: snapshot.version, providers: snapshot.providers });
    const cost = own.price({ provider: "google", model: "gemini-2.5-flash", usage: { inputTokens: 20, outputTokens: 513 }, at });
    expect(formatNanoUsd(cost.nano!)).toBe("0.001288500");
  });
});
