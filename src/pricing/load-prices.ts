import { readFileSync } from "node:fs";
import snapshot from "../../pricing/genai-prices.json" with { type: "json" };
import { createPriceBook, priceOverridesSchema, type PriceBook, type PriceOverrides } from "./price-book.ts";

/** The price book from the bundled snapshot plus the operator's override file, validated. */
export function loadPriceBook(overridesFile: string | undefined): PriceBook {
  let overrides: PriceOverrides | undefined;
  if (overridesFile) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(overridesFile, "utf8"));
    } catch (error) {
      throw new Error(`cannot read prices file ${overridesFile}: ${(error as Error).message}`);
    }
    const parsed = priceOverridesSchema.safeParse(raw);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
      throw new Error(`invalid prices file ${overridesFile}:\n  ${problems.join("\n  ")}`);
    }
    overrides = parsed.data;
  }
  return createPriceBook({ version: snapshot.version, providers: snapshot.providers }, overrides);
}
