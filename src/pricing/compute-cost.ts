import type { Usage } from "../usage/usage.ts";

/** A price per million tokens, flat or tiered by the call's total input tokens. */
export type TokenPrice = number | { base: number; tiers: readonly { start: number; price: number }[] };

/** The price keys Loupe understands (genai-prices names, USD per million tokens). */
export interface ModelPrices {
  input_mtok?: TokenPrice | undefined;
  cache_read_mtok?: TokenPrice | undefined;
  cache_write_mtok?: TokenPrice | undefined;
  cache_write_1h_mtok?: TokenPrice | undefined;
  output_mtok?: TokenPrice | undefined;
  output_reasoning_mtok?: TokenPrice | undefined;
  requests_kcount?: number | undefined;
}

const NANO_PER_USD = 1_000_000_000n;
const TOKENS_PER_MTOK = 1_000_000n;

/**
 * The price per million tokens in integer nano-USD, after picking the tier:
 * a tier applies when the call's input exceeds its start, and then prices
 * every token of that kind (Anthropic/Gemini long-context pricing).
 */
function nanoPerMtok(price: TokenPrice, totalInput: number): bigint {
  let usd = typeof price === "number" ? price : price.base;
  if (typeof price !== "number") for (const tier of price.tiers) if (totalInput > tier.start) usd = tier.price;
  // Prices carry at most 9 decimals; rounding here removes float noise (0.3 * 1e9).
  return BigInt(Math.round(usd * 1e9));
}

function tokensCost(tokens: number | undefined, price: TokenPrice | undefined, totalInput: number): bigint {
  if (!tokens || price === undefined) return 0n;
  const product = BigInt(tokens) * nanoPerMtok(price, totalInput);
  return (product + TOKENS_PER_MTOK / 2n) / TOKENS_PER_MTOK; // one round, half up
}

/**
 * Exact cost in nano-USD. Input is split into uncached, cache read and cache
 * write (5-minute and 1-hour); a part without its own price is charged at the
 * input price, as genai-prices does. Reasoning tokens are output unless the
 * model prices them apart.
 */
export function computeCostNano(usage: Usage, prices: ModelPrices): bigint {
  const input = usage.inputTokens ?? 0;
  const cacheRead = usage.cacheReadTokens ?? 0;
  const cacheWrite = usage.cacheWriteTokens ?? 0;
  const write1h = prices.cache_write_1h_mtok === undefined ? 0 : Math.min(usage.cacheWrite1hTokens ?? 0, cacheWrite);
  const uncached = Math.max(0, input - cacheRead - cacheWrite);
  const output = usage.outputTokens ?? 0;
  const reasoning = prices.output_reasoning_mtok === undefined ? 0 : Math.min(usage.reasoningTokens ?? 0, output);
  const inputPrice = prices.input_mtok;

  let nano = tokensCost(uncached, inputPrice, input);
  nano += tokensCost(cacheRead, prices.cache_read_mtok ?? inputPrice, input);
  nano += tokensCost(cacheWrite - write1h, prices.cache_write_mtok ?? inputPrice, input);
  nano += tokensCost(write1h, prices.cache_write_1h_mtok, input);
  nano += tokensCost(output - reasoning, prices.output_mtok, input);
  nano += tokensCost(reasoning, prices.output_reasoning_mtok, input);
  if (prices.requests_kcount !== undefined) nano += BigInt(Math.round(prices.requests_kcount * 1e6));
  return nano;
}

/** `123456789n` → `"0.123456789"`: the exact decimal DuckDB stores. */
export function formatNanoUsd(nano: bigint): string {
  const sign = nano < 0n ? "-" : "";
  const abs = nano < 0n ? -nano : nano;
  return `${sign}${abs / NANO_PER_USD}.${(abs % NANO_PER_USD).toString().padStart(9, "0")}`;
}

export function usdToNano(usd: number): bigint {
  return BigInt(Math.round(usd * 1e9));
}
