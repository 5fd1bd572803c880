import { useMemo } from "preact/hooks";
import { get, type GroupBy, type Routes, type Summary } from "../api.ts";
import { DataTable } from "../components/data-table.tsx";
import { Async } from "../components/states.tsx";
import { Stat } from "../components/stat.tsx";
import { TimeChart, type Series } from "../components/time-chart.tsx";
import { count, ms, parseTime, percent, usd } from "../format.ts";
import { useQuery, withRange } from "../nav.ts";
import { useLoad } from "../use-load.ts";

type Point = Routes["/api/stats/timeseries"]["response"]["points"][number];

const METRICS = {
  // A bucket whose calls all lack a price has no cost to draw (a gap, not $0).
  cost: { label: "Cost (USD)", value: (p: Point) => (p.requests > 0 && p.unpriced_requests === p.requests ? null : Number(p.cost_usd)), format: (v: number) => `$${v.toFixed(v < 1 ? 4 : 2)}` },
  requests: { label: "Requests", value: (p: Point) => p.requests, format: (v: number) => count(v) },
  errors: { label: "Errors", value: (p: Point) => p.errors, format: (v: number) => count(v) },
  tokens: { label: "Tokens (input + output)", value: (p: Point) => p.input_tokens + p.output_tokens, format: (v: number) => count(v) },
  latency: { label: "Latency p95", value: (p: Point) => p.latency_p95_ms, format: (v: number) => ms(v) },
} as const;
type Metric = keyof typeof METRICS;
const SPLITS = ["none", "provider", "model", "project", "user"] as const;

export function Overview() {
  const { range, query, setQuery } = useQuery();
  const metric: Metric = (query.metric as Metric) in METRICS ? (query.metric as Metric) : "cost";
  const split = (SPLITS as readonly string[]).includes(query.split ?? "") ? (query.split as (typeof SPLITS)[number]) : "model";
  const filter = { from: range.from, to: range.to };
  const summary = useLoad((signal) => get("/api/stats/summary", filter, signal), `${range.from}|${range.to}`);
  const timeseries = useLoad(
    (signal) =>
      get("/api/stats/timeseries", { ...filter, bucket: range.bucket, ...(split === "none" ? {} : { group_by: split as GroupBy, top: "8" }) }, signal),
    `${range.from}|${range.to}|${range.bucket}|${split}`,
  );

  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Overview</h1>
      <Async loaded={summary}>{(data) => <Headline summary={data} rangeLink={(path, q) => withRange(path, range, q)} />}</Async>
      <div class="panel">
        <div class="toolbar">
          <h2>Over time</h2>
          <label>
            Show{" "}
            <select value={metric} onChange={(e) => setQuery({ metric: e.currentTarget.value }, true)}>
              {Object.entries(METRICS).map(([id, m]) => (
                <option value={id}>{m.label}</option>
              ))}
            </select>
          </label>
          <label>
            Split by{" "}
            <select value={split} onChange={(e) => setQuery({ split: e.currentTarget.value }, true)}>
              {SPLITS.map((s) => (
                <option value={s}>{s === "none" ? "nothing" : s}</option>
              ))}
            </select>
          </label>
          <span class="muted">per {range.bucket}</span>
        </div>
        <Async loaded={timeseries}>{(data) => <Chart points={data.points} metric={metric} bucket={range.bucket} from={range.from} to={range.to} />}</Async>
      </div>
    </section>
  );
}

function Headline({ summary, rangeLink }: { summary: Summary; rangeLink: (path: string, q?: Record<string, string>) => string }) {
  const cacheWrite1h = summary.cache_write_1h_tokens ?? 0;
  const tokenRows = [
    { kind: "Input (all)", tokens: summary.input_tokens },
    { kind: "Input, uncached", tokens: Math.max(0, summary.input_tokens - summary.cache_read_tokens - summary.cache_write_tokens) },
    { kind: "Cache read", tokens: summary.cache_read_tokens },
    { kind: "Cache write 5m", tokens: summary.cache_write_tokens - cacheWrite1h },
    { kind: "Cache write 1h", tokens: cacheWrite1h },
    { kind: "Output (all)", tokens: summary.output_tokens },
    { kind: "Reasoning", tokens: summary.reasoning_tokens },
  ];
  return (
    <>
      <dl class="stats">
        <Stat name="Cost" value={usd(summary.cost_usd)} hint={summary.unpriced_requests > 0 ? `+ ${count(summary.unpriced_requests)} unpriced` : undefined} />
        <Stat name="Requests" value={count(summary.requests)} />
        <Stat name="Errors" value={count(summary.errors)} />
        <Stat name="Unpriced calls" value={count(summary.unpriced_requests)} hint="not counted as $0">
          {summary.unpriced_requests > 0 && (
            <a class="stat-link" href={rangeLink("/requests", { unpriced: "true" })}>
              See them
            </a>
          )}
        </Stat>
        <Stat name="Cache hit ratio" value={percent(summary.cache_hit_ratio)} />
        <Stat name="Cache savings" value={usd(summary.cache_savings_usd)} />
        <Stat name="Latency p50" value={ms(summary.latency_p50_ms)} />
        <Stat name="Latency p95" value={ms(summary.latency_p95_ms)} />
        <Stat name="TTFB p50" value={ms(summary.ttfb_p50_ms)} />
        <Stat name="TTFB p95" value={ms(summary.ttfb_p95_ms)} />
      </dl>
      <div class="panel">
        <h2>Tokens by kind</h2>
        <DataTable
          caption="Tokens by kind"
          columns={[
            { key: "kind", label: "Kind", cell: (r) => r.kind },
            { key: "tokens", label: "Tokens", numeric: true, cell: (r) => count(r.tokens) },
          ]}
          rows={tokenRows}
          rowKey={(r) => r.kind}
        />
      </div>
    </>
  );
}

function Chart({ points, metric, bucket, from, to }: { points: Point[]; metric: Metric; bucket: string; from: string; to: string }) {
  const m = METRICS[metric];
  const { times, series } = useMemo(() => pivot(points, m.value, bucket, from, to), [points, metric, bucket, from, to]);
  if (points.length === 0) return <p class="state state-empty">No calls in this range.</p>;
  return <TimeChart title={`${m.label} per ${bucket}`} times={times} series={series} format={m.format} />;
}

const STEP = { minute: 60, hour: 3600, day: 86400 } as Record<string, number>;

/** Points (one per bucket and group) as aligned columns, with empty buckets filled so lines do not skip. */
function pivot(points: Point[], value: (p: Point) => number | null, bucket: string, from: string, to: string): { times: number[]; series: Series[] } {
  const step = STEP[bucket] ?? 3600;
  const start = Math.floor(Date.parse(from) / 1000 / step) * step;
  const end = Date.parse(to) / 1000;
  const times: number[] = [];
  for (let t = start; t < end; t += step) times.push(t);
  const index = new Map(times.map((t, i) => [t, i]));
  const groups = new Map<string, (number | null)[]>();
  for (const point of points) {
    const t = Math.floor(parseTime(point.bucket).getTime() / 1000);
    const name = point.group ?? "(none)";
    let values = groups.get(name);
    if (!values) groups.set(name, (values = times.map(() => 0)));
    const i = index.get(t);
    if (i !== undefined) values[i] = value(point);
  }
  return { times, series: [...groups].map(([label, values]) => ({ label, values })) };
}
