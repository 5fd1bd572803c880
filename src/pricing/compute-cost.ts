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

/** The kinds of charge a call's cost is made of, in the order they are listed. */
export type CostKind = "input" | "cache_read" | "cache_write_5m" | "cache_write_1h" | "output" | "reasoning" | "requests";

/** One part of a call's cost: `tokens` at `usdPerMtok` (the tier used; null when nothing priced them), or the per-request fee. */
export interface CostComponent {
  kind: CostKind;
  /** Tokens of this kind; for `requests`, the call itself (1). */
  tokens: number;
  usdPerMtok: number | null;
  nano: bigint;
}

/**
 * The price per million tokens in USD, after picking the tier: a tier applies
 * when the call's input exceeds its start, and then prices every token of
 * that kind (Anthropic/Gemini long-context pricing).
 */
function usdPerMtok(price: TokenPrice, totalInput: number): number {
  let usd = typeof price === "number" ? price : price.base;
  if (typeof price !== "number") for (const tier of price.tiers) if (totalInput > tier.start) usd = tier.price;
  return usd;
}

function tokensComponent(kind: CostKind, tokens: number, price: TokenPrice | undefined, totalInput: number): CostComponent {
  if (price === undefined) return { kind, tokens, usdPerMtok: null, nano: 0n };
  const usd = usdPerMtok(price, totalInput);
  // Prices carry at most 9 decimals; rounding here removes float noise (0.3 * 1e9).
  const product = BigInt(tokens) * BigInt(Math.round(usd * 1e9));
  return { kind, tokens, usdPerMtok: usd, nano: (product + TOKENS_PER_MTOK / 2n) / TOKENS_PER_MTOK }; // one round, half up
}

/**
 * A call's cost, part by part. Input is split into uncached, cache read and
 * cache write (5-minute and 1-hour); a part without its own price is charged
 * at the input price, as genai-prices does. Reasoning tokens are output unless
 * the model prices them apart. Only kinds the call used are listed (and the
 * per-request fee when the model has one).
 */
export function breakdownCostNano(usage: Usage, prices: ModelPrices): CostComponent[] {
  const input = usage.inputTokens ?? 0;
  const cacheRead = usage.cacheReadTokens ?? 0;
  const cacheWrite = usage.cacheWriteTokens ?? 0;
  const write1h = prices.cache_write_1h_mtok === undefined ? 0 : Math.min(usage.cacheWrite1hTokens ?? 0, cacheWrite);
  const uncached = Math.max(0, input - cacheRead - cacheWrite);
  const output = usage.outputTokens ?? 0;
  const reasoning = prices.output_reasoning_mtok === undefined ? 0 : Math.min(usage.reasoningTokens ?? 0, output);
  const inputPrice = prices.input_mtok;
  const parts: [CostKind, number, TokenPrice | undefined][] = [
    ["input", uncached, inputPrice],
    ["cache_read", cacheRead, prices.cache_read_mtok ?? inputPrice],
    ["cache_write_5m", cacheWrite - write1h, prices.cache_write_mtok ?? inputPrice],
    ["cache_write_1h", write1h, prices.cache_write_1h_mtok],
    ["output", output - reasoning, prices.output_mtok],
    ["reasoning", reasoning, prices.output_reasoning_mtok],
  ];
  const components: CostComponent[] = [];
  for (const [kind, tokens, price] of parts) if (tokens > 0) components.push(tokensComponent(kind, tokens, price, input));
  if (prices.requests_kcount !== undefined) {
    components.push({ kind: "requests", tokens: 1, usdPerMtok: null, nano: BigInt(Math.round(prices.requests_kcount * 1e6)) });
  }
  return components;
}

/** Exact cost in nano-USD: the sum of the call's components (breakdownCostNano), so the two never disagree. */
export function computeCostNano(usage: Usage, prices: ModelPrices): bigint {
  let nano = 0n;
  for (const component of breakdownCostNano(usage, prices)) nano += component.nano;
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

/** A decimal USD string (`"0.015384000"`, `"-1.5"`) as integer nano-USD, exactly (more than 9 decimals are refused). */
export function parseNanoUsd(usd: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d{1,9}))?$/.exec(usd.trim());
  if (!match) throw new Error(`not a USD amount with at most 9 decimals: ${usd}`);
  const nano = BigInt(match[2]!) * 1_000_000_000n + BigInt((match[3] ?? "").padEnd(9, "0"));
  return match[1] ? -nano : nano;
}
