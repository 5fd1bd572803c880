import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";
import { canMount, mountSmallDisk } from "../support/small-disk.ts";
import { until } from "../support/until.ts";

/**
 * A full disk under a real gateway: under the DuckDB file, and under the
 * journal. The disk is a 4 MiB tmpfs (root only: elsewhere these skip) that
 * a filler file keeps full; the other of the two lives on the ordinary disk
 * (the journal folder `<db>.journal` is a symlink). Calls keep flowing; no
 * answered call loses its record once there is room again (the journal's
 * refused events wait in memory, bounded: tests/unit/journal-faults.test.ts
 * covers the bound and `records.lost`); each fault is said once, and its end once.
 */
let mock: MockUpstream;
beforeAll(async () => {
  mock = await startMockUpstream();
});
afterAll(() => mock.stop());

async function calls(gw: Gateway, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${gw.url}/openai/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"model":"gpt-5.4","messages":[]}' });
    await response.arrayBuffer();
    expect(response.status).toBe(200);
    ids.push(response.headers.get("x-loupe-request-id")!);
    await Bun.sleep(20);
  }
  return ids;
}

const livez = async (gw: Gateway) => ((await (await fetch(`${gw.url}/livez`)).json()) as { records: { queued: number; storeFailures: number; journalFailures: number; lost: number } }).records;
const said = (gw: Gateway, pattern: RegExp) => gw.stderr().split("\n").filter((line) => pattern.test(line)).length;

describe.skipIf(!canMount)("a full disk (tmpfs, as root)", () => {
  test.each(["duckdb", "journal"] as const)("under the %s: calls flow, records wait and all go in once there is room, said once", async (full) => {
    const dir = tempDir();
    const disk = mountSmallDisk(join(dir, "small"));
    try {
      // The full one on the small disk, the other beside it on the ordinary disk.
      const db = full === "duckdb" ? join(disk.path, "loupe.duckdb") : join(dir, "loupe.duckdb");
      const journal = full === "duckdb" ? join(dir, "journal") : join(disk.path, "journal");
      mkdirSync(journal);
      symlinkSync(journal, `${db}.journal`);
      const gw = await startGateway({ dir, db, env: { LOUPE_OPENAI_BASE_URL: mock.url, LOUPE_FLUSH_INTERVAL_MS: "50" } });
      const ids = await calls(gw, 3);
      await until(async () => (await livez(gw)).queued === 0, 15_000);
      disk.fill();
      ids.push(...(await calls(gw, 30)));
      const during = await livez(gw);
      expect(during.lost).toBe(0);
      if (full === "journal") expect(during.journalFailures).toBeGreaterThan(0);
      else expect(during.queued).toBeGreaterThan(0);
      disk.makeRoom();
      ids.push(...(await calls(gw, 3)));
      await until(async () => (await livez(gw)).queued === 0, 15_000);
      const rows = await gw.sql<{ id: string }>("select id from requests");
      expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids));
      expect(await gw.stop()).toBe(0);
      expect(said(gw, /no space left on device/i)).toBeLessThanOrEqual(full === "journal" ? 3 : 1);
      if (full === "journal") {
        expect(said(gw, /journal write failed, the call's event waits in memory/)).toBe(1);
        expect(said(gw, /journal writes work again; 0 record\(s\) lost meanwhile/)).toBe(1);
      } else {
        expect(said(gw, /storing .* failed, will retry: .*No space left on device/)).toBe(1);
        expect(said(gw, /storing records works again/)).toBe(1);
      }
    } finally {
      disk.unmount();
    }
  }, 40_000);
});
