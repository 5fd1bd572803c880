import { loadConfig } from "../../config.ts";
import { loadPriceBook } from "../../pricing/load-prices.ts";
import type { Command } from "../command.ts";

/** `loupe prices [model] [--provider ID]`: the price Loupe applies to a model, and where it comes from. */
export const pricesCommand: Command = {
  name: "prices",
  usage: "prices [model] [--provider ID]",
  summary: "show the prices Loupe applies",
  options: { provider: { type: "string" } },
  takesSettings: true,
  maxPositionals: 1,
  async run({ positionals, values, settings }) {
    const config = loadConfig({ flags: settings });
    const book = loadPriceBook(config.pricesFile);
    const model = positionals[0];
    if (!model) {
      console.log(`price data: ${book.version}${config.pricesFile ? ` (overrides: ${config.pricesFile})` : ""}`);
      console.log("usage: loupe prices <model> [--provider anthropic|openai|google|…]");
      return;
    }
    const provider = typeof values.provider === "string" ? values.provider : undefined;
    const found = book.lookup(provider, model);
    if (!found) {
      console.log(`${model}: no price known — calls to it are recorded with cost_usd NULL (unpriced)`);
      process.exitCode = 1;
      return;
    }
    console.log(JSON.stringify({ model, matched: found.model, provider: found.provider, source: found.source, version: book.version, usd_per_million_tokens: found.prices }, null, 2));
  },
};
