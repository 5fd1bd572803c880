import { get, type Routes } from "../api.ts";
import { DataTable } from "../components/data-table.tsx";
import { Async } from "../components/states.tsx";
import { count, groupCost, usd } from "../format.ts";
import { useQuery, withRange } from "../nav.ts";
import { useLoad } from "../use-load.ts";

type ModelRow = Routes["/api/stats/models"]["response"]["items"][number];

const mtok = (value: number | null | undefined) => (value === null || value === undefined ? "—" : `$${value}`);

/** Every model seen in the range: its calls and cost, where its price comes from, and the calls that could not be priced. */
export function Models() {
  const { range } = useQuery();
  const models = useLoad((signal) => get("/api/stats/models", { from: range.from, to: range.to }, signal), `${range.from}|${range.to}`);
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Models &amp; prices</h1>
      <p class="muted">Prices in USD per million tokens, from the price data Loupe ships or your override file. A model without a price is never counted as $0: its calls are listed as unpriced.</p>
      <Async loaded={models}>
        {(data) => (
          <DataTable
            caption="Models seen"
            columns={[
              { key: "model", label: "Model", cell: (r: ModelRow) => r.model ?? "(none)" },
              { key: "provider", label: "Provider", cell: (r: ModelRow) => r.provider },
              { key: "requests", label: "Calls", numeric: true, cell: (r: ModelRow) => count(r.requests) },
              { key: "cost", label: "Cost", numeric: true, cell: (r: ModelRow) => groupCost(r) },
              {
                key: "unpriced",
                label: "Unpriced calls",
                numeric: true,
                cell: (r: ModelRow) =>
                  r.unpriced_requests > 0 ? (
                    <a class="unpriced" href={withRange("/requests", range, { provider: r.provider, model: r.model ?? undefined, unpriced: "true" })}>
                      {count(r.unpriced_requests)}
                    </a>
                  ) : (
                    "0"
                  ),
              },
              {
                key: "source",
                label: "Price source",
                cell: (r: ModelRow) =>
                  Object.entries(r.cost_sources)
                    .map(([source, n]) => `${source} ${count(n)}`)
                    .join(", ") || "—",
              },
              { key: "input", label: "Input", numeric: true, cell: (r: ModelRow) => mtok(r.price?.input_mtok) },
              { key: "cache_read", label: "Cache read", numeric: true, cell: (r: ModelRow) => mtok(r.price?.cache_read_mtok) },
              { key: "cache_write", label: "Cache write", numeric: true, cell: (r: ModelRow) => mtok(r.price?.cache_write_mtok) },
              { key: "output", label: "Output", numeric: true, cell: (r: ModelRow) => mtok(r.price?.output_mtok) },
            ]}
            rows={data.items}
            rowKey={(r) => `${r.provider}/${r.model}`}
          />
        )}
      </Async>
    </section>
  );
}
