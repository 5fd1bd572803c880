import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startBalancer, type Balancer } from "../support/balancer.ts";
import { startClickHouse, type ClickHouseServer } from "../support/clickhouse.ts";
import { runLoupe, startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";
import { startRedis, type RedisServer } from "../support/redis.ts";
import { until } from "../support/until.ts";

/**
 * Part 9's replica test: three gateways on one ClickHouse and one Redis,
 * behind a round-robin balancer. 3,000 mixed calls become exactly 3,000 rows,
 * each once; a limit holds across the replicas; a replica killed with
 * SIGKILL mid-traffic delivers every call it answered, once, after restart.
 */
const SECRET = "replica-test-secret-0123456789abcdef";
const TOTAL = 3000;
const CONCURRENCY = 24;

let clickhouse: ClickHouseServer;
let redis: RedisServer;
let upstream: MockUpstream;
let balancer: Balancer;
const replicas: (Gateway | undefined)[] = [];

const env = () => ({
  LOUPE_SECRET: SECRET,
  LOUPE_OPENAI_BASE_URL: upstream.url,
  LOUPE_ANTHROPIC_BASE_URL: upstream.url,
  LOUPE_CLICKHOUSE_URL: clickhouse.url,
  LOUPE_CLICKHOUSE_USER: clickhouse.user,
  LOUPE_CLICKHOUSE_PASSWORD: clickhouse.password,
  LOUPE_REDIS_URL: redis.url,
  // Records leave the journal every 2 s: a replica killed mid-traffic has a second or two of answered calls only there.
  LOUPE_FLUSH_INTERVAL_MS: "2000",
});

beforeAll(async () => {
  [clickhouse, redis, upstream] = await Promise.all([startClickHouse(), startRedis(), startMockUpstream()]);
  for (let i = 0; i < 3; i++) replicas.push(await startGateway({ dir: tempDir(`loupe-replica-${i}-`), env: env() }));
  balancer = startBalancer(() => replicas.filter((r): r is Gateway => r !== undefined).map((r) => r.url));
}, 60_000);
afterAll(async () => {
  await balancer?.stop();
  for (const replica of replicas) await replica?.stop();
  await upstream?.stop();
  await redis?.dispose();
  await clickhouse?.dispose();
});

/** One of four kinds of call, by index: OpenAI chat, OpenAI stream, Anthropic message, Anthropic stream; every 10th an upstream error. */
async function call(i: number, user = `u-${i % 7}`): Promise<{ id: string | null; status: number }> {
  const anthropic = i % 4 >= 2;
  const stream = i % 2 === 1;
  const headers: Record<string, string> = { "content-type": "application/json", "x-loupe-user": user, "x-loupe-session-id": `s-${i % 13}` };
  if (i % 10 === 9) headers["x-mock-status"] = "500";
  const url = anthropic ? `${balancer.url}/anthropic/v1/messages` : `${balancer.url}/openai/v1/chat/completions`;
  if (anthropic) Object.assign(headers, { "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01" });
  else headers.authorization = "Bearer sk-test";
  const body = anthropic
    ? { model: "claude-sonnet-4-5", max_tokens: 16, stream, messages: [{ role: "user", content: `hi ${i}` }] }
    : { model: "gpt-4o-mini", stream, ...(stream ? { stream_options: { include_usage: true } } : {}), messages: [{ role: "user", content: `hi ${i}` }] };
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
  // Answered means read to the end: a stream cut by a dying replica throws here, and its call does not count.
  await response.arrayBuffer();
  return { id: response.headers.get("x-loupe-request-id"), status: response.status };
}

/** Runs calls `from`…`to - 1` with CONCURRENCY in flight; returns the ids of those answered (whatever their status). */
async function traffic(from: number, to: number, onProgress?: (done: number) => void): Promise<string[]> {
  const ids: string[] = [];
  let next = from;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < to) {
        const i = next++;
        try {
          const answer = await call(i);
          if (answer.id && answer.status !== 502) ids.push(answer.id);
        } catch {
          // cut mid-answer by the kill: not answered
        }
        onProgress?.(++done);
      }
    }),
  );
  return ids;
}

async function clickhouseCount(): Promise<{ rows: number; ids: number }> {
  const [row] = await clickhouse.rows<{ rows: string; ids: string }>("SELECT count() AS rows, uniqExact(id) AS ids FROM loupe.requests");
  return { rows: Number(row!.rows), ids: Number(row!.ids) };
}


describe("three replicas on one ClickHouse and one Redis", () => {
  test(`${TOTAL} mixed calls become exactly ${TOTAL} rows, each once, spread over the replicas`, async () => {
    const ids = await traffic(0, TOTAL);
    expect(ids.length).toBe(TOTAL);
    await until(async () => (await clickhouseCount()).rows >= TOTAL, 30_000);
    await Bun.sleep(500);
    expect(await clickhouseCount()).toEqual({ rows: TOTAL, ids: TOTAL });
    const stored = await clickhouse.rows<{ id: string }>("SELECT id FROM loupe.requests");
    expect(new Set(stored.map((row) => row.id))).toEqual(new Set(ids));
    // Round robin: each replica took a third.
    expect(balancer.served.map((n) => Math.round((n / TOTAL) * 3))).toEqual([1, 1, 1]);
    // Any replica's analytics, SQL and dashboard figures count every replica's calls.
    for (const replica of replicas) {
      const summary = (await (await fetch(`${replica!.url}/api/stats/summary`)).json()) as { requests: number; errors: number };
      expect(summary.requests).toBe(TOTAL);
      expect(summary.errors).toBe(TOTAL / 10);
      const sql = (await (await fetch(`${replica!.url}/api/sql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql: "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM requests" }) })).json()) as { rows: unknown[][] };
      expect(sql.rows.map((row) => row.map(Number))).toEqual([[TOTAL, TOTAL]]);
    }
  }, 120_000);

  test("a request limit holds across the replicas (counted in Redis)", async () => {
    const set = runLoupe(replicas[0]!, ["limits", "set", "user", "capped", "--requests", "30/1m"], { env: { LOUPE_SECRET: SECRET } });
    expect([set.code, set.stderr]).toEqual([0, ""]);
    // Every replica picks up the definition from Redis (polled about once a second).
    await Bun.sleep(2500);
    const statuses = await Promise.all(Array.from({ length: 60 }, (_, i) => call(i * 2, "capped").then((answer) => answer.status)));
    const served = statuses.filter((status) => status === 200).length;
    expect(served).toBe(30);
    expect(statuses.filter((status) => status === 429).length).toBe(30);
    const cleared = runLoupe(replicas[0]!, ["limits", "clear", "user", "capped"], { env: { LOUPE_SECRET: SECRET } });
    expect(cleared.code).toBe(0);
    // The refused calls are records too.
    await until(async () => (await clickhouseCount()).rows >= TOTAL + 60, 30_000);
    const [refused] = await clickhouse.rows<{ n: string }>("SELECT count() AS n FROM loupe.requests WHERE user_id = 'capped' AND status = 429 AND limit_hit IS NOT NULL");
    expect(Number(refused!.n)).toBe(30);
  }, 60_000);

  test("kill -9 of a replica mid-traffic: every call it answered arrives once, after its restart replays its journal", async () => {
    const before = (await clickhouseCount()).rows;
    const victim = replicas[2]!;
    let killed = false;
    const ids = await traffic(TOTAL, 2 * TOTAL, (done) => {
      if (done === 1000 && !killed) {
        killed = true;
        victim.proc.kill("SIGKILL");
        replicas[2] = undefined;
      }
    });
    expect(killed).toBe(true);
    await victim.proc.exited;
    // Nearly every call was answered (the balancer skips the dead replica); a few were cut when it died.
    expect(ids.length).toBeGreaterThan(TOTAL - 3 * CONCURRENCY);
    const restarted = await startGateway({ dir: victim.dir, db: victim.db, env: env() });
    replicas[2] = restarted;
    expect(restarted.stderr()).toMatch(/journal: [1-9]\d* record\(s\) recovered from a previous run/);
    await until(async () => (await clickhouseCount()).rows >= before + ids.length, 30_000);
    await Bun.sleep(1000);
    const after = await clickhouseCount();
    // Exactly the answered calls (and the 60 limited ones before), each once: none lost, none twice.
    expect(after.rows).toBe(after.ids);
    const stored = new Set((await clickhouse.rows<{ id: string }>(`SELECT id FROM loupe.requests`)).map((row) => row.id));
    const missing = ids.filter((id) => !stored.has(id));
    expect(missing).toEqual([]);
    // Calls cut mid-answer may still have been recorded (the gateway saw them through): at most one per connection.
    expect(after.rows - before - ids.length).toBeLessThanOrEqual(CONCURRENCY);
  }, 120_000);
});
