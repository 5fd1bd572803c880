import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import type { Limit } from "../../src/keys/definitions.ts";
import type { Limiter } from "../../src/limits/limiter.ts";
import { createRedisLimiter, type RedisLimiterOptions } from "../../src/limits/redis-limiter.ts";
import { slidingCount, startRedis, type RedisServer } from "../support/redis.ts";
import { until } from "../support/until.ts";

/**
 * The Redis limiter when Redis hangs rather than goes away (SIGSTOP: the
 * connection stays open and nothing is answered), and across a restart, with
 * the client it uses on Bun (Bun's own; tests/unit/redis-link.test.ts runs
 * both). Bun's client has no command timeout of its own.
 */
const TIMEOUT_MS = 100;
/** How late a timer may fire on a loaded machine (other test suites beside this one). */
const SLACK_MS = 200;

let server: RedisServer;
let raw: Redis;
const opened: Limiter[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  server = await startRedis();
  raw = new Redis(server.url, { maxRetriesPerRequest: 1 });
  raw.on("error", () => {});
  process.on("unhandledRejection", onUnhandled);
});

afterAll(async () => {
  await Promise.all(opened.map((limiter) => limiter.close()));
  raw.disconnect();
  process.off("unhandledRejection", onUnhandled);
  await server.dispose();
});

afterEach(async () => {
  server.thaw();
  await server.start();
});

function limit(subject: string, amount = "1000"): Limit {
  return { scope: "key", subject, metric: "requests", amount, window: { seconds: 60 }, soft_pct: null };
}

async function gateway(limits: Limit[], options: Partial<RedisLimiterOptions> = {}): Promise<Limiter> {
  const limiter = await createRedisLimiter({ url: server.url, limits, commandTimeoutMs: TIMEOUT_MS, pauseAfterFailureMs: 50, ...options });
  opened.push(limiter);
  return limiter;
}



/** Admits `count` calls at once; how long the slowest waited, and the admissions. */
async function admitAtOnce(limiter: Limiter, key: string, count: number) {
  const started = performance.now();
  let slowest = 0;
  const admissions = await Promise.all(
    Array.from({ length: count }, async () => {
      const admission = await limiter.admit({ key });
      slowest = Math.max(slowest, performance.now() - started);
      return admission;
    }),
  );
  return { slowest, admissions };
}

describe("Redis hangs", () => {
  test("fail-open: 100 calls at once wait no longer than the command timeout, are admitted on local counts, and Redis has them all once it answers again", async () => {
    const limiter = await gateway([limit("key_hang")]);
    for (let i = 0; i < 5; i++) expect((await limiter.admit({ key: "key_hang" })).allowed).toBe(true);
    server.freeze();
    const { slowest, admissions } = await admitAtOnce(limiter, "key_hang", 100);
    expect(slowest).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expect(admissions.every((admission) => admission.allowed)).toBe(true);
    expect(limiter.stats()).toMatchObject({ redisUp: false, failOpenAdmits: 100, pendingReconcile: 1 });
    expect(limiter.stats().redisFailures).toBeGreaterThanOrEqual(100);
    // Still hung after the pause: the next try waits the timeout again, no longer.
    await Bun.sleep(60);
    const next = await admitAtOnce(limiter, "key_hang", 10);
    expect(next.slowest).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expect(limiter.stats().failOpenAdmits).toBe(110);

    server.thaw();
    await until(async () => {
      await limiter.admit({ key: "key_hang" });
      return limiter.stats().redisUp && limiter.stats().pendingReconcile === 0;
    });
    const failOpen = limiter.stats().failOpenAdmits;
    expect((await limiter.admit({ key: "key_hang" })).allowed).toBe(true);
    expect(limiter.stats().failOpenAdmits).toBe(failOpen);
    // Every admitted call is in Redis; the admits that timed out but ran once Redis went on count twice (strict).
    expect(await slidingCount(raw, "loupe:limit:key:key_hang:requests:60s")).toBeGreaterThanOrEqual(5 + 110 + 1);
  });

  test("fail-closed: calls under a limit are refused as unavailable within the command timeout", async () => {
    const limiter = await gateway([limit("key_hang_closed")], { failOpen: false });
    expect((await limiter.admit({ key: "key_hang_closed" })).allowed).toBe(true);
    server.freeze();
    const { slowest, admissions } = await admitAtOnce(limiter, "key_hang_closed", 20);
    expect(slowest).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expect(admissions.every((admission) => !admission.allowed && admission.unavailable !== undefined)).toBe(true);
    expect(limiter.stats().failOpenAdmits).toBe(0);
    server.thaw();
    await until(async () => (await limiter.admit({ key: "key_hang_closed" })).allowed);
    expect(limiter.stats().redisUp).toBe(true);
  });

  test("a settle on a hung Redis counts locally and is added when Redis answers", async () => {
    const tokens: Limit = { scope: "key", subject: "key_hang_settle", metric: "tokens", amount: "1000000", window: { period: "day" }, soft_pct: null };
    const limiter = await gateway([tokens]);
    const admission = await limiter.admit({ key: "key_hang_settle" });
    server.freeze();
    limiter.settle(admission, { tokens: 40, costNano: 0n });
    await until(() => limiter.stats().pendingReconcile === 1, 1000);
    expect((await limiter.usage(tokens))?.used).toBe("40");
    server.thaw();
    await until(async () => {
      await limiter.admit({ key: "key_hang_settle" });
      return limiter.stats().pendingReconcile === 0;
    });
    const [key] = await raw.keys("loupe:limit:key:key_hang_settle:tokens:day:*");
    // The settle sent while Redis hung ran once it went on, and the kept count was added too (strict).
    expect(Number(await raw.get(key!))).toBe(80);
  });

  test("close() returns at once while Redis hangs", async () => {
    const limiter = await gateway([limit("key_hang_close")]);
    server.freeze();
    const inFlight = limiter.admit({ key: "key_hang_close" });
    const started = performance.now();
    await limiter.close();
    expect(performance.now() - started).toBeLessThan(SLACK_MS);
    expect((await inFlight).allowed).toBe(true);
  });
});

describe("Redis restarts", () => {
  test("the limiter reconnects by itself and admits through Redis again, its script loaded anew", async () => {
    const limiter = await gateway([limit("key_restart", "3")], { failOpen: false });
    expect((await limiter.admit({ key: "key_restart" })).allowed).toBe(true);
    await server.stop();
    expect((await limiter.admit({ key: "key_restart" })).unavailable).toBeDefined();
    await server.start();
    await until(() => limiter.stats().redisUp);
    // Restarted empty: a fresh count, through the script (not in the new server's cache until loaded again).
    const admissions = [];
    for (let i = 0; i < 4; i++) admissions.push(await limiter.admit({ key: "key_restart" }));
    expect(admissions.map((admission) => admission.allowed)).toEqual([true, true, true, false]);
    expect(admissions[3]!.blocked).toMatchObject({ used: "3" });
  });

  test("nothing was left rejected without a handler", async () => {
    await Bun.sleep(50);
    expect(unhandled).toEqual([]);
  });
});
