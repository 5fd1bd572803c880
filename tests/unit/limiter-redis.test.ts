import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import type { Limit } from "../../src/keys/definitions.ts";
import { createLimiter } from "../../src/limits/create-limiter.ts";
import type { Limiter } from "../../src/limits/limiter.ts";
import { createRedisLimiter } from "../../src/limits/redis-limiter.ts";
import { slidingCount, startRedis, type RedisServer } from "../support/redis.ts";
import { until } from "../support/until.ts";

let server: RedisServer;
let raw: Redis;
const opened: Limiter[] = [];

beforeAll(async () => {
  server = await startRedis();
  raw = new Redis(server.url, { maxRetriesPerRequest: 1 });
  raw.on("error", () => {});
});

afterAll(async () => {
  await Promise.all(opened.map((limiter) => limiter.close()));
  raw.disconnect();
  await server.dispose();
});

function limit(fields: Partial<Limit> & Pick<Limit, "scope" | "subject">): Limit {
  return { metric: "requests", amount: "50", window: { seconds: 60 }, soft_pct: null, ...fields };
}

async function gateway(limits: Limit[], options: { failOpen?: boolean; log?: (message: string) => void } = {}): Promise<Limiter> {
  const limiter = await createRedisLimiter({ url: server.url, limits, ...options });
  opened.push(limiter);
  return limiter;
}



describe("limits shared through Redis", () => {
  test("two gateways, 100 concurrent admits each against 50 per minute: exactly 50 pass in total", async () => {
    const limits = [limit({ scope: "key", subject: "key_shared" })];
    const [a, b] = await Promise.all([gateway(limits), gateway(limits)]);
    const calls = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a! : b!).admit({ key: "key_shared" }));
    const admissions = await Promise.all(calls);
    expect(admissions.filter((admission) => admission.allowed).length).toBe(50);
    expect(admissions.find((admission) => !admission.allowed)?.blocked).toMatchObject({ scope: "key", subject: "key_shared", used: "50", amount: "50" });
    expect(a!.stats()).toMatchObject({ backend: "redis", redisUp: true, redisFailures: 0, failOpenAdmits: 0 });
  });

  test("counters are namespaced loupe:limit:… and expire", async () => {
    const limiter = await gateway([limit({ scope: "project", subject: "ns test", amount: "5" }), limit({ scope: "project", subject: "ns test", amount: "5", window: { period: "month" } })]);
    await limiter.admit({ project: "ns test" });
    const keys = (await raw.keys("loupe:limit:project:ns%20test:*")).sort();
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe("loupe:limit:project:ns%20test:requests:60s");
    expect(keys[1]).toMatch(/^loupe:limit:project:ns%20test:requests:month:\d{4}-\d{2}-01$/);
    for (const key of keys) expect(await raw.pttl(key)).toBeGreaterThan(0);
  });

  test("the same figures as in process: tightest, Retry-After, soft warning", async () => {
    const limiter = await gateway([limit({ scope: "user", subject: "figures", amount: "4", soft_pct: 75 })]);
    const now = Math.floor(Date.now() / 1000) * 1000;
    const admissions = [];
    for (let i = 0; i < 5; i++) admissions.push(await limiter.admit({ user: "figures" }, now));
    expect(admissions[0]!.tightest).toEqual({ scope: "user", metric: "requests", limit: "4", remaining: "3", resetS: 61 });
    expect(admissions[2]!.warnings).toEqual(["user:figures requests/60s 75% (soft 75%)"]);
    expect(admissions[4]!.blocked).toEqual({ scope: "user", subject: "figures", metric: "requests", window: { seconds: 60 }, amount: "4", used: "4", retryAfterS: 61 });
  });

  test("settle adds tokens and exact nano-USD; a stream that pushes a budget over blocks the next call", async () => {
    const limiter = await gateway([
      limit({ scope: "project", subject: "spend", metric: "usd", amount: "9007199254740993", window: { period: "day" } }),
      limit({ scope: "project", subject: "spend", metric: "tokens", amount: "100000", window: { seconds: 3600 } }),
    ]);
    const first = await limiter.admit({ project: "spend" });
    expect(first).toMatchObject({ allowed: true, needsUsage: true });
    limiter.settle(first, { tokens: 1234, costNano: 9_007_199_254_740_993n });
    const next = await limiter.admit({ project: "spend" });
    const [usdKey] = await raw.keys("loupe:limit:project:spend:usd:day:*");
    // 2^53 + 1: not a double, exact in Redis.
    expect(await raw.get(usdKey!)).toBe("9007199254740993");
    expect(await slidingCount(raw, "loupe:limit:project:spend:tokens:3600s")).toBe(1234);
    expect(next.allowed).toBe(false);
    expect(next.blocked).toMatchObject({ scope: "project", subject: "spend", metric: "usd", window: { period: "day" } });
  });

  test("windows move on in Redis as in process: sub-buckets leave, Retry-After from the script, a period's end", async () => {
    const limiter = await gateway([
      limit({ scope: "user", subject: "clock", metric: "tokens", amount: "1000", window: { seconds: 3600 } }),
      limit({ scope: "project", subject: "clock", amount: "2", window: { period: "day" } }),
    ]);
    const t0 = Date.parse("2031-05-06T10:00:00Z");
    limiter.settle(await limiter.admit({ user: "clock" }, t0), { tokens: 600, costNano: 0n }, t0);
    limiter.settle(await limiter.admit({ user: "clock" }, t0 + 600_000), { tokens: 400, costNano: 0n }, t0 + 600_000);
    const refused = await limiter.admit({ user: "clock" }, t0 + 1_200_000);
    // The first 600 leave after an hour and a sub-bucket (60 s); then 400 of 1000 are counted.
    expect(refused.blocked).toMatchObject({ metric: "tokens", used: "1000", retryAfterS: 3660 - 1200 });
    expect((await limiter.admit({ user: "clock" }, t0 + 3_660_000)).tightest).toMatchObject({ remaining: "600", resetS: 600 });
    expect(Object.keys(await raw.hgetall("loupe:limit:user:clock:tokens:3600s"))).toEqual([String((t0 + 600_000) / 60_000)]);

    await limiter.admit({ project: "clock" }, Date.parse("2031-05-06T23:00:00Z"));
    await limiter.admit({ project: "clock" }, Date.parse("2031-05-06T23:30:00Z"));
    expect((await limiter.admit({ project: "clock" }, Date.parse("2031-05-06T23:59:59Z"))).blocked).toMatchObject({ window: { period: "day" }, retryAfterS: 1 });
    expect((await limiter.admit({ project: "clock" }, Date.parse("2031-05-07T00:00:00Z"))).tightest).toMatchObject({ remaining: "1" });
  });

  test("usage reads the shared counters: calls admitted on either gateway, settled tokens and nano-USD, dropping as windows move on", async () => {
    const requests = limit({ scope: "project", subject: "usage", amount: "100" });
    const tokens = limit({ scope: "project", subject: "usage", metric: "tokens", amount: "100000", window: { seconds: 3600 } });
    const usd = limit({ scope: "project", subject: "usage", metric: "usd", amount: "90000000000", window: { period: "day" } });
    const pattern = limit({ scope: "model", subject: "usage-*", amount: "100" });
    const limits = [requests, tokens, usd, pattern];
    const [a, b] = await Promise.all([gateway(limits), gateway(limits)]);
    const t0 = Date.parse("2032-07-08T12:00:00Z");
    for (let i = 0; i < 7; i++) {
      const admission = await (i % 2 ? a : b)!.admit({ project: "usage", model: i < 3 ? "usage-a" : "usage-b" }, t0 + 1000 * i);
      (i % 2 ? a : b)!.settle(admission, { tokens: 100 + i, costNano: 1_000_000_001n }, t0 + 1000 * i);
    }
    const at = t0 + 6500;
    for (const limiter of [a!, b!]) {
      expect(await limiter.usage(requests, at)).toEqual({ used: "7", resetS: 55 });
      expect(await limiter.usage(tokens, at)).toEqual({ used: String(7 * 100 + 21), resetS: 3654 });
      expect(await limiter.usage(usd, at)).toEqual({ used: "7000000007", resetS: 12 * 3600 - 6 });
      expect(await limiter.usage(pattern, at)).toEqual({ used: "7", resetS: 55 });
    }
    // The first call leaves the 60 s window a sub-bucket (1 s) after it; all of them 61 s after the last.
    expect(await a!.usage(requests, t0 + 61_000)).toEqual({ used: "6", resetS: 1 });
    expect(await a!.usage(requests, t0 + 67_000)).toEqual({ used: "0", resetS: 0 });
    // Tokens count in one-minute sub-buckets: all seven settles leave together, an hour and a minute on.
    expect(await a!.usage(tokens, t0 + 3_659_000)).toEqual({ used: "721", resetS: 1 });
    expect(await a!.usage(tokens, t0 + 3_660_000)).toEqual({ used: "0", resetS: 0 });
    expect(await a!.usage(usd, Date.parse("2032-07-09T00:00:00Z"))).toEqual({ used: "0", resetS: 0 });
    // Reading changes nothing in Redis: the earlier figure is still there.
    expect(await b!.usage(requests, at)).toEqual({ used: "7", resetS: 55 });
    expect(await a!.usage(limit({ scope: "project", subject: "not-defined" }), at)).toBeUndefined();
  });

  test("a flushed script cache (Redis restarted elsewhere) falls back from EVALSHA to EVAL", async () => {
    const limiter = await gateway([limit({ scope: "key", subject: "key_noscript", amount: "2" })]);
    await raw.script("FLUSH");
    expect((await limiter.admit({ key: "key_noscript" })).allowed).toBe(true);
    expect(limiter.stats().redisFailures).toBe(0);
  });

  test("fast calls far from a big limit go on leases: a fraction of the Redis round trips, never over the amount, exact again once leases end", async () => {
    const limits = [limit({ scope: "key", subject: "key_lease", amount: "5000" }), limit({ scope: "project", subject: "lease", amount: "100000", window: { period: "day" } })];
    const [a, b] = await Promise.all([gateway(limits), gateway(limits)]);
    const subjects = { key: "key_lease", project: "lease" };
    const dayKey = `loupe:limit:project:lease:requests:day:${new Date().toISOString().slice(0, 10)}`;
    /** `rounds` rounds of `width` concurrent admits, half on each gateway. */
    const burst = async (rounds: number, width: number) => {
      const admissions = [];
      for (let round = 0; round < rounds; round++) admissions.push(...(await Promise.all(Array.from({ length: width }, (_, i) => (i % 2 ? a! : b!).admit(subjects)))));
      return admissions;
    };
    const evalshas = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await raw.info("commandstats"))?.[1] ?? 0);

    const before = await evalshas();
    const first = await burst(60, 50);
    expect(first.every((admission) => admission.allowed)).toBe(true);
    expect(await evalshas() - before).toBeLessThan(first.length / 4);
    // Remaining figures still move per call: as of the lease's grant, less its own calls since (the other gateway's since then are not seen).
    expect(Math.abs(Number(first.at(-1)!.tightest!.remaining) - 2000)).toBeLessThanOrEqual(2 * 64);
    // Once the leases are over, their unused units are given back: Redis counts exactly the calls admitted.
    await until(async () => (await slidingCount(raw, "loupe:limit:key:key_lease:requests:60s")) === 3000);
    expect(Number(await raw.get(dayKey))).toBe(3000);

    // Against the end of the window: never more than 5,000 in all, however the leases fall.
    const second = await burst(60, 50);
    const admitted = 3000 + second.filter((admission) => admission.allowed).length;
    expect(admitted).toBeLessThanOrEqual(5000);
    expect(admitted).toBeGreaterThanOrEqual(5000 - 2 * 64);
    expect(second.find((admission) => !admission.allowed)?.blocked).toMatchObject({ scope: "key", amount: "5000" });
    await until(async () => (await slidingCount(raw, "loupe:limit:key:key_lease:requests:60s")) === admitted);
    // Near the amount nothing is leased: what the leases held is admitted one by one, to exactly 5,000.
    const rest = await burst(4, 50);
    expect(admitted + rest.filter((admission) => admission.allowed).length).toBe(5000);
    expect(await slidingCount(raw, "loupe:limit:key:key_lease:requests:60s")).toBe(5000);
    expect(Number(await raw.get(dayKey))).toBe(5000);
  });

  test("small limits and tokens or usd limits are never leased: one Redis admit per call", async () => {
    const small = await gateway([limit({ scope: "key", subject: "key_small", amount: "1000" })]);
    const spend = await gateway([limit({ scope: "key", subject: "key_spend", amount: "100000" }), limit({ scope: "key", subject: "key_spend", metric: "usd", amount: "100000000000", window: { period: "day" } })]);
    const evalshas = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await raw.info("commandstats"))?.[1] ?? 0);
    const before = await evalshas();
    for (let round = 0; round < 3; round++) await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? small : spend).admit({ key: i % 2 ? "key_small" : "key_spend" })));
    expect(await evalshas() - before).toBe(300);
  });

  test("createLimiter picks Redis with a URL, the process without", async () => {
    const shared = await createLimiter({ redisUrl: server.url, limits: [limit({ scope: "key", subject: "key_factory" })] });
    opened.push(shared);
    expect(shared.stats().backend).toBe("redis");
    expect((await createLimiter({})).stats().backend).toBe("memory");
  });
});

describe("Redis unreachable", () => {
  test("fail-open: calls keep flowing quickly on local counts, and the counts reach Redis when it returns", async () => {
    const limiter = await gateway([limit({ scope: "key", subject: "key_outage", amount: "1000" }), limit({ scope: "key", subject: "key_outage", metric: "tokens", amount: "1000000", window: { period: "day" } })]);
    for (let i = 0; i < 10; i++) expect((await limiter.admit({ key: "key_outage" })).allowed).toBe(true);
    await server.stop();
    try {
      const slowest = { ms: 0 };
      const admitted = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const admission = await limiter.admit({ key: "key_outage" });
        slowest.ms = Math.max(slowest.ms, performance.now() - started);
        admitted.push(admission.allowed);
        limiter.settle(admission, { tokens: 10, costNano: 0n });
      }
      expect(admitted.every(Boolean)).toBe(true);
      expect(slowest.ms).toBeLessThan(300);
      expect(limiter.stats()).toMatchObject({ redisUp: false, failOpenAdmits: 20 });
      expect(limiter.stats().redisFailures).toBeGreaterThanOrEqual(20);
      expect(limiter.stats().pendingReconcile).toBeGreaterThan(0);
      // Meanwhile usage is this process's own count, the one admits go by.
      expect((await limiter.usage(limit({ scope: "key", subject: "key_outage", amount: "1000" })))?.used).toBe("20");
    } finally {
      // Back, empty (no persistence): what was counted during the outage is added.
      await server.start();
    }
    await until(() => limiter.stats().redisUp && limiter.stats().pendingReconcile === 0);
    expect(await slidingCount(raw, "loupe:limit:key:key_outage:requests:60s")).toBe(20);
    const [tokensKey] = await raw.keys("loupe:limit:key:key_outage:tokens:day:*");
    expect(await raw.get(tokensKey!)).toBe("200");
    expect((await limiter.admit({ key: "key_outage" })).tightest).toMatchObject({ remaining: String(1000 - 21) });
  });

  test("fail-closed: calls under a limit are refused with a reason, quickly; calls under none still pass", async () => {
    const limiter = await gateway([limit({ scope: "key", subject: "key_closed" })], { failOpen: false });
    expect((await limiter.admit({ key: "key_closed" })).allowed).toBe(true);
    await server.stop();
    try {
      const started = performance.now();
      const refused = await limiter.admit({ key: "key_closed" });
      expect(performance.now() - started).toBeLessThan(300);
      expect(refused.allowed).toBe(false);
      expect(refused.blocked).toBeUndefined();
      expect(refused.unavailable).toContain("unreachable");
      expect((await limiter.admit({ key: "key_other" })).allowed).toBe(true);
      expect(limiter.stats().failOpenAdmits).toBe(0);
      expect(await limiter.usage(limit({ scope: "key", subject: "key_closed" }))).toBeUndefined();
    } finally {
      await server.start();
    }
    await until(() => limiter.stats().redisUp);
    expect((await limiter.admit({ key: "key_closed" })).allowed).toBe(true);
  });

  test("an outage is said once when it begins and once when it ends, not once per call", async () => {
    const said: string[] = [];
    const limiter = await gateway([limit({ scope: "key", subject: "key_said", amount: "1000" })], { log: (m) => said.push(m) });
    for (let i = 0; i < 5; i++) await limiter.admit({ key: "key_said" });
    expect(said).toEqual([]);
    await server.stop();
    try {
      for (let i = 0; i < 50; i++) limiter.settle(await limiter.admit({ key: "key_said" }), { tokens: 1, costNano: 0n });
    } finally {
      await server.start();
    }
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/^limits: Redis at 127\.0\.0\.1:\d+ is unreachable or too slow: calls are admitted on this gateway's own counts/);
    await until(() => limiter.stats().redisUp);
    for (let i = 0; i < 5; i++) await limiter.admit({ key: "key_said" });
    expect(said).toHaveLength(2);
    expect(said[1]).toMatch(/^limits: Redis at 127\.0\.0\.1:\d+ answers again \(\d+ calls did without it so far\)$/);
  });

  test("Redis down at start: the limiter is ready within its connect timeout and counts locally", async () => {
    const started = performance.now();
    const limiter = await createRedisLimiter({ url: "redis://127.0.0.1:1", connectTimeoutMs: 200, limits: [limit({ scope: "key", subject: "key_a", amount: "1" })] });
    opened.push(limiter);
    expect(performance.now() - started).toBeLessThan(1000);
    expect((await limiter.admit({ key: "key_a" })).allowed).toBe(true);
    expect((await limiter.admit({ key: "key_a" })).allowed).toBe(false);
    expect(limiter.stats()).toMatchObject({ redisUp: false, failOpenAdmits: 1, pendingReconcile: 1 });
  });
});
