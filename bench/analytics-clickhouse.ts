#!/usr/bin/env bun
/**
 * The analytics questions over a big log, DuckDB against ClickHouse 18.16:
 * `bun bench/analytics-clickhouse.ts`: 1M records in about 3 minutes on 2 cores;
 * BENCH_RECORDS=10000000 BENCH_RUNS=3 BENCH_COMPARE_FINAL=0 for the issue's 10M.
 *
 * Knobs: BENCH_RECORDS, BENCH_RUNS, BENCH_COMPARE_FINAL=0, BENCH_KEEP=1.
 *
 * 1. Makes BENCH_RECORDS records (default 1,000,000) over 30 days, twice, from
 *    the same integer formulas of the row number, in each engine's own SQL:
 *    `INSERT … SELECT … FROM numbers(n)` into Debian's clickhouse-server
 *    (tests/support/clickhouse.ts) and `INSERT … SELECT … FROM range(n)` into
 *    a DuckDB file. No JSON crosses a process, so 10M load in minutes; the
 *    rows are the same, which the answers then show.
 * 2. Times each AnalyticsStore question in both (createDuckDBAnalytics on the
 *    file; createClickHouseAnalytics through the store's HTTP client, with
 *    FINAL, and without it to show what FINAL costs): one untimed call, then
 *    BENCH_RUNS (5) timed ones; p50 and p95 (nearest rank).
 * 3. Prints the table (ms), the ratio ClickHouse / DuckDB of the p50s, and
 *    whether the two answers were equal (deep equality; DuckDB's any_value
 *    and the order of ties aside, see the notes printed).
 */
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { isDeepStrictEqual } from "node:util";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REQUEST_COLUMNS } from "../src/record.ts";
import type { AnalyticsStore } from "../src/sinks/analytics.ts";
import { createClickHouseAnalytics } from "../src/sinks/clickhouse/clickhouse-analytics.ts";
import { openClickHouseStore } from "../src/sinks/clickhouse/clickhouse-store.ts";
import { createDuckDBAnalytics } from "../src/sinks/duckdb/duckdb-analytics.ts";
import { startClickHouse } from "../tests/support/clickhouse.ts";
import { KEEP, num, table } from "./harness.ts";

const RECORDS = num("BENCH_RECORDS", 1_000_000);
const RUNS = Math.max(1, num("BENCH_RUNS", 5));
/** BENCH_COMPARE_FINAL=0: skip the runs without FINAL (a third of the time). */
const COMPARE_FINAL = process.env.BENCH_COMPARE_FINAL !== "0";
const END_MS = Date.parse("2026-12-01T00:00:00Z");
const SPAN_US = 30 * 86_400_000_000;
const START_US = END_MS * 1000 - SPAN_US;
/** Calls per session (consecutive rows), so sessions are short runs in time as in a real log. */
const PER_SESSION = 50;
const log = (msg: string) => process.stderr.write(`[bench:analytics-clickhouse] ${msg}\n`);

// ── the records, as integer formulas of the row number n, in each dialect ─────
interface Dialect {
  /** Integer division. */
  div(a: string, b: string | number): string;
  str(x: string): string;
  float(x: string): string;
  bool(condition: string): string;
  /** The tags: a list, or none (ClickHouse's [] is the record's null). */
  tags(list: string[] | null): string;
  instant(us: string): string;
  /** nano-USD (an Int64 expression, or NULL) as the money column's value. */
  money(nano: string): string;
  json(text: string): string;
}
const CLICKHOUSE: Dialect = {
  div: (a, b) => `intDiv(${a}, ${b})`,
  str: (x) => `toString(${x})`,
  float: (x) => `toFloat64(${x})`,
  bool: (c) => `toUInt8(${c})`,
  tags: (list) => (list ? `[${list.map((t) => `'${t}'`).join(", ")}]` : "emptyArrayString()"),
  instant: (us) => us,
  money: (nano) => nano,
  json: (text) => text,
};
const DUCKDB: Dialect = {
  div: (a, b) => `(${a} // ${b})`,
  str: (x) => `CAST(${x} AS VARCHAR)`,
  float: (x) => `CAST(${x} AS DOUBLE)`,
  bool: (c) => `(${c})`,
  tags: (list) => (list ? `[${list.map((t) => `'${t}'`).join(", ")}]` : "NULL"),
  instant: (us) => `make_timestamptz(${us})`,
  // Exact: through the decimal text (DuckDB's DECIMAL division would go through DOUBLE).
  money: (nano) => `CAST(CAST(${nano} // 1000000000 AS VARCHAR) || '.' || lpad(CAST(${nano} % 1000000000 AS VARCHAR), 9, '0') AS DECIMAL(38, 9))`,
  json: (text) => `CAST(${text} AS JSON)`,
};

/** A value in [0, 1000003) that looks random, one per salt. */
const h = (salt: number) => `((n * ${2_654_435_761 + salt * 7919} + ${salt * 40_503 + 17}) % 1000003)`;
const MODELS: [provider: string, model: string, priced: boolean][] = [
  ["anthropic", "claude-sonnet-4-5", true],
  ["anthropic", "claude-opus-4-1", true],
  ["anthropic", "claude-haiku-4-5", true],
  ["anthropic", "claude-internal-preview", false],
  ["openai", "gpt-5", true],
  ["openai", "gpt-5-mini", true],
  ["openai", "gpt-4.1", true],
  ["openai", "ft:gpt-4o-mini:acme", false],
  ["gemini", "gemini-2.5-pro", true],
  ["gemini", "gemini-2.5-flash", true],
  ["gemini", "gemini-2.0-flash", true],
  ["gemini", "gemini-exp-1206", false],
];
/** values[index] (a searched CASE: ClickHouse's `CASE x WHEN` is transform(), which takes no arrays). */
const pick = (index: string, values: string[]) => `CASE ${values.slice(0, -1).map((v, i) => `WHEN ${index} = ${i} THEN ${v}`).join(" ")} ELSE ${values.at(-1)} END`;

/** Each record column's expression. */
function columns(d: Dialect): Record<string, string> {
  const m = `(${h(1)} % ${MODELS.length})`;
  const error = `(${h(2)} % 100 < 3)`;
  const unpriced = `(${m} % 4 = 3)`;
  const input = `(100 + ${h(3)} % 20000)`;
  const output = `(${h(4)} % 1500)`;
  const cacheRead = `CASE WHEN ${h(5)} % 3 = 0 THEN ${h(6)} % ${input} ELSE 0 END`;
  const nano = `(${input} * 3000 + ${output} * 15000)`;
  const inSession = `(${h(7)} % 100 < 92)`;
  const session = d.div("n", PER_SESSION);
  const anthropic = `(${m} < 4)`;
  const nullIf = (condition: string, value: string) => `CASE WHEN ${condition} THEN NULL ELSE ${value} END`;
  return {
    id: `concat('r', ${d.str("n + 10000000000")})`,
    started_at: d.instant(`(${START_US} + n * ${Math.floor(SPAN_US / RECORDS)} + ${h(8)} % ${Math.max(1, Math.floor(SPAN_US / RECORDS))})`),
    duration_ms: `${d.float(`${h(9)} * 5`)} / 1000`,
    ttfb_ms: nullIf(`${h(10)} % 10 = 0`, `${d.float(`${h(11)} % 800000`)} / 1000`),
    provider: pick(d.div(m, 4), ["'anthropic'", "'openai'", "'gemini'"]),
    operation: "'chat'",
    method: "'POST'",
    path: "'/v1/chat'",
    status: `CASE WHEN ${h(2)} % 100 < 2 THEN 429 WHEN ${error} THEN 500 ELSE 200 END`,
    model: pick(m, MODELS.map(([, model]) => `'${model}'`)),
    response_model: nullIf(`${h(12)} % 10 = 0`, `concat(${pick(m, MODELS.map(([, model]) => `'${model}'`))}, '-2025')`),
    streamed: d.bool(`${h(13)} % 5 = 0`),
    input_tokens: nullIf(error, input),
    cache_read_tokens: nullIf(error, cacheRead),
    cache_write_tokens: nullIf(`${error} OR NOT ${anthropic}`, `${h(14)} % 500`),
    output_tokens: nullIf(error, output),
    reasoning_tokens: nullIf(`${error} OR ${h(15)} % 2 = 0`, `${h(16)} % 300`),
    cost_usd: d.money(`CASE WHEN ${error} THEN 0 WHEN ${unpriced} THEN NULL ELSE ${nano} END`),
    cost_source: `CASE WHEN ${error} THEN 'free' WHEN ${unpriced} THEN NULL ELSE 'genai-prices' END`,
    session_id: `CASE WHEN ${inSession} THEN concat('s', ${d.str(session)}) ELSE NULL END`,
    user_id: nullIf(`${h(17)} % 100 < 6`, `concat('user_', ${d.str(`${d.div(`n`, PER_SESSION)} % 500`)})`),
    project: `concat('project-', ${d.str(`${h(18)} % 30`)})`,
    tags: pick(`${h(19)} % 3`, [d.tags(["prod"]), d.tags(["eval", "batch"]), d.tags(null)]),
    finish_reason: nullIf(error, "'stop'"),
    error_type: `CASE WHEN ${h(2)} % 100 < 2 THEN 'rate_limit_error' WHEN ${error} THEN 'api_error' ELSE NULL END`,
    request_bytes: "1000",
    response_bytes: "2000",
    // The first call of each session carries its body: a first prompt to find.
    request_body: `CASE WHEN n % ${PER_SESSION} = 0 THEN concat('{"messages":[{"role":"user","content":"Question ', ${d.str("n")}, '"}]}') ELSE NULL END`,
    truncated: d.bool("1 = 0"),
    cache_write_1h_tokens: nullIf(`${error} OR NOT ${anthropic}`, `${h(14)} % 100`),
    agent_id: `CASE WHEN ${inSession} AND n % 5 <> 0 THEN concat('agent-', ${d.str("n % 3")}) ELSE NULL END`,
    parent_agent_id: `CASE WHEN ${inSession} AND n % 5 <> 0 AND n % 3 <> 0 THEN 'agent-0' ELSE NULL END`,
    request_class: `CASE WHEN ${inSession} THEN CASE WHEN n % 2 = 0 THEN 'main' ELSE 'subagent' END ELSE NULL END`,
    billable: d.bool("1 = 1"),
    key_id: nullIf(`${h(20)} % 4 <> 0`, `concat('key_', ${d.str(`${h(21)} % 8`)})`),
    attempts: "1",
    ratelimit: nullIf(
      `NOT ${anthropic} OR ${h(22)} % 2 = 0`,
      d.json(`concat('{"organization":"org-', ${d.str(`${h(23)} % 3`)}, '","headers":{"anthropic-ratelimit-unified-5h-utilization":"0.', ${d.str(`${h(24)} % 100`)}, '","anthropic-ratelimit-unified-7d-status":"allowed"}}')`),
    ),
  };
}

// ── loading ──────────────────────────────────────────────────────────────────
async function loadClickHouse() {
  const server = await startClickHouse();
  const store = await openClickHouseStore({ url: server.url, database: "loupe", user: server.user, password: server.password, requestTimeoutMs: 1_800_000 });
  const exprs = columns(CLICKHOUSE);
  const names = Object.keys(exprs).map((name) => (name === "started_at" ? "started_at_us" : name === "cost_usd" ? "cost_nano" : name));
  const started = performance.now();
  await server.query(`INSERT INTO loupe.requests (${names.join(", ")}) SELECT ${Object.values(exprs).join(",\n")} FROM (SELECT number AS n FROM numbers(${RECORDS}))`);
  const seconds = (performance.now() - started) / 1000;
  // The parts the insert made are merged in the background: time the questions once the merges are done.
  for (let i = 0; i < 1200; i++) {
    const [merging] = await server.rows<{ n: string }>("SELECT count() AS n FROM system.merges WHERE database = 'loupe'");
    if (Number(merging!.n) === 0) break;
    await Bun.sleep(500);
  }
  const [parts] = await server.rows<{ parts: string; bytes: string }>("SELECT count() AS parts, sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = 'loupe' AND table = 'requests' AND active");
  return { server, store, seconds, parts: Number(parts!.parts), bytes: Number(parts!.bytes) };
}

async function loadDuckDB(dir: string) {
  const path = join(dir, "bench.duckdb");
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  await connection.run(`CREATE TABLE requests (${REQUEST_COLUMNS.map(([name, type]) => `${name} ${type}`).join(", ")})`);
  const exprs = columns(DUCKDB);
  const started = performance.now();
  await connection.run(`INSERT INTO requests (${Object.keys(exprs).join(", ")}) SELECT ${Object.values(exprs).join(",\n")} FROM range(${RECORDS}) t(n)`);
  await connection.run("CHECKPOINT");
  return { instance, connection, seconds: (performance.now() - started) / 1000, bytes: statSync(path).size };
}

// ── the questions ────────────────────────────────────────────────────────────
const NOW = new Date(END_MS - 1).toISOString();
const DAY = 86_400_000;
const last = (days: number) => ({ from: new Date(END_MS - days * DAY).toISOString(), to: new Date(END_MS).toISOString() });
const middleSession = `s${Math.floor(RECORDS / 2 / PER_SESSION)}`;
const middleId = `r${10_000_000_000 + Math.floor(RECORDS / 2)}`;

type Case = [label: string, ask: (a: AnalyticsStore) => Promise<unknown>];
const CASES: Case[] = [
  ["listRequests newest 50", (a) => a.listRequests({}, { limit: 50, sort: "started_at", order: "desc" })],
  ["listRequests costliest 50 (7d)", (a) => a.listRequests(last(7), { limit: 50, sort: "cost_usd", order: "desc" })],
  ["listRequests page 2 (cursor)", async (a) => a.listRequests({}, { cursor: (await a.listRequests({}, { limit: 50, sort: "started_at", order: "desc" })).next_cursor!, limit: 50, sort: "started_at", order: "desc" })],
  ["getRequest", (a) => a.getRequest(middleId)],
  ["summary 30d", (a) => a.summary({})],
  ["summary 24h", (a) => a.summary(last(1))],
  ["summary provider+tag", (a) => a.summary({ provider: "anthropic", tag: "prod" })],
  ["timeseries hour 30d", (a) => a.timeseries({}, "hour", undefined)],
  ["timeseries day by model top 5", (a) => a.timeseries({}, "day", "model", { top: 5 })],
  ["timeseries minute 24h by provider", (a) => a.timeseries(last(1), "minute", "provider")],
  ["breakdown by model", (a) => a.breakdown({}, "model")],
  ["breakdown by provider", (a) => a.breakdown({}, "provider")],
  ["sessions page 1", (a) => a.sessions({}, { limit: 50 })],
  ["session (50 calls)", (a) => a.session(middleSession)],
  ["users", (a) => a.users({})],
  ["projects", (a) => a.projects({})],
  ["rateLimits hour 7d", (a) => a.rateLimits(last(7), "hour")],
  ["usageSummary", (a) => a.usageSummary(NOW)],
];

async function time(ask: () => Promise<unknown>): Promise<{ p50: number; p95: number; answer: unknown }> {
  const answer = await ask(); // untimed: the answer, and warm caches
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await ask();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const rank = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!;
  return { p50: rank(0.5), p95: rank(0.95), answer };
}

/** The answers with what DuckDB leaves open put aside: a session's user and project (any_value), the order of breakdown ties. */
function comparable(label: string, answer: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(answer)) as unknown;
  const strip = (row: Record<string, unknown>) => {
    delete row.user_id;
    delete row.project;
  };
  if (label.startsWith("sessions")) (copy as { items: Record<string, unknown>[] }).items.forEach(strip);
  if (label.startsWith("session (")) strip((copy as { session: Record<string, unknown> }).session);
  if (label.startsWith("breakdown")) (copy as Record<string, unknown>[]).sort((a, b) => JSON.stringify([b.cost_usd, b.requests, a.provider, a.model]).localeCompare(JSON.stringify([a.cost_usd, a.requests, b.provider, b.model])));
  if (label.startsWith("summary")) (copy as { cacheReads: { provider: string; model: string }[] }).cacheReads.sort((a, b) => `${a.provider}/${a.model}`.localeCompare(`${b.provider}/${b.model}`));
  return copy;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "loupe-bench-ch-"));
  log(`${RECORDS.toLocaleString("en")} records; loading ClickHouse 18.16…`);
  const ch = await loadClickHouse();
  log(`ClickHouse: ${ch.seconds.toFixed(1)} s, ${ch.parts} parts, ${(ch.bytes / 2 ** 20).toFixed(0)} MiB; loading DuckDB…`);
  const duck = await loadDuckDB(dir);
  log(`DuckDB: ${duck.seconds.toFixed(1)} s, ${(duck.bytes / 2 ** 20).toFixed(0)} MiB; timing ${CASES.length} questions × ${RUNS} runs…`);
  const stores = {
    duckdb: createDuckDBAnalytics(duck.connection as DuckDBConnection),
    clickhouse: createClickHouseAnalytics(ch.store),
    noFinal: createClickHouseAnalytics(ch.store, { final: false }),
  };
  const rows: string[][] = [["question", "DuckDB p50", "p95", "ClickHouse p50", "p95", "CH/DuckDB", "CH no FINAL p50", "equal"]];
  const ms = (x: number) => (Number.isNaN(x) ? "-" : x >= 100 ? x.toFixed(0) : x.toFixed(1));
  let sums = { duck: 0, ch: 0, loose: 0 };
  for (const [label, ask] of CASES) {
    const d = await time(() => ask(stores.duckdb));
    const c = await time(() => ask(stores.clickhouse));
    const loose = COMPARE_FINAL ? await time(() => ask(stores.noFinal)) : { p50: NaN };
    const equal = isDeepStrictEqual(comparable(label, c.answer), comparable(label, d.answer));
    sums = { duck: sums.duck + d.p50, ch: sums.ch + c.p50, loose: sums.loose + loose.p50 };
    rows.push([label, ms(d.p50), ms(d.p95), ms(c.p50), ms(c.p95), `${(c.p50 / d.p50).toFixed(1)}x`, ms(loose.p50), equal ? "yes" : "NO"]);
    log(`${label}: DuckDB ${ms(d.p50)} ms, ClickHouse ${ms(c.p50)} ms${equal ? "" : " (answers differ)"}`);
  }
  rows.push(["all questions (sum of p50)", ms(sums.duck), "", ms(sums.ch), "", `${(sums.ch / sums.duck).toFixed(1)}x`, ms(sums.loose), ""]);
  console.log(`\nAnalytics over ${RECORDS.toLocaleString("en")} records (30 days), ${RUNS} timed runs each, ms`);
  console.log(`load: ClickHouse 18.16 ${ch.seconds.toFixed(1)} s (${ch.parts} parts, ${(ch.bytes / 2 ** 20).toFixed(0)} MiB); DuckDB ${duck.seconds.toFixed(1)} s (${(duck.bytes / 2 ** 20).toFixed(0)} MiB)\n`);
  console.log(table(rows[0]!, rows.slice(1)));
  console.log("\nequal: deep equality of the two answers, a session's user_id/project (DuckDB's any_value) and the order of breakdown ties aside.");
  duck.connection.closeSync();
  duck.instance.closeSync();
  await ch.store.close();
  await ch.server.dispose();
  if (!KEEP) rmSync(dir, { recursive: true, force: true });
}

await main();
