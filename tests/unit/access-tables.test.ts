import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StoredAccess } from "../../src/keys/access-store.ts";
import { openDuckDBStore, type DuckDBStore } from "../../src/sinks/duckdb/duckdb-store.ts";

const dir = mkdtempSync(join(tmpdir(), "loupe-access-"));
const db = join(dir, "loupe.duckdb");
let store: DuckDBStore;

const stored: StoredAccess = {
  verifier: "abcd1234.mac",
  definitions: {
    keys: [
      {
        id: "key_AAAAAAAAAAAA",
        name: "ci",
        project: "web",
        user: null,
        providers: ["openai"],
        models: ["gpt-4o*"],
        metadata: { team: "a" },
        hash: "f".repeat(64),
        prefix: "lp_live_abcd",
        created_at: "2026-01-01T00:00:00.000Z",
        expires_at: null,
        revoked_at: null,
        last_used_at: null,
      },
    ],
    providerKeys: [{ id: "pk_AAAAAAAAAAAA", provider: "openai", project: null, sealed: "v1.abcd1234.SEALEDSECRET", fingerprint: "01234567", created_at: "2026-01-01T00:00:00.000Z" }],
    limits: [{ scope: "project", subject: "web", metric: "usd", amount: "20000000000", window: { period: "month" }, soft_pct: 80 }],
  },
};

beforeAll(async () => {
  store = await openDuckDBStore(db);
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("access tables in the DuckDB file", () => {
  test("what is saved loads back unchanged, across a reopen", async () => {
    await store.access.saveAccess(stored);
    expect(await store.access.loadAccess()).toEqual(stored);
    await store.close();
    store = await openDuckDBStore(db);
    expect(await store.access.loadAccess()).toEqual(stored);
  });

  test("last_used_at and the audit", async () => {
    await store.access.touchKeys({ key_AAAAAAAAAAAA: "2026-02-01T00:00:00.000Z" });
    expect((await store.access.loadAccess()).definitions.keys[0]!.last_used_at).toBe("2026-02-01T00:00:00.000Z");
    await store.access.audit({ at: "2026-02-01T00:00:00.000Z", actor: "cli", action: "keys.create", target: "key_AAAAAAAAAAAA", detail: null });
    await store.access.audit({ at: "2026-02-02T00:00:00.000Z", actor: "admin-token", action: "keys.revoke", target: "key_AAAAAAAAAAAA", detail: '{"x":1}' });
    expect((await store.access.listAudit(10)).map((e) => e.action)).toEqual(["keys.revoke", "keys.create"]);
  });

  test("key hashes and sealed provider keys are never readable through user SQL", async () => {
    for (const sql of [
      "select * from gateway_keys",
      "select * from provider_keys",
      "select * from main.access_secret",
      "select * from admin_audit",
      "select * from limits",
      "with k as (select hash from gateway_keys) select * from k",
      "select (select sealed from provider_keys limit 1)",
      "describe provider_keys",
    ]) {
      await expect(store.queryReadOnly(sql)).rejects.toThrow(/not allowed/);
    }
    // What SHOW TABLES names is harmless; no row of those tables comes out anywhere.
    const all = JSON.stringify(await store.queryReadOnly("select * from requests"));
    expect(all).not.toContain("SEALEDSECRET");
  });
});
