import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { createRedisLink } from "../../src/limits/create-redis-link.ts";
import type { RedisLink } from "../../src/limits/redis-link.ts";
import { startRedis, type RedisServer } from "../support/redis.ts";
import { until } from "../support/until.ts";

/**
 * The limiter's two ways to Redis (src/limits/redis-link.ts), both run here on
 * Bun: Bun's own client and ioredis (Deno's). What the limiter relies on: a
 * command never waits longer than the command timeout, a lost connection
 * fails commands at once, the link comes back by itself after a restart, and
 * close() never hangs. No promise is ever left rejected without a handler.
 */
const TIMEOUT_MS = 100;
/** How late a timer may fire on a loaded machine (other test suites beside this one). */
const SLACK_MS = 200;

let server: RedisServer;
const opened: RedisLink[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  server = await startRedis();
  process.on("unhandledRejection", onUnhandled);
});

afterAll(async () => {
  await Promise.all(opened.map((link) => link.close()));
  process.off("unhandledRejection", onUnhandled);
  await server.dispose();
});

afterEach(async () => {
  server.thaw();
  await server.start();
});

interface Opened {
  link: RedisLink;
  /** How many times the link has (re)connected. */
  readonly connections: number;
}

async function open(client: "bun" | "ioredis", url = server.url, waitForReady = true): Promise<Opened> {
  let connections = 0;
  const link = createRedisLink({ url, client, commandTimeoutMs: TIMEOUT_MS, connectTimeoutMs: 1000, onReady: () => connections++ });
  opened.push(link);
  if (waitForReady) await until(() => link.ready);
  return {
    link,
    get connections() {
      return connections;
    },
  };
}


/** How long `pending` took to settle, and its value or error. */
async function timed(pending: Promise<unknown>): Promise<{ ms: number; value?: unknown; error?: Error }> {
  const started = performance.now();
  try {
    const value = await pending;
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error: error as Error };
  }
}

describe.each(["bun", "ioredis"] as const)("Redis link through %s", (client) => {
  test("commands, a pipeline of counts and a hash read", async () => {
    const { link } = await open(client);
    const key = `link:${client}:hash`;
    await link.sendAll([
      ["HINCRBY", key, "7", "2"],
      ["HINCRBY", key, "8", "3"],
      ["PEXPIRE", key, "60000"],
    ]);
    expect(await link.readHash(key)).toEqual({ "7": "2", "8": "3" });
    expect(await link.readHash(`link:${client}:none`)).toEqual({});
    expect(await link.send("EVAL", ["return {1, -1, KEYS[1]}", "1", "k"])).toEqual([1, -1, "k"]);
    expect(await link.send("GET", [`link:${client}:none`])).toBeNull();
    const refused = await timed(link.send("EVALSHA", ["0".repeat(40), "0"]));
    expect(refused.error?.message).toStartWith("NOSCRIPT");
    const wrongType = await timed(link.sendAll([["INCRBY", key, "1"]]));
    expect(wrongType.error?.message).toContain("WRONGTYPE");
  });

  test("Redis hangs (SIGSTOP): a command fails after the command timeout, not later, and the link works again once Redis does", async () => {
    const { link, connections } = await open(client);
    server.freeze();
    const hung = await timed(link.send("PING", []));
    expect(hung.error).toBeDefined();
    expect(hung.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
    expect(hung.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    const batch = await timed(link.sendAll([["INCRBY", `link:${client}:frozen`, "1"]]));
    expect(batch.error).toBeDefined();
    expect(batch.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    server.thaw();
    expect(await link.send("PING", [])).toBe("PONG");
    // The connection stayed: the command that failed while Redis hung ran once it went on.
    expect(await link.send("GET", [`link:${client}:frozen`])).toBe("1");
    expect(connections).toBe(1);
  });

  test("Redis restarts: commands fail at once while it is away; the link reconnects by itself", async () => {
    const opened = await open(client);
    const { link } = opened;
    await server.stop();
    await until(() => !link.ready);
    const away = await timed(link.send("PING", []));
    expect(away.error).toBeDefined();
    expect(away.ms).toBeLessThan(50);
    expect((await timed(link.readHash("k"))).error).toBeDefined();
    await Bun.sleep(600);
    await server.start();
    await until(() => link.ready, 2000);
    expect(opened.connections).toBe(2);
    expect(await link.send("PING", [])).toBe("PONG");
  });

  test("Redis down at start: the link keeps trying and connects once Redis is there", async () => {
    await server.stop();
    const opened = await open(client, server.url, false);
    await Bun.sleep(300);
    expect(opened.link.ready).toBe(false);
    expect((await timed(opened.link.send("PING", []))).error).toBeDefined();
    await server.start();
    await until(() => opened.link.ready, 2000);
    expect(opened.connections).toBe(1);
    expect(await opened.link.send("PING", [])).toBe("PONG");
  });

  test("close() returns at once with a command in flight on a hung Redis, and that command fails", async () => {
    const { link } = await open(client);
    server.freeze();
    const inFlight = timed(link.send("PING", []));
    const closing = await timed(link.close());
    expect(closing.ms).toBeLessThan(600);
    const result = await inFlight;
    expect(result.error).toBeDefined();
    expect(link.ready).toBe(false);
  });

  test.if(client === "bun")("an event loop held up past the timeout does not fail a command whose answer came meanwhile", async () => {
    const { link } = await open(client);
    const answered = timed(link.send("PING", []));
    const until = performance.now() + TIMEOUT_MS * 2;
    while (performance.now() < until) {
      // busy, as under a long GC or a starved CPU: timers and sockets wait
    }
    const result = await answered;
    expect(result.error).toBeUndefined();
    expect(result.value).toBe("PONG");
  });

  test("nothing was left rejected without a handler", async () => {
    await Bun.sleep(50);
    expect(unhandled).toEqual([]);
  });
});
