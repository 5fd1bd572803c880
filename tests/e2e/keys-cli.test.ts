import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, ROOT, startGateway, tempDir, type Gateway } from "../support/gateway.ts";

const A = "secret-A-0123456789abcdef";
const B = "secret-B-0123456789abcdef";

async function loupe(args: string[], env: Record<string, string>, stdin?: string) {
  const proc = Bun.spawn([BUN, join(ROOT, "main.ts"), ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env },
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

/** `loupe serve` that must refuse to start: its exit code and what it said. */
async function serveRefused(db: string, env: Record<string, string>) {
  const proc = Bun.spawn([BUN, join(ROOT, "main.ts"), "serve"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LOUPE_PORT: "0", LOUPE_DB: db, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  return { stderr, code };
}

const running: Gateway[] = [];
afterAll(async () => {
  for (const gw of running) await gw.stop().catch(() => {});
});

describe("loupe keys, provider-keys and limits", () => {
  const dir = tempDir();
  const db = join(dir, "loupe.duckdb");
  const env = { LOUPE_DB: db, LOUPE_SECRET: A };

  test("on the file directly: a key is printed alone on the last line, listed without it; bad input exits 2", async () => {
    const created = await loupe(["keys", "create", "--project", "web", "--name", "ci", "--expires-in", "30d"], env);
    expect(created.code).toBe(0);
    const key = created.stdout.trim().split("\n").at(-1)!;
    expect(key).toMatch(/^lp_live_[A-Za-z0-9]{40}$/);
    const json = await loupe(["keys", "create", "--project", "web", "--json"], env);
    const made = JSON.parse(json.stdout) as { id: string; key: string };
    expect(Object.keys(made)).toEqual(["id", "key"]);

    const list = await loupe(["keys", "list", "--json"], env);
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain(key);
    expect(list.stdout).not.toContain(made.key);
    expect((JSON.parse(list.stdout) as { id: string; name: string | null }[]).map((k) => k.name)).toEqual(["ci", null]);

    expect((await loupe(["keys", "create", "--project", "web"], { LOUPE_DB: db })).stderr).toContain("LOUPE_SECRET");
    for (const bad of [
      ["keys", "create"],
      ["keys", "create", "--project", "web", "--expires-in", "soon"],
      ["keys", "frobnicate"],
      ["limits", "set", "team", "x", "--requests", "5/1m"],
      ["limits", "set", "project", "web", "--requests", "5/1x"],
      ["limits", "set", "project", "web", "--budget-usd", "5/year"],
      ["limits", "set", "project", "web"],
    ]) {
      const result = await loupe(bad, env);
      expect({ bad, code: result.code }).toEqual({ bad, code: 2 });
      expect(result.stderr).toMatch(/^loupe: /);
    }
  });

  test("a provider key comes from standard input and is never shown again", async () => {
    const set = await loupe(["provider-keys", "set", "openai"], env, "sk-proj-verysecret\n");
    expect(set.code).toBe(0);
    const list = await loupe(["provider-keys", "list"], env);
    expect(list.stdout).toContain("openai");
    expect(list.stdout).not.toContain("verysecret");
  });

  test("loupe audit on the file directly: newest first, --limit bounds it, never a secret; a bad --limit exits 2", async () => {
    const all = await loupe(["audit", "--json"], env);
    expect(all.code).toBe(0);
    const entries = JSON.parse(all.stdout) as { at: string; actor: string; action: string; target: string; detail: string | null }[];
    expect(entries.map((e) => `${e.actor} ${e.action}`)).toEqual(["cli provider-keys.set", "cli keys.create", "cli keys.create"]);
    expect(entries.map((e) => e.at)).toEqual(entries.map((e) => e.at).toSorted().reverse());
    expect(all.stdout).not.toContain("verysecret");
    const one = await loupe(["audit", "--limit", "1", "--json"], env);
    expect((JSON.parse(one.stdout) as unknown[]).length).toBe(1);
    const table = await loupe(["audit"], env);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^at\s+│ actor\s+│ action\s+│ target\s+│ detail$/);
    expect(table.stdout).toContain("provider-keys.set");
    expect(table.stdout).toContain("(3 rows)");
    for (const bad of [["audit", "--limit", "0"], ["audit", "--limit", "many"], ["audit", "extra"]]) {
      const result = await loupe(bad, env);
      expect({ bad, code: result.code }).toEqual({ bad, code: 2 });
    }
    expect((await loupe(["--help"], env)).stdout).toContain("loupe audit [--limit N] [--json]");
  });

  test("through the running gateway: same commands, audited as cli; the API lists and revokes; SQL never reads the tables", async () => {
    const gw = await startGateway({ db, dir, env: { LOUPE_SECRET: A } });
    running.push(gw);
    const created = await loupe(["keys", "create", "--project", "app", "--providers", "openai", "--models", "gpt-4o*,claude-*", "--json"], { LOUPE_DB: db });
    expect(created.code).toBe(0); // no LOUPE_SECRET needed: the gateway has it
    const { id } = JSON.parse(created.stdout) as { id: string };

    const limit = await loupe(["limits", "set", "key", id, "--requests", "50/1m", "--budget-usd", "20.000000001/month", "--soft", "80"], { LOUPE_DB: db });
    expect(limit.code).toBe(0);
    const limits = (await (await fetch(`${gw.url}/api/limits`)).json()) as { items: { metric: string; amount: string; usage: unknown }[] };
    // The gateway's limiter already counts them: nothing yet.
    expect(limits.items.map((l) => [l.metric, l.amount, l.usage])).toEqual([
      ["requests", "50", { used: "0", reset_s: 0 }],
      ["usd", "20000000001", { used: "0", reset_s: 0 }],
    ]);

    const keys = (await (await fetch(`${gw.url}/api/keys`)).json()) as { items: { id: string; models: string[] | null; status: string }[] };
    expect(keys.items.find((k) => k.id === id)).toMatchObject({ models: ["gpt-4o*", "claude-*"], status: "active" });
    const revoked = await fetch(`${gw.url}/api/keys/${id}/revoke`, { method: "POST" });
    expect(await revoked.json()).toMatchObject({ id, status: "revoked" });
    expect((await fetch(`${gw.url}/api/keys/key_000000000000/revoke`, { method: "POST" })).status).toBe(404);
    const cleared = await loupe(["limits", "clear", "key", id], { LOUPE_DB: db });
    expect(cleared.stdout).toContain("Cleared 2");

    const audit = (await (await fetch(`${gw.url}/api/audit`)).json()) as { items: { actor: string; action: string; target: string }[] };
    expect(audit.items.slice(0, 4).map((e) => `${e.actor} ${e.action}`)).toEqual(["cli limits.clear", "local keys.revoke", "cli limits.set", "cli limits.set"]);
    expect(audit.items.map((e) => e.action)).toContain("provider-keys.set");
    // `loupe audit` goes through the gateway holding the file and lists the same, newest first.
    const listed = await loupe(["audit", "--limit", "4", "--json"], { LOUPE_DB: db });
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual(audit.items.slice(0, 4));

    for (const sql of ["select * from gateway_keys", "select * from provider_keys", "select * from admin_audit"]) {
      const result = await loupe(["sql", sql], { LOUPE_DB: db });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("not allowed");
    }
    const spec = (await (await fetch(`${gw.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    for (const path of ["/api/keys", "/api/keys/{id}/revoke", "/api/keys/{id}/rotate", "/api/provider-keys", "/api/provider-keys/{id}", "/api/limits", "/api/audit"]) {
      expect(Object.keys(spec.paths)).toContain(path);
    }
    expect(await gw.stop()).toBe(0);
  });

  test("a wrong or missing LOUPE_SECRET is refused at start, before serving; rotation re-seals, then the new secret alone serves", async () => {
    const wrong = await serveRefused(db, { LOUPE_SECRET: B });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain("LOUPE_SECRET is not the secret");
    expect(wrong.stderr).not.toContain("listening on");
    const missing = await serveRefused(db, {});
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("LOUPE_SECRET is not set");

    const rotating = await startGateway({ db, dir, env: { LOUPE_SECRET: `${B},${A}` } });
    running.push(rotating);
    expect(rotating.stderr()).toMatch(/re-sealed 1 provider key\(s\)/);
    expect((await fetch(`${rotating.url}/api/provider-keys`)).status).toBe(200);
    expect(await rotating.stop()).toBe(0);

    const onlyB = await startGateway({ db, dir, env: { LOUPE_SECRET: B } });
    running.push(onlyB);
    const list = (await (await fetch(`${onlyB.url}/api/provider-keys`)).json()) as { items: { provider: string }[] };
    expect(list.items.map((k) => k.provider)).toEqual(["openai"]);
    expect(await onlyB.stop()).toBe(0);
    expect((await serveRefused(db, { LOUPE_SECRET: A })).stderr).toContain("LOUPE_SECRET is not the secret");
  });
});
