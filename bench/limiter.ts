/**
 * The limiter alone: admits per second in process and through a real
 * redis-server (started here, as the tests do), for one requests limit and for
 * a call under three limits (key requests, project usd budget, model-pattern
 * tokens) settled after each admit; through Redis with Bun's own client and
 * with ioredis (src/limits/redis-link.ts). Each figure is the best of three
 * runs (the machine may be shared), with this process's CPU per admit (all
 * threads) in that run. `bun bench/limiter.ts [seconds per run]`.
 */
import type { Limit } from "../src/keys/definitions.ts";
import type { Limiter } from "../src/limits/limiter.ts";
import { createMemoryLimiter } from "../src/limits/memory-limiter.ts";
import { createRedisLimiter } from "../src/limits/redis-limiter.ts";
import { startRedis } from "../tests/support/redis.ts";

const SECONDS = Number(process.argv[2] ?? 1);
const RUNS = 3;
const IN_FLIGHT = 64;

const ONE: Limit[] = [{ scope: "key", subject: "key_bench", metric: "requests", amount: "1000000000", window: { seconds: 60 }, soft_pct: null }];
const THREE: Limit[] = [
  ...ONE,
  { scope: "project", subject: "bench", metric: "usd", amount: "1000000000000000", window: { period: "month" }, soft_pct: 80 },
  { scope: "model", subject: "gpt-4o*", metric: "tokens", amount: "1000000000000", window: { seconds: 3600 }, soft_pct: null },
];
const SUBJECTS = { key: "key_bench", project: "bench", user: "ann", model: "gpt-4o-mini" };
const USAGE = { tokens: 1200, costNano: 4_500_000n };

interface Figures {
  perSecond: number;
  cpuUs: number;
}

/** Sequentially (await each) when inFlight is 1, else that many loops at once. */
async function measure(limiter: Limiter, settle: boolean, inFlight: number): Promise<Figures> {
  let count = 0;
  const cpu = process.cpuUsage();
  const end = performance.now() + SECONDS * 1000;
  const loop = async () => {
    while (performance.now() < end) {
      for (let i = 0; i < 100; i++) {
        const pending = limiter.admit(SUBJECTS);
        const admission = pending instanceof Promise ? await pending : pending;
        if (settle) limiter.settle(admission, USAGE);
        count++;
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  const used = process.cpuUsage(cpu);
  return { perSecond: count / SECONDS, cpuUs: (used.user + used.system) / count };
}

async function best(limiter: Limiter, settle: boolean, inFlight: number): Promise<Figures> {
  let top: Figures = { perSecond: 0, cpuUs: 0 };
  for (let run = 0; run < RUNS; run++) {
    const figures = await measure(limiter, settle, inFlight);
    if (figures.perSecond > top.perSecond) top = figures;
  }
  return top;
}

const format = ({ perSecond, cpuUs }: Figures) => `${Math.round(perSecond).toLocaleString("en-US").padStart(9)} admits/s  ${cpuUs.toFixed(1).padStart(5)} µs CPU/admit`;

const rows: [string, Figures][] = [];
for (const [name, limits, settle] of [["1 limit", ONE, false], ["3 limits + settle", THREE, true]] as const) {
  const memory = createMemoryLimiter(limits);
  await measure(memory, settle, 1);
  rows.push([`in process, ${name}`, await best(memory, settle, 1)]);
}

const server = await startRedis();
try {
  for (const client of ["bun", "ioredis"] as const) {
    for (const [name, limits, settle] of [["1 limit", ONE, false], ["3 limits + settle", THREE, true]] as const) {
      const redis = await createRedisLimiter({ url: server.url, limits, commandTimeoutMs: 1000, client });
      await measure(redis, settle, IN_FLIGHT);
      rows.push([`redis (${client}), ${name}, one at a time`, await best(redis, settle, 1)]);
      rows.push([`redis (${client}), ${name}, ${IN_FLIGHT} in flight`, await best(redis, settle, IN_FLIGHT)]);
      if (redis.stats().redisFailures > 0) console.log(`  (${redis.stats().redisFailures} Redis failures during ${client}, ${name})`);
      await redis.close();
    }
  }
} finally {
  await server.dispose();
}

const width = Math.max(...rows.map(([name]) => name.length));
for (const [name, figures] of rows) console.log(`${name.padEnd(width)}  ${format(figures)}`);
