// The bundler plugins of scripts/build.ts (bench/executable-size.ts bundles with them too).
import type { BunPlugin } from "bun";

// @duckdb/node-bindings/duckdb.js `require`s the addon of every platform in a
// switch; only this machine's package is installed. Leave the others external:
// they are never reached at run time, and unresolved they would fail the build.
export const otherPlatforms: BunPlugin = {
  name: "duckdb-other-platforms",
  setup(build) {
    build.onResolve({ filter: /^@duckdb\/node-bindings-[^/]+\/duckdb\.node$/ }, (a) => {
      try {
        Bun.resolveSync(a.path, a.resolveDir);
        return undefined; // installed: bundle (embed) it as usual
      } catch {
        return { path: a.path, external: true };
      }
    });
  },
};

// @pydantic/genai-prices carries its own copy of the price data (`const E = [ … ]`, an object
// literal of ~800 KB, which both threads evaluated at start). Loupe prices from
// pricing/genai-prices.json, a snapshot of that same data (scripts/snapshot-prices.ts),
// handed to the package before any lookup (src/pricing/price-book.ts): the executable
// gets the package without its copy (bench/executable-size.ts, bench/startup.ts).
const PRICE_DATA = { start: "const E = [\n", end: "\n], J = {\n" };
export const withoutBundledPrices: BunPlugin = {
  name: "genai-prices-without-its-data",
  setup(build) {
    build.onLoad({ filter: /@pydantic[\\/]genai-prices[\\/]dist[\\/]index\.js$/ }, async ({ path }) => {
      const code = await Bun.file(path).text();
      const end = code.indexOf(PRICE_DATA.end);
      if (!code.startsWith(PRICE_DATA.start) || end < 0 || code.indexOf(PRICE_DATA.end, end + 1) >= 0) {
        console.warn(`build: ${path} is not laid out as expected; its price data stays in the executable`);
        return { contents: code, loader: "js" };
      }
      return { contents: `const E = [], J = {\n${code.slice(end + PRICE_DATA.end.length)}`, loader: "js" };
    });
  },
};
