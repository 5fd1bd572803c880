import { validate as validateOpenAPI } from "@readme/openapi-parser";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { z } from "zod";
import * as schemas from "../../src/api/schemas.ts";
import { BUN, ROOT, startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { formatNanoUsd } from "../../src/pricing/compute-cost.ts";
import { loadPriceBook } from "../../src/pricing/load-prices.ts";
import { seedRecords, writeSeedJournal } from "../support/seed.ts";

const TOKEN = "test-admin-token";
const COUNT = 3000;
let gw: Gateway;
const book = loadPriceBook(undefined);

beforeAll(async () => {
  const dir = tempDir();
  const db = join(dir, "loupe.duckdb");
  const records = seedRecords(COUNT);
  // The seed's costs are made up; price Sonnet's calls as the recorder would, so their cost can be explained exactly.
  for (const r of records) {
    if (r.model !== "claude-sonnet-4-5" || r.status >= 400) continue;
    const usage = { inputTokens: r.input_tokens ?? undefined, cacheReadTokens: r.cache_read_tokens ?? undefined, cacheWriteTokens: r.cache_write_tokens ?? undefined, cacheWrite1hTokens: r.cache_write_1h_tokens ?? undefined, outputTokens: r.output_tokens ?? undefined };
    const cost = book.price({ provider: "anthropic", model: r.model, usage, at: new Date(r.started_at) });
    Object.assign(r, { cost_usd: formatNanoUsd(cost.nano!), cost_source: cost.source, price_version: cost.priceVersion });
  }
  Object.assign(records[7]!, { status: 200, error_type: null, input_tokens: 10, output_tokens: 10, cost_usd: "0.001230000", cost_source: "provider", price_version: null });
  writeSeedJournal(db, records);
  gw = await startGateway({ dir, db, env: { LOUPE_ADMIN_TOKEN: TOKEN } });
});
afterAll(() => gw.stop());

async function api<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> {
  const response = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
  // Every response must match its declared (strict) schema: no missing, extra or mistyped fields.
  return schema.parse(body);
}
const one = async (sql: string) => (await gw.sql(sql))[0]!;

describe("OpenAPI document", () => {
  test("/openapi.json is a valid OpenAPI 3.1 document describing every route, proxy routes included", async () => {
    const spec = (await (await fetch(`${gw.url}/openapi.json`)).json()) as any;
    const validation = await validateOpenAPI(structuredClone(spec));
    expect(validation).toMatchObject({ valid: true });
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(["/api/requests", "/api/requests/{id}", "/api/stats/summary", "/api/stats/timeseries", "/api/stats/models", "/api/stats/providers", "/api/stats/ratelimits", "/api/sessions", "/api/sessions/{id}", "/api/users", "/api/projects", "/api/usage-summary", "/api/sql", "/anthropic/{path}", "/openai/{path}", "/gemini/{path}", "/groq/{path}", "/deepseek/{path}", "/openrouter/{path}"]),
    );
    expect(spec.components.schemas.Totals.properties.cost_usd.type).toBe("string");
    const yaml = await (await fetch(`${gw.url}/openapi.yaml`)).text();
    expect(yaml).toContain("openapi: 3.1.0");
    const page = await fetch(`${gw.url}/reference`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const html = await page.text();
    expect(html).toContain("/api/stats/summary");
    expect(html).not.toMatch(/<script[^>]+src=|https?:\/\/cdn/);
  });
});

describe("aggregates agree with SQL over the same records", () => {
  test("summary", async () => {
    const summary = await api("/api/stats/summary", schemas.SummarySchema);
    const sql = await one(`select count(*)::int AS n, count(*) filter (where status >= 400 or error_type is not null)::int AS errors,
      sum(input_tokens)::int AS input, sum(output_tokens)::int AS output, sum(cache_read_tokens)::int AS cached, sum(cost_usd)::varchar AS cost,
      count(*) filter (where cost_usd is null and operation in ('chat','generate_content','embeddings','text_completion') and (input_tokens is not null or output_tokens is not null))::int AS unpriced,
      count(*) filter (where billable is distinct from (operation in ('chat','generate_content','embeddings','text_completion')))::int AS misbilled,
      quantile_cont(duration_ms, 0.5) AS p50 from requests`);
    expect(summary).toMatchObject({ requests: COUNT, errors: sql.errors, input_tokens: sql.input, output_tokens: sql.output, cache_read_tokens: sql.cached, cost_usd: sql.cost, unpriced_requests: sql.unpriced });
    expect(summary.unpriced_requests).toBeGreaterThan(100);
    expect(sql.misbilled).toBe(0);
    expect(summary.latency_p50_ms).toBeCloseTo(sql.p50, 6);
    expect(summary.cache_hit_ratio).toBeCloseTo(sql.cached / sql.input, 9);
    expect(Number(summary.cache_savings_usd)).toBeGreaterThan(0);
  });

  test("filters: range, provider, model, status, user, project, tag, min cost", async () => {
    const cases: [string, string][] = [
      ["from=2026-10-03T00:00:00Z&to=2026-10-05T00:00:00Z", "started_at >= '2026-10-03T00:00:00Z' and started_at < '2026-10-05T00:00:00Z'"],
      ["provider=gemini", "provider = 'gemini'"],
      ["model=gpt-5.4", "model = 'gpt-5.4'"],
      ["status=error", "(status >= 400 or error_type is not null)"],
      ["status=429", "status = 429"],
      ["user=user-3", "user_id = 'user-3'"],
      ["project=beta", "project = 'beta'"],
      ["tag=eval", "list_contains(tags, 'eval')"],
      ["min_cost=0.01", "cost_usd >= 0.01"],
      ["streamed=true&provider=openai", "streamed and provider = 'openai'"],
    ];
    for (const [query, where] of cases) {
      const summary = await api(`/api/stats/summary?${query}`, schemas.SummarySchema);
      const sql = await one(`select count(*)::int AS n, coalesce(sum(cost_usd), 0)::decimal(38,9)::varchar AS cost from requests where ${where}`);
      expect({ query, n: summary.requests, cost: summary.cost_usd }).toEqual({ query, n: sql.n, cost: sql.cost });
      expect(sql.n).toBeGreaterThan(0);
    }
  });

  test("models, providers, users, timeseries", async () => {
    const models = await api("/api/stats/models", schemas.ModelBreakdownSchema);
    const sqlModels = await gw.sql(`select provider, coalesce(response_model, model) AS model, count(*)::int AS n, coalesce(sum(cost_usd),0)::decimal(38,9)::varchar AS cost from requests group by all`);
    expect(models.items.length).toBe(sqlModels.length);
    for (const row of sqlModels) expect(models.items.find((m) => m.model === row.model)).toMatchObject({ provider: row.provider, requests: row.n, cost_usd: row.cost });
    const providers = await api("/api/stats/providers", schemas.ProviderBreakdownSchema);
    expect(providers.items.map((p) => p.requests).reduce((a, b) => a + b)).toBe(COUNT);
    const users = await api("/api/users", schemas.UsersSchema);
    const sqlUsers = await one(`select count(distinct user_id)::int AS n, count(*) filter (where user_id is not null)::int AS calls from requests`);
    expect(users.items.length).toBe(sqlUsers.n);
    expect(users.items.reduce((a, u) => a + u.requests, 0)).toBe(sqlUsers.calls);
    const daily = await api("/api/stats/timeseries?bucket=day&group_by=provider", schemas.TimeseriesSchema);
    const sqlDaily = await gw.sql(`select date_trunc('day', started_at)::date::varchar AS d, provider, count(*)::int AS n from requests group by all`);
    expect(daily.points.length).toBe(sqlDaily.length);
    for (const row of sqlDaily) expect(daily.points.find((p) => p.bucket.startsWith(row.d) && p.group === row.provider)?.requests).toBe(row.n);
    const hourly = await api("/api/stats/timeseries?bucket=hour", schemas.TimeseriesSchema);
    expect(hourly.points.reduce((a, p) => a + p.requests, 0)).toBe(COUNT);
  });

  test("sessions and one session's calls in order", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: z.infer<typeof schemas.SessionPageSchema> = await api(`/api/sessions?limit=7${cursor ? `&cursor=${cursor}` : ""}`, schemas.SessionPageSchema);
      seen.push(...page.items.map((s) => s.session_id));
      cursor = page.next_cursor;
    } while (cursor);
    const sql = await one(`select count(distinct session_id)::int AS n from requests`);
    expect(new Set(seen).size).toBe(sql.n);
    expect(seen.length).toBe(sql.n);
    const detail = await api(`/api/sessions/session-7`, schemas.SessionDetailSchema);
    const calls = await gw.sql(`select id, cost_usd::varchar AS cost from requests where session_id = 'session-7' order by started_at, id`);
    expect(detail.calls.map((c) => c.id)).toEqual(calls.map((c) => c.id));
    expect(detail.session.requests).toBe(calls.length);
  });

  test("request pages: cursor walks every record once, in order, for each sort", async () => {
    for (const sort of ["started_at", "cost_usd", "duration_ms"] as const) {
      const ids: string[] = [];
      let cursor: string | null = null;
      let previous = Infinity;
      do {
        const page: z.infer<typeof schemas.RequestPageSchema> = await api(`/api/requests?limit=400&sort=${sort}${cursor ? `&cursor=${cursor}` : ""}`, schemas.RequestPageSchema);
        for (const item of page.items) {
          const value = sort === "started_at" ? Date.parse(item.started_at.replace(" ", "T").replace(/\+00$/, "Z")) : sort === "cost_usd" ? Number(item.cost_usd ?? -1) : item.duration_ms;
          expect(value).toBeLessThanOrEqual(previous);
          previous = value;
          ids.push(item.id);
        }
        cursor = page.next_cursor;
      } while (cursor);
      expect(ids.length).toBe(COUNT);
      expect(new Set(ids).size).toBe(COUNT);
    }
    const detail = await api(`/api/requests/seed-0000042`, schemas.RequestDetailSchema);
    expect(detail.id).toBe("seed-0000042");
  });

  test("usage summary: today, this week, this month", async () => {
    const usage = await api("/api/usage-summary", schemas.UsageSummarySchema);
    expect(usage.this_month.requests).toBeGreaterThanOrEqual(usage.this_week.requests);
    expect(usage.this_week.requests).toBeGreaterThanOrEqual(usage.today.requests);
  });
});

describe("dashboard additions agree with SQL over the same records", () => {
  const UNPRICED = "(cost_usd is null and billable and (input_tokens is not null or output_tokens is not null))";

  test("every Totals carries cache_write_1h_tokens, the sum of the column", async () => {
    const sql = await one(`select sum(cache_write_1h_tokens)::int AS h1, sum(cache_write_tokens)::int AS all_writes from requests`);
    expect(sql.h1).toBeGreaterThan(0);
    expect(sql.h1).toBeLessThan(sql.all_writes);
    const summary = await api("/api/stats/summary", schemas.SummarySchema);
    expect(summary.cache_write_1h_tokens).toBe(sql.h1);
    const points = (await api("/api/stats/timeseries?bucket=day&group_by=model&top=3", schemas.TimeseriesSchema)).points;
    expect(points.reduce((a, p) => a + p.cache_write_1h_tokens, 0)).toBe(sql.h1);
    const byUser = await one(`select sum(cache_write_1h_tokens)::int AS n from requests where user_id is not null`);
    expect((await api("/api/users", schemas.UsersSchema)).items.reduce((a, u) => a + u.cache_write_1h_tokens, 0)).toBe(byUser.n);
  });

  test("unpriced=true: exactly the calls counted as unpriced; unpriced=false: the others", async () => {
    const summary = await api("/api/stats/summary", schemas.SummarySchema);
    const sql = await gw.sql(`select id from requests where ${UNPRICED} order by started_at desc, id desc`);
    expect(sql.length).toBe(summary.unpriced_requests);
    expect(sql.length).toBeGreaterThan(100);
    const only = await api("/api/stats/summary?unpriced=true", schemas.SummarySchema);
    expect(only).toMatchObject({ requests: sql.length, unpriced_requests: sql.length, cost_usd: "0.000000000" });
    const others = await api("/api/stats/summary?unpriced=false", schemas.SummarySchema);
    expect(others).toMatchObject({ requests: COUNT - sql.length, unpriced_requests: 0, cost_usd: summary.cost_usd });
    const page = await api("/api/requests?unpriced=true&limit=1000", schemas.RequestPageSchema);
    expect(page.items.map((r) => r.id)).toEqual(sql.map((r) => r.id));
    const filtered = await one(`select count(*)::int AS n from requests where ${UNPRICED} and provider = 'gemini'`);
    expect((await api("/api/stats/summary?unpriced=true&provider=gemini", schemas.SummarySchema)).requests).toBe(filtered.n);
  });

  test("/api/projects: per project, costliest first, calls without a project left out", async () => {
    const projects = await api("/api/projects", schemas.ProjectsSchema);
    const sql = await gw.sql(`select project, count(*)::int AS n, coalesce(sum(cost_usd), 0)::decimal(38,9)::varchar AS cost, count(distinct session_id)::int AS sessions,
      count(distinct user_id)::int AS users, min(started_at)::varchar AS first_at, sum(cache_write_1h_tokens)::int AS h1
      from requests where project is not null group by project order by sum(cost_usd) desc nulls last, count(*) desc, project`);
    expect(projects.items.map((p) => [p.project, p.requests, p.cost_usd, p.sessions, p.users, p.first_at, p.cache_write_1h_tokens])).toEqual(
      sql.map((r) => [r.project, r.n, r.cost, r.sessions, r.users, r.first_at, r.h1]),
    );
    const week = await api("/api/projects?from=2026-10-03T00:00:00Z&to=2026-10-10T00:00:00Z&user=user-3", schemas.ProjectsSchema);
    const sqlWeek = await one(`select count(*)::int AS n from requests where project is not null and user_id = 'user-3' and started_at >= '2026-10-03T00:00:00Z' and started_at < '2026-10-10T00:00:00Z'`);
    expect(week.items.reduce((a, p) => a + p.requests, 0)).toBe(sqlWeek.n);
  });

  test("timeseries top: the costliest groups by name, all others as (other), figures exact (quantiles too)", async () => {
    for (const [groupBy, key, top] of [["model", "coalesce(response_model, model)", 3], ["user", "user_id", 4], ["project", "project", 1]] as const) {
      const ranked = await gw.sql(`select ${key} AS g from requests group by 1 order by sum(cost_usd) desc nulls last, count(*) desc, g nulls last limit ${top}`);
      const kept = ranked.map((r) => (r.g === null ? "NULL" : `'${r.g}'`)).join(", ");
      const label = `CASE WHEN ${key} IN (${kept}) OR (${key} IS NULL AND ${ranked.some((r) => r.g === null)}) THEN ${key} ELSE '(other)' END`;
      const sql = await gw.sql(`select strftime(date_trunc('day', started_at), '%Y-%m-%d') AS d, ${label} AS g, count(*)::int AS n, coalesce(sum(cost_usd), 0)::decimal(38,9)::varchar AS cost,
        sum(input_tokens)::int AS input, quantile_cont(duration_ms, 0.95) AS p95, quantile_cont(ttfb_ms, 0.5) AS t50 from requests group by all order by d, g nulls first`);
      const points = (await api(`/api/stats/timeseries?bucket=day&group_by=${groupBy}&top=${top}`, schemas.TimeseriesSchema)).points;
      expect(points.map((p) => [p.bucket.slice(0, 10), p.group, p.requests, p.cost_usd, p.input_tokens])).toEqual(sql.map((r) => [r.d, r.g, r.n, r.cost, r.input ?? 0]));
      sql.forEach((r, i) => {
        expect(points[i]!.latency_p95_ms).toBeCloseTo(r.p95, 6);
        expect(points[i]!.ttfb_p50_ms).toBeCloseTo(r.t50, 6);
      });
      expect(new Set(points.map((p) => p.group)).size).toBe(top + 1);
    }
    // `top` beyond the number of groups changes nothing; without group_by it is ignored.
    const plain = await api("/api/stats/timeseries?bucket=day&group_by=provider", schemas.TimeseriesSchema);
    expect(await api("/api/stats/timeseries?bucket=day&group_by=provider&top=50", schemas.TimeseriesSchema)).toEqual(plain);
    const response = await fetch(`${gw.url}/api/stats/timeseries?group_by=model&top=51`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(400);
  });

  test("a session's agents and its calls' agent fields", async () => {
    const detail = await api(`/api/sessions/session-7`, schemas.SessionDetailSchema);
    const calls = await gw.sql(`select id, agent_id, parent_agent_id, agent_type, request_class from requests where session_id = 'session-7' order by started_at, id`);
    expect(detail.calls.map((c) => [c.id, c.agent_id, c.parent_agent_id, c.agent_type, c.request_class])).toEqual(calls.map((c) => [c.id, c.agent_id, c.parent_agent_id, c.agent_type, c.request_class]));
    const agents = await gw.sql(`select agent_id, count(*)::int AS n, coalesce(sum(cost_usd), 0)::decimal(38,9)::varchar AS cost, min(started_at)::varchar AS first_at, max(started_at)::varchar AS last_at,
      min(parent_agent_id) AS parent from requests where session_id = 'session-7' group by agent_id order by min(started_at)`);
    expect(detail.agents.map((a) => [a.agent_id, a.requests, a.cost_usd, a.first_at, a.last_at, a.parent_agent_id])).toEqual(agents.map((a) => [a.agent_id, a.n, a.cost, a.first_at, a.last_at, a.parent]));
    expect(detail.agents.some((a) => a.agent_id === null)).toBe(true);
    expect(detail.agents.reduce((n, a) => n + a.requests, 0)).toBe(detail.session.requests);
  });

  test("a request's cost breakdown: the price applied and the cost per kind, summing to the record's cost", async () => {
    const priced = await gw.sql(`select id, cost_usd::varchar AS cost from requests where cost_source = 'genai-prices' and model = 'claude-sonnet-4-5' and cache_read_tokens > 0 and input_tokens >= cache_read_tokens + cache_write_tokens order by id limit 20`);
    expect(priced.length).toBe(20);
    for (const { id, cost } of priced) {
      const detail = await api(`/api/requests/${id}`, schemas.RequestDetailSchema);
      const breakdown = detail.cost_breakdown!;
      expect(breakdown).toMatchObject({ cost_source: "genai-prices", price_source: "genai-prices", priced_model: "claude-sonnet-4-5", total_usd: cost, matches_record: true, note: null });
      const price = book.lookup("anthropic", "claude-sonnet-4-5", { at: new Date(detail.started_at.replace(" ", "T").replace("+00", "Z")) })!.prices;
      const readPrice = price.cache_read_mtok!;
      // Seeded inputs stay under the long-context tier: the base price applies.
      expect(breakdown.components.find((c) => c.kind === "cache_read")).toMatchObject({ tokens: detail.cache_read_tokens!, usd_per_mtok: typeof readPrice === "number" ? readPrice : readPrice.base });
      const sum = breakdown.components.reduce((a, c) => a + BigInt(c.cost_usd.replace(".", "")), 0n);
      expect(formatNanoUsd(sum)).toBe(cost);
      expect(breakdown.components.filter((c) => c.kind !== "requests").reduce((a, c) => a + c.tokens, 0)).toBe(detail.input_tokens! + detail.output_tokens!);
    }
    // The seed's made-up costs for another priced model: explained with the book's price, flagged as not matching.
    const [made] = await gw.sql(`select id from requests where cost_source = 'genai-prices' and model = 'gpt-5.4' limit 1`);
    expect((await api(`/api/requests/${made!.id}`, schemas.RequestDetailSchema)).cost_breakdown).toMatchObject({ priced_model: expect.any(String), matches_record: false, note: expect.stringContaining("another total") });
    const [unpriced] = await gw.sql(`select id from requests where ${UNPRICED} and model = 'claude-private-x' limit 1`);
    expect((await api(`/api/requests/${unpriced!.id}`, schemas.RequestDetailSchema)).cost_breakdown).toMatchObject({ cost_source: null, components: [], total_usd: null, matches_record: false, note: expect.stringContaining("no price") });
    const [free] = await gw.sql(`select id from requests where cost_source = 'free' limit 1`);
    expect((await api(`/api/requests/${free!.id}`, schemas.RequestDetailSchema)).cost_breakdown).toMatchObject({ cost_source: "free", components: [], total_usd: "0.000000000", matches_record: true });
    expect((await api(`/api/requests/seed-0000007`, schemas.RequestDetailSchema)).cost_breakdown).toMatchObject({ cost_source: "provider", components: [], note: expect.stringContaining("provider reported") });
  });

  test("models: calls per cost source, and the price book's entry", async () => {
    const models = await api("/api/stats/models", schemas.ModelBreakdownSchema);
    const sql = await gw.sql(`select provider, coalesce(response_model, model) AS model, coalesce(cost_source, case when ${UNPRICED} then 'unpriced' else 'none' end) AS source, count(*)::int AS n from requests group by all`);
    for (const item of models.items) {
      const expected = Object.fromEntries(sql.filter((r) => r.provider === item.provider && r.model === item.model).map((r) => [r.source, r.n]));
      expect({ model: item.model, sources: item.cost_sources }).toEqual({ model: item.model, sources: expected });
      expect(Object.values(item.cost_sources).reduce((a, b) => a + b, 0)).toBe(item.requests);
      expect(item.cost_sources.unpriced ?? 0).toBe(item.unpriced_requests);
    }
    const sonnet = models.items.find((m) => m.model === "claude-sonnet-4-5")!;
    const price = book.lookup("anthropic", "claude-sonnet-4-5")!.prices;
    const base = (p: unknown) => (typeof p === "number" ? p : (p as { base: number }).base);
    expect(sonnet.price).toMatchObject({ source: "genai-prices", priced_model: "claude-sonnet-4-5", input_mtok: base(price.input_mtok), output_mtok: base(price.output_mtok), cache_read_mtok: base(price.cache_read_mtok) });
    expect(sonnet.price!.tiered).toBe(typeof price.input_mtok !== "number");
    expect(models.items.find((m) => m.model === "claude-private-x")!.price).toBeNull();
  });
});

describe("validation and access", () => {
  test("invalid parameters: 400 naming the field", async () => {
    for (const [query, field] of [["limit=0", "limit"], ["from=yesterday", "from"], ["status=teapot", "status"], ["min_cost=-1", "min_cost"], ["sort=price", "sort"], ["cursor=garbage", undefined]] as const) {
      const response = await fetch(`${gw.url}/api/requests?${query}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { field?: string; message: string } };
      if (field) expect(body.error.field).toBe(field);
    }
    const missing = await fetch(`${gw.url}/api/requests/nope`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(missing.status).toBe(404);
  });

  test("the admin token guards /api and the reference page; proxy routes and the Claude Code probe stay open", async () => {
    expect((await fetch(`${gw.url}/api/stats/summary`)).status).toBe(401);
    expect((await fetch(`${gw.url}/api/stats/summary`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${gw.url}/reference`)).status).toBe(401);
    expect((await fetch(`${gw.url}/api/hello`, { method: "HEAD" })).status).toBe(200);
    expect((await fetch(`${gw.url}/openai/v1/models`)).headers.get("x-loupe-request-id")).toBeString();
  });

  test("refuses to listen beyond loopback without a token", async () => {
    const proc = Bun.spawn([BUN, join(ROOT, "main.ts"), "serve"], { env: { PATH: process.env.PATH ?? "", LOUPE_HOST: "0.0.0.0", LOUPE_PORT: "0", LOUPE_DB: ":memory:" }, stderr: "pipe" });
    expect(await proc.exited).toBe(2);
    expect(await new Response(proc.stderr).text()).toContain("without LOUPE_ADMIN_TOKEN");
  });

  test("POST /api/sql: JSON and CSV, read-only", async () => {
    const post = (body: unknown) => fetch(`${gw.url}/api/sql`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const result = schemas.SqlResultSchema.parse(await (await post({ sql: "select provider, count(*) n from requests group by 1 order by 1" })).json());
    expect(result.columns).toEqual(["provider", "n"]);
    expect(result.rows.length).toBe(3);
    const csv = await post({ sql: "select 1 as a, 'x,y' as b", format: "csv" });
    expect(await csv.text()).toBe('a,b\r\n1,"x,y"\r\n');
    const limited = schemas.SqlResultSchema.parse(await (await post({ sql: "select * from range(100)", max_rows: 10 })).json());
    expect(limited).toMatchObject({ truncated: true });
    expect(limited.rows.length).toBe(10);
    const before = (await one("select count(*)::int AS n from requests")).n;
    for (const sql of ["delete from requests", "drop table requests", "attach 'x.db'", "install httpfs", "copy requests to '/tmp/x.csv'", "select * from read_csv('/etc/passwd')", "select * from '/etc/passwd'", "select getenv('HOME')", "set threads = 1"]) {
      const response = await post({ sql });
      expect({ sql, status: response.status }).toEqual({ sql, status: 400 });
    }
    expect((await one("select count(*)::int AS n from requests")).n).toBe(before);
  });
});
