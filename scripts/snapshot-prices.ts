/**
 * Snapshots the price data bundled in `@pydantic/genai-prices` into
 * `pricing/genai-prices.json`, so Loupe prices calls from a file it ships
 * (and records its version) instead of fetching prices at run time.
 *
 *   bun scripts/snapshot-prices.ts
 */
import { waitForUpdate } from "@pydantic/genai-prices";
import { readFileSync } from "node:fs";

// The package's exports do not include package.json: read it from disk.
const manifest = JSON.parse(readFileSync(require.resolve("@pydantic/genai-prices").replace(/dist\/index\.c?js$/, "package.json"), "utf8")) as { version: string };
const providers = await waitForUpdate();
if (!providers) throw new Error("genai-prices returned no provider data");
const snapshot = {
  source: "@pydantic/genai-prices",
  license: "MIT",
  version: manifest.version,
  snapshotted_at: new Date().toISOString().slice(0, 10),
  providers,
};
const path = new URL("../pricing/genai-prices.json", import.meta.url);
await Bun.write(path, `${JSON.stringify(snapshot)}\n`);
console.log(`pricing/genai-prices.json: genai-prices ${manifest.version}, ${providers.length} providers`);
