import { loadConfig } from "../../config.ts";
import type { PriceLookup } from "../../pricing/price-book.ts";
import { createRegistry } from "../../providers/registry.ts";
import type { Command } from "../command.ts";

function unpriced(model: string): void {
  console.log(`${model}: no price known — calls to it are recorded with cost_usd NULL (unpriced)`);
  process.exitCode = 1;
}

/**
 * `loupe prices [model] [--provider ID]`: the price Loupe applies to a model and
 * where it comes from; without `--provider`, a JSON array with one such answer
 * per provider that prices it.
 */
export const pricesCommand: Command = {
  name: "prices",
  usage: "prices [model] [--provider ID]",
  summary: "show the prices Loupe applies",
  options: { provider: { type: "string" } },
  takesSettings: true,
  maxPositionals: 1,
  async run({ positionals, values, settings }) {
    const config = loadConfig({ flags: settings });
    const { loadPriceBook } = await import("../../pricing/load-prices.ts");
    const book = loadPriceBook(config.pricesFile);
    const model = positionals[0];
    if (!model) {
      console.log(`price data: ${book.version}${config.pricesFile ? ` (overrides: ${config.pricesFile})` : ""}`);
      console.log("usage: loupe prices <model> [--provider ID]   (ID as in the price data)");
      return;
    }
    const describe = (found: PriceLookup) => ({ model, matched: found.model, provider: found.provider, source: found.source, version: book.version, usd_per_million_tokens: found.prices });
    if (typeof values.provider === "string") {
      // A Loupe provider id (registered or declared in the config file) is looked up under its id in the price data.
      const registry = createRegistry(config.providers);
      const provider = registry.providerById(values.provider);
      const found = book.lookup(provider ? registry.pricingIdOf(provider.id) : values.provider, model);
      if (found) return void console.log(JSON.stringify(describe(found), null, 2));
      if (provider?.freeUnlessPriced) {
        return void console.log(`${model}: no price known for ${provider.id} — its calls are recorded as free (cost_usd 0, cost_source free) unless the price file prices them`);
      }
      return unpriced(model);
    }
    // A call is priced by the provider it goes to: without --provider, every provider that prices the model.
    const found = book.findAll(model);
    if (found.length === 0) return unpriced(model);
    console.log(JSON.stringify(found.map(describe), null, 2));
  },
};
