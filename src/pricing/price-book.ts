import { calcPrice, updatePrices, type Provider } from "@pydantic/genai-prices";
import { z } from "zod";
import type { Usage } from "../usage/usage.ts";
import { computeCostNano, usdToNano, type ModelPrices } from "./compute-cost.ts";

/** Where a record's cost came from; `undefined` cost means unpriced. */
export type CostSource = "provider" | "override" | "genai-prices" | "free";

export interface Cost {
  nano?: bigint | undefined;
  source?: CostSource | undefined;
  /** The price data that produced it, e.g. `genai-prices@0.1.8`. */
  priceVersion?: string | undefined;
  /** The model id in the price data that matched. */
  pricedAs?: string | undefined;
}

export interface PriceQuery {
  provider: string;
  model: string | undefined;
  usage: Usage | undefined;
  at: Date;
}

export interface PriceBook {
  readonly version: string;
  price(query: PriceQuery): Cost;
  /** The prices that apply to a model now (or at `at`: the price a call made then was given), for `loupe prices` and the API. */
  lookup(provider: string | undefined, model: string, options?: { at?: Date | undefined }): PriceLookup | undefined;
  /**
   * Every provider whose prices cover a model now, for `loupe prices <model>`
   * without `--provider`: the provider matched by the model's name first. An
   * override without a provider covers them all and is listed once, as `*`.
   */
  findAll(model: string): PriceLookup[];
}

export interface PriceLookup {
  provider: string;
  model: string;
  source: "override" | "genai-prices";
  prices: ModelPrices;
}

export interface PriceSnapshot {
  version: string;
  providers: unknown[];
}

const tokenPrice = z.union([
  z.number().nonnegative(),
  z.object({ base: z.number().nonnegative(), tiers: z.array(z.object({ start: z.number(), price: z.number() })) }),
]);

const overridePrices = z.strictObject({
  input_mtok: tokenPrice.optional(),
  cache_read_mtok: tokenPrice.optional(),
  cache_write_mtok: tokenPrice.optional(),
  cache_write_1h_mtok: tokenPrice.optional(),
  output_mtok: tokenPrice.optional(),
  output_reasoning_mtok: tokenPrice.optional(),
  requests_kcount: z.number().nonnegative().optional(),
});

/**
 * The operator's price file (`LOUPE_PRICES_FILE`). A `model` ending in `*`
 * matches by prefix; `provider` narrows it to one provider.
 */
export const priceOverridesSchema = z.strictObject({
  models: z.array(
    z.strictObject({
      provider: z.string().optional(),
      model: z.string().min(1),
      prices: overridePrices,
    }),
  ),
});
export type PriceOverrides = z.infer<typeof priceOverridesSchema>;

function matchesModel(pattern: string, model: string): boolean {
  const m = model.toLowerCase();
  const p = pattern.toLowerCase();
  return p.endsWith("*") ? m.startsWith(p.slice(0, -1)) : m === p;
}

/** Builds the price book from the snapshot and optional operator overrides. */
export function createPriceBook(snapshot: PriceSnapshot, overrides?: PriceOverrides): PriceBook {
  // genai-prices keeps its data in module state; point it at our snapshot.
  updatePrices(({ setProviderData }) => setProviderData(snapshot.providers as Provider[]));
  const snapshotVersion = `genai-prices@${snapshot.version}`;
  const overrideVersion = overrides ? `override+${snapshotVersion}` : snapshotVersion;

  function findOverride(provider: string | undefined, model: string) {
    // Exact patterns first, then the longest prefix.
    const candidates = (overrides?.models ?? []).filter(
      (o) => (o.provider === undefined || o.provider === provider) && matchesModel(o.model, model),
    );
    return candidates.sort((a, b) => Number(a.model.endsWith("*")) - Number(b.model.endsWith("*")) || b.model.length - a.model.length)[0];
  }

  // Resolving a model walks the provider's match rules; the answer only changes
  // with the clock (dated or time-of-day prices), so it is kept per minute.
  const cache = new Map<string, PriceLookup | undefined>();
  function lookupAt(provider: string | undefined, model: string, at: Date): PriceLookup | undefined {
    const key = `${provider ?? ""}\u0000${model}\u0000${Math.floor(at.getTime() / 60_000)}`;
    if (cache.has(key)) return cache.get(key);
    if (cache.size > 10_000) cache.clear();
    const found = resolve(provider, model, at);
    cache.set(key, found);
    return found;
  }

  function resolve(provider: string | undefined, model: string, at: Date): PriceLookup | undefined {
    const override = findOverride(provider, model);
    if (override) return { provider: provider ?? override.provider ?? "*", model: override.model, source: "override", prices: override.prices };
    try {
      const options = provider ? { providerId: provider, timestamp: at } : { timestamp: at };
      const result = calcPrice({}, model, options);
      if (!result) return undefined;
      return { provider: result.provider.id, model: result.model.id, source: "genai-prices", prices: result.model_price as ModelPrices };
    } catch {
      return undefined;
    }
  }

  const providerIds = new Set([
    ...(snapshot.providers as Provider[]).map((p) => p.id),
    ...(overrides?.models ?? []).flatMap((o) => (o.provider === undefined ? [] : [o.provider])),
  ]);

  function findAll(model: string): PriceLookup[] {
    const at = new Date();
    const everywhere = findOverride(undefined, model);
    const found = [...providerIds].flatMap((id) => {
      const hit = lookupAt(id, model, at);
      return hit && !(everywhere && findOverride(id, model) === everywhere) ? [hit] : [];
    });
    // The provider matched by the model's name (what `lookup` without a provider gives) first.
    const byName = lookupAt(undefined, model, at)?.provider;
    found.sort((a, b) => Number(b.provider === byName) - Number(a.provider === byName));
    return everywhere ? [{ provider: "*", model: everywhere.model, source: "override", prices: everywhere.prices }, ...found] : found;
  }

  return {
    version: overrideVersion,
    lookup: (provider, model, options) => lookupAt(provider, model, options?.at ?? new Date()),
    findAll,
    price({ provider, model, usage, at }) {
      if (usage?.providerCostUsd !== undefined) {
        return { nano: usdToNano(usage.providerCostUsd), source: "provider" };
      }
      if (!model || !usage) return {};
      const found = lookupAt(provider, model, at);
      if (!found) return {};
      return {
        nano: computeCostNano(usage, found.prices),
        source: found.source,
        priceVersion: found.source === "override" ? overrideVersion : snapshotVersion,
        pricedAs: found.model,
      };
    },
  };
}
