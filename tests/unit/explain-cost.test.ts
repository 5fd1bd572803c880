import { describe, expect, test } from "bun:test";
import { describePrice, explainCost } from "../../src/api/explain-cost.ts";
import { computeCostNano, formatNanoUsd } from "../../src/pricing/compute-cost.ts";
import { loadPriceBook } from "../../src/pricing/load-prices.ts";
import { tempDir } from "../support/gateway.ts";

const book = loadPriceBook(undefined);
const deps = { priceBook: book, pricingIdOf: (id: string) => id };
const at = "2026-11-24 13:21:33.092+00";
const sonnet = book.lookup("anthropic", "claude-sonnet-4-5", { at: new Date("2026-11-24T13:21:33.092Z") })!;
const usage = { inputTokens: 4096, cacheReadTokens: 1800, cacheWriteTokens: 248, outputTokens: 503 };

/** A stored record's columns as the store returns them. */
const record = (fields: Record<string, unknown>) => ({
  provider: "anthropic",
  model: "claude-sonnet-4-5",
  response_model: "claude-sonnet-4-5-20250929",
  started_at: at,
  billable: true,
  input_tokens: 4096,
  cache_read_tokens: 1800,
  cache_write_tokens: 248,
  cache_write_1h_tokens: null,
  output_tokens: 503,
  reasoning_tokens: null,
  cost_usd: formatNanoUsd(computeCostNano(usage, sonnet.prices)),
  cost_source: "genai-prices",
  price_version: book.version,
  ...fields,
});

describe("explainCost retells how the recorder priced a call", () => {
  test("a priced call: its components sum to the recorded cost", () => {
    const breakdown = explainCost(record({}), deps)!;
    expect(breakdown).toMatchObject({ price_source: "genai-prices", priced_model: "claude-sonnet-4-5", matches_record: true, note: null });
    expect(breakdown.components.map((c) => c.kind)).toEqual(["input", "cache_read", "cache_write_5m", "output"]);
    expect(breakdown.total_usd).toBe(record({}).cost_usd);
  });

  test("a cost the price book no longer gives is flagged, not hidden", () => {
    expect(explainCost(record({ cost_usd: "9.000000000" }), deps)).toMatchObject({ matches_record: false, note: expect.stringContaining("another total") });
  });

  test("provider-reported and free costs have no components; unpriced and unknown models say why", () => {
    expect(explainCost(record({ cost_source: "provider", cost_usd: "0.001000000" }), deps)).toMatchObject({ components: [], total_usd: null, note: expect.stringContaining("provider reported") });
    expect(explainCost(record({ cost_source: "free", cost_usd: "0.000000000" }), deps)).toMatchObject({ components: [], total_usd: "0.000000000", matches_record: true });
    expect(explainCost(record({ model: "x-private", response_model: null, cost_usd: null, cost_source: null, price_version: null }), deps)).toMatchObject({
      components: [],
      matches_record: false,
      note: expect.stringContaining("no price for anthropic model x-private"),
    });
  });

  test("a call with nothing to price has no breakdown", () => {
    expect(explainCost(record({ billable: false, cost_usd: null, cost_source: null }), deps)).toBeNull();
    expect(explainCost(record({ input_tokens: null, output_tokens: null, cost_usd: null, cost_source: null }), deps)).toBeNull();
  });

  test("an override prices what the snapshot does not, and the breakdown says so", async () => {
    const file = `${tempDir()}/prices.json`;
    await Bun.write(file, JSON.stringify({ models: [{ provider: "anthropic", model: "x-private*", prices: { input_mtok: 2, output_mtok: { base: 10, tiers: [{ start: 1000, price: 20 }] } } }] }));
    const custom = loadPriceBook(file);
    const breakdown = explainCost(record({ model: "x-private-2", response_model: null, cost_usd: "0.018252000", cost_source: "override" }), { priceBook: custom, pricingIdOf: (id) => id })!;
    // 2048 uncached + 1800 read + 248 written, all at the input price (no prices of their own); 503 output, the input being past the 1000-token tier.
    expect(breakdown.components.map((c) => [c.kind, c.tokens, c.usd_per_mtok, c.cost_usd])).toEqual([
      ["input", 2048, 2, "0.004096000"],
      ["cache_read", 1800, 2, "0.003600000"],
      ["cache_write_5m", 248, 2, "0.000496000"],
      ["output", 503, 20, "0.010060000"],
    ]);
    expect(breakdown).toMatchObject({ price_source: "override", priced_model: "x-private*", total_usd: "0.018252000", matches_record: true });
    expect(describePrice(custom.lookup("anthropic", "x-private-2"))).toEqual({
      source: "override",
      priced_model: "x-private*",
      input_mtok: 2,
      cache_read_mtok: null,
      cache_write_mtok: null,
      cache_write_1h_mtok: null,
      output_mtok: 10,
      output_reasoning_mtok: null,
      tiered: true,
    });
    expect(describePrice(undefined)).toBeNull();
  });
});
