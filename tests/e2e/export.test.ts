import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { BUN, ROOT, startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { readParquet } from "../support/parquet.ts";
import { seedRecords, writeSeedJournal } from "../support/seed.ts";

const COUNT = 3000;
const records = seedRecords(COUNT);
let gw: Gateway;

beforeAll(async () => {
  const dir = tempDir();
  const db = join(dir, "loupe.duckdb");
  writeSeedJournal(db, records);
  gw = await startGateway({ dir, db });
});
afterAll(() => gw.stop());

async function loupe(...args: string[]) {
  const proc = Bun.spawn([BUN, join(ROOT, "main.ts"), ...args], { env: { ...process.env, LOUPE_DB: gw.db }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(stderr);
  return stdout;
}

describe("the same numbers from the API, loupe sql and the Parquet files", () => {
  test("loupe export --parquet while the gateway runs", async () => {
    const out = tempDir("loupe-parquet-");
    const result = JSON.parse(await loupe("export", "--parquet", out)) as { rows: number };
    expect(result.rows).toBe(COUNT);
    const days = readdirSync(out).filter((d) => d.startsWith("date="));
    expect(days.length).toBe(new Set(records.map((r) => r.started_at.slice(0, 10))).size);
    const [fromParquet] = await readParquet(out, "select count(*)::int AS n, sum(cost_usd)::varchar AS cost, sum(input_tokens)::int AS input from p");
    const [fromSql] = JSON.parse(await loupe("sql", "--json", "select count(*)::int AS n, sum(cost_usd)::varchar AS cost, sum(input_tokens)::int AS input from requests"));
    const summary = (await (await fetch(`${gw.url}/api/stats/summary`)).json()) as { requests: number; cost_usd: string; input_tokens: number };
    expect(fromParquet).toEqual(fromSql);
    expect({ n: summary.requests, cost: summary.cost_usd, input: summary.input_tokens }).toEqual(fromSql);
    // Re-exporting the last days rewrites those partitions only, without duplicates.
    await loupe("export", "--parquet", out, "--since", "2026-10-25");
    const [again] = await readParquet(out, "select count(*)::int AS n, count(distinct id)::int AS d from p");
    expect(again).toEqual({ n: COUNT, d: COUNT });
  });

  test("documented views answer common questions in one line", async () => {
    const [daily] = JSON.parse(await loupe("sql", "--json", "select sum(calls)::int AS calls, sum(cost_usd)::varchar AS cost from daily_usage"));
    const [total] = JSON.parse(await loupe("sql", "--json", "select count(*)::int AS calls, sum(cost_usd)::varchar AS cost from requests"));
    expect(daily).toEqual(total);
    const [models] = JSON.parse(await loupe("sql", "--json", "select sum(calls)::int AS calls from model_usage"));
    expect(models.calls).toBe(total.calls);
    const sessions = JSON.parse(await loupe("sql", "--json", "select session_id, calls from sessions"));
    expect(sessions.length).toBe(new Set(records.map((r) => r.session_id).filter(Boolean)).size);
  });
});

test("LOUPE_RETENTION_DAYS prunes old records at start", async () => {
  const dir = tempDir();
  const db = join(dir, "loupe.duckdb");
  writeSeedJournal(db, records);
  const days = 40;
  const cutoff = Date.now() - days * 86_400_000;
  const kept = records.filter((r) => Date.parse(r.started_at) >= cutoff).length;
  expect(kept).toBeGreaterThan(0);
  expect(kept).toBeLessThan(COUNT);
  const pruned = await startGateway({ dir, db, env: { LOUPE_RETENTION_DAYS: String(days) } });
  let n = -1;
  for (let i = 0; i < 50 && n !== kept; i++) {
    n = (await pruned.sql("select count(*)::int AS n from requests"))[0]!.n;
    if (n !== kept) await Bun.sleep(100);
  }
  expect(n).toBe(kept);
  expect(await pruned.stop()).toBe(0);
});
