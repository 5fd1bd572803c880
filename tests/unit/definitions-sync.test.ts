import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMemoryAccessStore } from "../../src/keys/access-store.ts";
import { openAccess, type AccessRuntime } from "../../src/keys/open-access.ts";
import { startRedis, type RedisServer } from "../support/redis.ts";

const SECRET = "secret-A-0123456789abcdef";
let redis: RedisServer;
const opened: AccessRuntime[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const access of opened) await access.close();
  await redis.dispose();
});

async function gateway(prefix: string, store = createMemoryAccessStore(), url = redis.url) {
  const logs: string[] = [];
  const access = await openAccess({ store, secret: SECRET, redisUrl: url, redisPrefix: prefix, serving: true, log: (m) => logs.push(m) });
  opened.push(access);
  return { access, store, logs };
}

async function eventually(check: () => boolean, ms = 3_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("not within time");
    await Bun.sleep(25);
  }
}

describe("access definitions shared through Redis", () => {
  test("a key made on one gateway is accepted by another within a poll; both stores keep a copy", async () => {
    const one = await gateway("t1");
    const two = await gateway("t1");
    const { key, id } = await one.access.admin.createKey({ project: "web" }, "cli");
    await eventually(() => "key" in two.access.book.findKey(key));
    expect((await two.store.loadAccess()).definitions.keys.map((k) => k.id)).toEqual([id]);
    await two.access.admin.revokeKey(id, "cli");
    await eventually(() => one.access.book.findKey(key).hasOwnProperty("problem"));
    expect(one.access.book.findKey(key)).toEqual({ problem: "revoked" });
  });

  test("concurrent changes on two gateways are all kept (compare-and-set, re-applied on conflict)", async () => {
    const one = await gateway("t2");
    const two = await gateway("t2");
    const limit = (subject: string) => ({ scope: "project" as const, subject, metric: "requests" as const, amount: "5", window: { seconds: 60 }, soft_pct: null });
    await Promise.all([...["a", "b", "c"].map((s) => one.access.admin.setLimit(limit(s), "cli")), ...["d", "e", "f"].map((s) => two.access.admin.setLimit(limit(s), "cli"))]);
    const subjects = (rt: AccessRuntime) => rt.book.definitions.limits.map((l) => l.subject).sort().join("");
    await eventually(() => subjects(one.access) === "abcdef" && subjects(two.access) === "abcdef");
  });

  test("the first gateway brings its file's definitions; one starting while Redis is down serves its file's copy", async () => {
    const store = createMemoryAccessStore();
    const seeded = await openAccess({ store, secret: SECRET, serving: false, log: () => {} });
    const { key } = await seeded.admin.createKey({ project: "web" }, "cli");
    const first = await gateway("t3", store);
    expect("key" in first.access.book.findKey(key)).toBe(true);
    const other = await gateway("t3");
    expect("key" in other.access.book.findKey(key)).toBe(true);

    const down = await gateway("t3", store, "redis://127.0.0.1:1");
    expect(down.logs.join("\n")).toContain("Redis unreachable");
    expect("key" in down.access.book.findKey(key)).toBe(true);
    await expect(down.access.admin.createKey({ project: "web" }, "cli")).rejects.toThrow(/Redis \(LOUPE_REDIS_URL\) is unreachable/);
  });
});
