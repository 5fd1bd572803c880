import { describe, expect, test } from "bun:test";
import { createMemoryAccessStore } from "../../src/keys/access-store.ts";
import { openAccess } from "../../src/keys/open-access.ts";

const A = "secret-A-0123456789abcdef";
const B = "secret-B-0123456789abcdef";
const quiet = () => {};

describe("the access admin service", () => {
  test("a key is shown once, listed without its hash, accepted until revoked; rotation replaces it", async () => {
    const store = createMemoryAccessStore();
    const access = await openAccess({ store, secret: A, serving: false, log: quiet });
    const { id, key } = await access.admin.createKey({ project: "web", name: "ci", models: ["gpt-4o*"] }, "cli");
    expect(key).toMatch(/^lp_live_[A-Za-z0-9]{40}$/);
    expect(access.book.findKey(key)).toMatchObject({ key: { id, project: "web" } });
    const listed = await access.admin.listKeys();
    expect(listed).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(key);
    expect(listed[0]).not.toHaveProperty("hash");
    expect(listed[0]!.status).toBe("active");

    const rotated = await access.admin.rotateKey(id, "admin-token");
    expect(rotated.id).toBe(id);
    expect(access.book.findKey(key)).toEqual({ problem: "unknown" });
    expect(access.book.findKey(rotated.key)).toMatchObject({ key: { id } });

    await access.admin.revokeKey(id, "dashboard");
    expect(access.book.findKey(rotated.key)).toEqual({ problem: "revoked" });
    expect((await access.admin.listAudit(10)).map((e) => `${e.actor} ${e.action} ${e.target}`)).toEqual([
      `dashboard keys.revoke ${id}`,
      `admin-token keys.rotate ${id}`,
      `cli keys.create ${id}`,
    ]);
    // Persisted: a fresh start serves the same.
    const again = await openAccess({ store, secret: A, serving: false, log: quiet });
    expect(again.book.findKey(rotated.key)).toEqual({ problem: "revoked" });
  });

  test("keys and provider keys need LOUPE_SECRET; limits do not", async () => {
    const access = await openAccess({ store: createMemoryAccessStore(), secret: undefined, serving: false, log: quiet });
    await expect(access.admin.createKey({ project: "web" }, "cli")).rejects.toThrow(/set LOUPE_SECRET/);
    await expect(access.admin.setProviderKey({ provider: "openai", secret: "sk-x" }, "cli")).rejects.toThrow(/set LOUPE_SECRET/);
    await access.admin.setLimit({ scope: "project", subject: "web", metric: "requests", amount: "50", window: { seconds: 60 }, soft_pct: null }, "cli");
    expect(await access.admin.listLimits()).toHaveLength(1);
  });

  test("limits: one per scope, subject, metric and window; clear removes the subject's", async () => {
    const access = await openAccess({ store: createMemoryAccessStore(), secret: undefined, serving: false, log: quiet });
    const limit = { scope: "key" as const, subject: "key_AAAAAAAAAAAA", metric: "requests" as const, amount: "50", window: { seconds: 60 }, soft_pct: null };
    await access.admin.setLimit(limit, "cli");
    await access.admin.setLimit({ ...limit, amount: "60" }, "cli");
    await access.admin.setLimit({ ...limit, window: { seconds: 86_400 }, amount: "1000" }, "cli");
    await access.admin.setLimit({ ...limit, metric: "usd", amount: "5000000000", window: { period: "month" } }, "cli");
    expect((await access.admin.listLimits()).map((l) => l.amount)).toEqual(["60", "1000", "5000000000"]);
    expect(access.book.definitions.limits).toHaveLength(3);
    await expect(access.admin.setLimit({ ...limit, amount: "-1" }, "cli")).rejects.toThrow(/amount/);
    expect(await access.admin.clearLimit({ scope: "key", subject: limit.subject, metric: "usd" }, "cli")).toEqual({ removed: 1 });
    expect(await access.admin.clearLimit({ scope: "key", subject: limit.subject }, "cli")).toEqual({ removed: 2 });
  });

  test("a provider key is sealed, listed by fingerprint, one per provider and project", async () => {
    const store = createMemoryAccessStore();
    const access = await openAccess({ store, secret: A, serving: false, log: quiet });
    await access.admin.setProviderKey({ provider: "openai", secret: "sk-default" }, "cli");
    await access.admin.setProviderKey({ provider: "openai", project: "web", secret: "sk-web-1" }, "cli");
    const web = await access.admin.setProviderKey({ provider: "openai", project: "web", secret: "sk-web-2" }, "cli");
    const azure = '{"key":"az","baseUrl":"https://r.openai.azure.com"}';
    await access.admin.setProviderKey({ provider: "azure", secret: azure }, "cli");
    expect(access.book.providerSecret("openai", "web")).toBe("sk-web-2");
    expect(access.book.providerSecret("openai", "other")).toBe("sk-default");
    expect(access.book.providerSecret("azure", undefined)).toBe(azure);
    const listed = await access.admin.listProviderKeys();
    expect(listed).toHaveLength(3);
    expect(JSON.stringify(listed)).not.toContain("sk-");
    expect(JSON.stringify(await store.loadAccess())).not.toContain("sk-web");
    await access.admin.deleteProviderKey(web.id, "cli");
    expect(access.book.providerSecret("openai", "web")).toBe("sk-default");
    await expect(access.admin.deleteProviderKey(web.id, "cli")).rejects.toThrow(/no provider key/);
  });

  test("a wrong or missing LOUPE_SECRET is refused; an older one listed second re-seals, then the new one alone works", async () => {
    const store = createMemoryAccessStore();
    const first = await openAccess({ store, secret: A, serving: false, log: quiet });
    await first.admin.setProviderKey({ provider: "openai", secret: "sk-secret" }, "cli");
    await expect(openAccess({ store, secret: B, serving: false, log: quiet })).rejects.toThrow(/LOUPE_SECRET is not the secret/);
    await expect(openAccess({ store, secret: undefined, serving: false, log: quiet })).rejects.toThrow(/LOUPE_SECRET is not set/);

    const logs: string[] = [];
    const rotated = await openAccess({ store, secret: `${B},${A}`, serving: false, log: (m) => logs.push(m) });
    expect(logs.join("\n")).toMatch(/re-sealed 1 provider key/);
    expect(rotated.book.providerSecret("openai", undefined)).toBe("sk-secret");
    const onlyB = await openAccess({ store, secret: B, serving: false, log: quiet });
    expect(onlyB.book.providerSecret("openai", undefined)).toBe("sk-secret");
    await expect(openAccess({ store, secret: A, serving: false, log: quiet })).rejects.toThrow(/LOUPE_SECRET is not the secret/);
  });
});
