import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { runLoupe, startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";
import { startRedis, type RedisServer } from "../support/redis.ts";

/**
 * Limits hold exactly under concurrency, on a real gateway (limits counted in
 * process) and across two gateways sharing one real redis-server (the
 * definitions and the counters both go through Redis).
 */
const SECRET = "limits-e2e-secret-0123456789abcdef";
let upstream: MockUpstream;
let redis: RedisServer;

beforeAll(async () => {
  upstream = await startMockUpstream();
  redis = await startRedis();
});
afterAll(async () => {
  await upstream?.stop();
  await redis?.dispose();
});

function loupe(gateway: Gateway, args: string[], stdin?: string) {
  const run = runLoupe(gateway, args, { stdin, env: { LOUPE_SECRET: SECRET } });
  if (run.code !== 0) throw new Error(`loupe ${args.join(" ")}: ${run.stderr}`);
  return run.stdout;
}

/** A project with a stored OpenAI key, a gateway key, and a limit of 50 requests a minute. */
function define(gateway: Gateway): string {
  loupe(gateway, ["provider-keys", "set", "openai"], "sk-proj-LimitsE2eProviderKey0123456789\n");
  const { key } = JSON.parse(loupe(gateway, ["keys", "create", "--project", "batch", "--json"]).trim().split("\n").pop()!) as { key: string };
  loupe(gateway, ["limits", "set", "project", "batch", "--requests", "50/1m"]);
  return key;
}

const call = (gateway: Gateway, key: string) =>
  fetch(`${gateway.url}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
  }).then(async (response) => ({ status: response.status, headers: response.headers, body: await response.text() }));

describe("limits under concurrency", () => {
  test("one gateway: 200 concurrent calls against 50 per minute → exactly 50 reach the provider; 150 are 429 and recorded with the limit; the admin API and `loupe limits list` show 50 used", async () => {
    const gateway = await startGateway({ env: { LOUPE_SECRET: SECRET, LOUPE_OPENAI_BASE_URL: upstream.url } });
    try {
      const key = define(gateway);
      const before = upstream.requests.length;
      const results = await Promise.all(Array.from({ length: 200 }, () => call(gateway, key)));
      expect(results.filter((r) => r.status === 200).length).toBe(50);
      expect(results.filter((r) => r.status === 429).length).toBe(150);
      expect(upstream.requests.length - before).toBe(50);
      const refused = results.find((r) => r.status === 429)!;
      expect(refused.headers.get("x-loupe-ratelimit-scope")).toBe("project");
      expect(JSON.parse(refused.body).error.message).toContain('project "batch"');
      const rows = await gateway.sql("select status, limit_hit, count(*)::INTEGER as n from requests group by all order by status");
      expect(rows).toEqual([
        { status: 200, limit_hit: null, n: 50 },
        { status: 429, limit_hit: "project:batch requests 50/1m", n: 150 },
      ]);
      const livez = (await (await fetch(`${gateway.url}/livez`)).json()) as { limits: { backend: string } };
      expect(livez.limits.backend).toBe("memory");
      // The admin API and `loupe limits list` show the limit with what the current minute has counted.
      const listed = (await (await fetch(`${gateway.url}/api/limits`)).json()) as { items: { subject: string; usage: { used: string; reset_s: number } | null }[] };
      expect(listed.items).toHaveLength(1);
      expect(listed.items[0]).toMatchObject({ subject: "batch", usage: { used: "50" } });
      expect(listed.items[0]!.usage!.reset_s).toBeGreaterThan(0);
      expect(listed.items[0]!.usage!.reset_s).toBeLessThanOrEqual(61);
      const table = loupe(gateway, ["limits", "list"]).split("\n").map((line) => line.split("│").map((cell) => cell.trim()));
      expect(table[0]).toEqual(["scope", "subject", "limit", "used", "resets_in_s"]);
      const row = table.find((cells) => cells[0] === "project");
      expect(row?.slice(0, 2)).toEqual(["project", "batch"]);
      expect(row?.[3]).toBe("50");
      expect(Number(row?.[4])).toBeGreaterThan(0);
    } finally {
      await gateway.stop();
    }
  }, 60_000);

  test("two gateways sharing one Redis: definitions made on one are used by the other, and 200 concurrent calls across both → exactly 50 pass", async () => {
    const env = { LOUPE_SECRET: SECRET, LOUPE_OPENAI_BASE_URL: upstream.url, LOUPE_REDIS_URL: redis.url };
    const a = await startGateway({ env, dir: tempDir("loupe-a-") });
    const b = await startGateway({ env, dir: tempDir("loupe-b-") });
    try {
      const key = define(a);
      // Gateway b learns the definitions through Redis (it polls about once a second); the limit was made last.
      const deadline = Date.now() + 10_000;
      const limitsOf = async (gateway: Gateway) => ((await (await fetch(`${gateway.url}/api/limits`)).json()) as { items: unknown[] }).items.length;
      while ((await limitsOf(b)) === 0 && Date.now() < deadline) await Bun.sleep(100);
      expect(await limitsOf(b)).toBe(1);
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => call(i % 2 ? a : b, key)));
      expect(results.filter((r) => r.status === 200).length).toBe(50);
      expect(results.filter((r) => r.status === 429).length).toBe(150);
      // Both gateways served some of the 50: the count is shared, not split.
      const servedBy = await Promise.all([a, b].map(async (g) => Number((await g.sql("select count(*)::INTEGER as n from requests where status = 200"))[0]!.n)));
      expect(servedBy[0]! + servedBy[1]!).toBe(50);
      for (const gateway of [a, b]) {
        const livez = (await (await fetch(`${gateway.url}/livez`)).json()) as { limits: { backend: string; redisUp: boolean } };
        expect(livez.limits).toMatchObject({ backend: "redis", redisUp: true });
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 60_000);
});
