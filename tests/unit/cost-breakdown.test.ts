import { describe, expect, test } from "bun:test";
import { breakdownCostNano, computeCostNano, formatNanoUsd, type ModelPrices, type TokenPrice } from "../../src/pricing/compute-cost.ts";
import type { Usage } from "../../src/usage/usage.ts";

const sonnet45: ModelPrices = {
  input_mtok: { base: 3, tiers: [{ start: 200_000, price: 6 }] },
  cache_write_mtok: { base: 3.75, tiers: [{ start: 200_000, price: 7.5 }] },
  cache_read_mtok: { base: 0.3, tiers: [{ start: 200_000, price: 0.6 }] },
  output_mtok: { base: 15, tiers: [{ start: 200_000, price: 22.5 }] },
  cache_write_1h_mtok: { base: 6, tiers: [{ start: 200_000, price: 12 }] },
};

/** An independent cost formula (the one computeCostNano used before it summed components), to check the split against. */
function referenceNano(usage: Usage, prices: ModelPrices): bigint {
  const tier = (price: TokenPrice, totalInput: number) => {
    if (typeof price === "number") return price;
    let usd = price.base;
    for (const t of price.tiers) if (totalInput > t.start) usd = t.price;
    return usd;
  };
  const cost = (tokens: number, price: TokenPrice | undefined, totalInput: number) =>
    !tokens || price === undefined ? 0n : (BigInt(tokens) * BigInt(Math.round(tier(price, totalInput) * 1e9)) + 500_000n) / 1_000_000n;
  const input = usage.inputTokens ?? 0;
  const read = usage.cacheReadTokens ?? 0;
  const write = usage.cacheWriteTokens ?? 0;
  const write1h = prices.cache_write_1h_mtok === undefined ? 0 : Math.min(usage.cacheWrite1hTokens ?? 0, write);
  const output = usage.outputTokens ?? 0;
  const reasoning = prices.output_reasoning_mtok === undefined ? 0 : Math.min(usage.reasoningTokens ?? 0, output);
  return (
    cost(Math.max(0, input - read - write), prices.input_mtok, input) +
    cost(read, prices.cache_read_mtok ?? prices.input_mtok, input) +
    cost(write - write1h, prices.cache_write_mtok ?? prices.input_mtok, input) +
    cost(write1h, prices.cache_write_1h_mtok, input) +
    cost(output - reasoning, prices.output_mtok, input) +
    cost(reasoning, prices.output_reasoning_mtok, input) +
    (prices.requests_kcount === undefined ? 0n : BigInt(Math.round(prices.requests_kcount * 1e6)))
  );
}

describe("cost breakdown", () => {
  test("names each part with the tier price it used", () => {
    const usage = { inputTokens: 4096, cacheReadTokens: 1800, cacheWriteTokens: 248, cacheWrite1hTokens: 100, outputTokens: 503 };
    const parts = breakdownCostNano(usage, sonnet45).map((c) => [c.kind, c.tokens, c.usdPerMtok, formatNanoUsd(c.nano)]);
    expect(parts).toEqual([
      ["input", 2048, 3, "0.006144000"],
      ["cache_read", 1800, 0.3, "0.000540000"],
      ["cache_write_5m", 148, 3.75, "0.000555000"],
      ["cache_write_1h", 100, 6, "0.000600000"],
      ["output", 503, 15, "0.007545000"],
    ]);
    expect(formatNanoUsd(computeCostNano(usage, sonnet45))).toBe("0.015384000");
    // Past 200k input every kind takes its long-context tier.
    expect(breakdownCostNano({ inputTokens: 250_000, outputTokens: 10 }, sonnet45).map((c) => c.usdPerMtok)).toEqual([6, 22.5]);
  });

  test("reasoning apart only when priced apart; a per-request fee; a kind without a price costs 0", () => {
    expect(breakdownCostNano({ outputTokens: 100, reasoningTokens: 60 }, { output_mtok: 10 }).map((c) => c.kind)).toEqual(["output"]);
    expect(breakdownCostNano({ outputTokens: 100, reasoningTokens: 60 }, { output_mtok: 10, output_reasoning_mtok: 20 }).map((c) => [c.kind, c.tokens, c.nano])).toEqual([
      ["output", 40, 400_000n],
      ["reasoning", 60, 1_200_000n],
    ]);
    expect(breakdownCostNano({ inputTokens: 10 }, { input_mtok: 1, requests_kcount: 5 }).at(-1)).toEqual({ kind: "requests", tokens: 1, usdPerMtok: null, nano: 5_000_000n });
    expect(breakdownCostNano({ outputTokens: 10 }, { input_mtok: 1 })).toEqual([{ kind: "output", tokens: 10, usdPerMtok: null, nano: 0n }]);
  });

  test("the components always sum to the cost, and the cost matches an independent formula (5,000 random usages)", () => {
    let state = 7;
    const rand = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const maybe = (n: number) => (rand() < 0.2 ? undefined : Math.floor(rand() * n));
    const price = (): TokenPrice | undefined => (rand() < 0.2 ? undefined : rand() < 0.3 ? { base: Math.round(rand() * 1e6) / 1e5, tiers: [{ start: 100_000, price: Math.round(rand() * 1e6) / 1e5 }] } : Math.round(rand() * 1e9) / 1e8);
    for (let i = 0; i < 5000; i++) {
      const input = maybe(400_000);
      const usage: Usage = { inputTokens: input, cacheReadTokens: input === undefined ? maybe(1000) : maybe(input / 2), cacheWriteTokens: maybe(50_000), cacheWrite1hTokens: maybe(60_000), outputTokens: maybe(20_000), reasoningTokens: maybe(30_000) };
      const prices: ModelPrices = { input_mtok: price(), cache_read_mtok: price(), cache_write_mtok: price(), cache_write_1h_mtok: price(), output_mtok: price(), output_reasoning_mtok: price(), requests_kcount: rand() < 0.1 ? Math.round(rand() * 1e4) / 1e3 : undefined };
      const components = breakdownCostNano(usage, prices);
      const sum = components.reduce((a, c) => a + c.nano, 0n);
      expect(computeCostNano(usage, prices)).toBe(sum);
      expect(sum).toBe(referenceNano(usage, prices));
      for (const c of components) expect(c.tokens).toBeGreaterThan(0);
    }
  });
});
