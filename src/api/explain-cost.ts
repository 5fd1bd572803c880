import { breakdownCostNano, formatNanoUsd, type TokenPrice } from "../pricing/compute-cost.ts";
import type { PriceBook, PriceLookup } from "../pricing/price-book.ts";
import type { Row } from "../sinks/analytics.ts";
import type { Usage } from "../usage/usage.ts";
import type { CostBreakdownSchema, ModelPriceSchema } from "./schemas.ts";
import type { z } from "@hono/zod-openapi";

type CostBreakdown = z.infer<typeof CostBreakdownSchema>;
type ModelPrice = z.infer<typeof ModelPriceSchema>;

export interface PriceDeps {
  priceBook: Pick<PriceBook, "lookup" | "version">;
  /** The provider's id in the price data (registry.pricingIdOf). */
  pricingIdOf(provider: string): string;
}

const count = (value: unknown) => (typeof value === "number" ? value : undefined);

/** A stored timestamp (`2026-11-24 13:21:33.092+00`) as a Date. */
function parseStoredTime(value: string): Date {
  return new Date(value.replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00"));
}

/**
 * How a record's cost was made, retold from the price book the way the
 * recorder priced it (recording/build-record.ts `priceCall`): a provider-reported
 * cost and a free call carry no components; a billable call with tokens is
 * priced as (provider's pricing id, response model else requested model) at
 * the call's start. Null for a call with nothing to price (no cost and not
 * unpriced: not billable, or no usage reported).
 */
export function explainCost(record: Row, deps: PriceDeps): CostBreakdown | null {
  const cost = record.cost_usd as string | null;
  const source = record.cost_source as string | null;
  const base: CostBreakdown = {
    cost_source: source,
    price_version: record.price_version as string | null,
    price_source: null,
    priced_model: null,
    components: [],
    total_usd: null,
    matches_record: false,
    note: null,
  };
  if (source === "provider") return { ...base, note: "the provider reported this cost with its usage (as some routers do); Loupe records it as sent" };
  if (source === "free") {
    return { ...base, total_usd: formatNanoUsd(0n), matches_record: cost === formatNanoUsd(0n), note: "free: the endpoint does not charge, the call failed before any work, or the provider's models are free unless a price covers them" };
  }
  const reportedTokens = record.input_tokens !== null || record.output_tokens !== null;
  if (cost === null && !(record.billable === true && reportedTokens)) return null;

  const model = (record.response_model ?? record.model) as string | null;
  if (model === null) return { ...base, note: "the call names no model to price" };
  const provider = deps.pricingIdOf(record.provider as string);
  const found = deps.priceBook.lookup(provider, model, { at: parseStoredTime(record.started_at as string) });
  if (!found) return { ...base, note: `no price for ${provider} model ${model} in ${deps.priceBook.version}: the call is unpriced (cost NULL, never 0)` };

  const usage: Usage = {
    inputTokens: count(record.input_tokens),
    cacheReadTokens: count(record.cache_read_tokens),
    cacheWriteTokens: count(record.cache_write_tokens),
    cacheWrite1hTokens: count(record.cache_write_1h_tokens),
    outputTokens: count(record.output_tokens),
    reasoningTokens: count(record.reasoning_tokens),
  };
  const components = breakdownCostNano(usage, found.prices);
  const total = formatNanoUsd(components.reduce((sum, c) => sum + c.nano, 0n));
  const matches = total === cost;
  const note =
    cost === null
      ? `recorded without a price; ${deps.priceBook.version} prices it now`
      : matches
        ? null
        : `the record was priced with ${String(base.price_version)}; the price book now (${deps.priceBook.version}) gives another total`;
  return {
    ...base,
    price_source: found.source,
    priced_model: found.model,
    components: components.map((c) => ({ kind: c.kind, tokens: c.tokens, usd_per_mtok: c.usdPerMtok, cost_usd: formatNanoUsd(c.nano) })),
    total_usd: total,
    matches_record: matches,
    note,
  };
}

const baseOf = (price: TokenPrice | undefined) => (price === undefined ? null : typeof price === "number" ? price : price.base);

/** A price book entry as the models breakdown shows it: USD per million tokens, the base tier of tiered prices. */
export function describePrice(found: PriceLookup | undefined): ModelPrice | null {
  if (!found) return null;
  const p = found.prices;
  const kinds = [p.input_mtok, p.cache_read_mtok, p.cache_write_mtok, p.cache_write_1h_mtok, p.output_mtok, p.output_reasoning_mtok];
  return {
    source: found.source,
    priced_model: found.model,
    input_mtok: baseOf(p.input_mtok),
    cache_read_mtok: baseOf(p.cache_read_mtok),
    cache_write_mtok: baseOf(p.cache_write_mtok),
    cache_write_1h_mtok: baseOf(p.cache_write_1h_mtok),
    output_mtok: baseOf(p.output_mtok),
    output_reasoning_mtok: baseOf(p.output_reasoning_mtok),
    tiered: kinds.some((k) => k !== undefined && typeof k !== "number"),
  };
}
