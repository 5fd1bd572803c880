/**
 * The dashboard's requests, as its pages make them (bench/ANALYTICS.md,
 * "Dashboard set"): each case runs over the last 24 hours, 7 days and 30 days
 * of the data, once cold-ish then BENCH_DASH_RUNS times, and passes when its
 * p95 is under 250 ms.
 */

export const DASHBOARD_BUDGET_MS = 250;

export interface DashCall {
  path: string;
}
export type Caller = (c: DashCall) => Promise<{ ms: number; status: number; json: Record<string, unknown> }>;

export interface DashTargets {
  end: number;
  bigSession: string;
  typicalSession: string;
  busyUser: string;
  middleId: string;
}

export interface DashResult {
  range: string;
  page: string;
  scope: string;
  p50: number;
  p95: number;
  max: number;
  runs: number;
  error?: string;
}

const RANGES = [
  { name: "24h", ms: 86_400_000, bucket: "hour" },
  { name: "7d", ms: 7 * 86_400_000, bucket: "hour" },
  { name: "30d", ms: 30 * 86_400_000, bucket: "day" },
] as const;

const q = (params: Record<string, string | number | undefined>) =>
  `?${new URLSearchParams(Object.entries(params).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)] as [string, string]]))).toString()}`;

/** The nearest-rank percentile of sorted times. */
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;

/** `only`: run just the cases whose "range page case" contains it (BENCH_ONLY), to iterate on one. */
export async function runDashboard(call: Caller, t: DashTargets, options: { runs: number; only?: string | undefined; log: (msg: string) => void }): Promise<DashResult[]> {
  const { runs, only, log } = options;
  const results: DashResult[] = [];
  for (const range of RANGES) {
    const window = { from: new Date(t.end - range.ms).toISOString(), to: new Date(t.end).toISOString() };
    const time = async (page: string, scope: string, path: string | (() => Promise<string>)) => {
      if (only && !`${range.name} ${page} ${scope}`.includes(only)) return;
      const url = typeof path === "string" ? path : await path();
      const first = await call({ path: url });
      if (first.status !== 200) {
        results.push({ range: range.name, page, scope, p50: NaN, p95: NaN, max: NaN, runs: 0, error: `HTTP ${first.status}: ${JSON.stringify(first.json).slice(0, 160)}` });
        return;
      }
      const times: number[] = [];
      for (let i = 0; i < runs; i++) times.push((await call({ path: url })).ms);
      times.sort((a, b) => a - b);
      const r = { range: range.name, page, scope, p50: percentile(times, 0.5), p95: percentile(times, 0.95), max: times.at(-1)!, runs };
      results.push(r);
      log(`dashboard ${range.name} ${page} [${scope}] p50 ${r.p50.toFixed(0)} ms, p95 ${r.p95.toFixed(0)} ms`);
    };

    // Overview
    await time("overview", "summary", `/api/stats/summary${q(window)}`);
    for (const groupBy of ["model", "provider", "project", "user"]) {
      await time("overview", `timeseries ${range.bucket}×${groupBy} top=8`, `/api/stats/timeseries${q({ ...window, bucket: range.bucket, group_by: groupBy, top: 8 })}`);
    }
    // Requests
    const list = { ...window, limit: 50 };
    await time("requests", "page 1", `/api/requests${q(list)}`);
    await time("requests", "model=claude-sonnet-4-5", `/api/requests${q({ ...list, model: "claude-sonnet-4-5" })}`);
    await time("requests", `user=${t.busyUser} status=error`, `/api/requests${q({ ...list, user: t.busyUser, status: "error" })}`);
    await time("requests", "sort=cost_usd", `/api/requests${q({ ...list, sort: "cost_usd" })}`);
    await time("requests", "unpriced=true", `/api/requests${q({ ...list, unpriced: "true" })}`);
    await time("requests", "page 2 (cursor)", async () => {
      const first = await call({ path: `/api/requests${q(list)}` });
      return `/api/requests${q({ ...list, cursor: (first.json.next_cursor as string | null) ?? undefined })}`;
    });
    await time("requests", "one id", `/api/requests/${t.middleId}`);
    // Sessions
    await time("sessions", "page 1", `/api/sessions${q(list)}`);
    await time("sessions", "big session (6,000 calls)", `/api/sessions/${encodeURIComponent(t.bigSession)}`);
    await time("sessions", "median session", `/api/sessions/${encodeURIComponent(t.typicalSession)}`);
    // Users, projects, models
    await time("users", "all", `/api/users${q(window)}`);
    await time("projects", "all", `/api/projects${q(window)}`);
    await time("models", "all", `/api/stats/models${q(window)}`);
  }
  return results;
}
