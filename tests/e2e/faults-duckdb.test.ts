import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { analyticsRecords } from "../support/analytics-records.ts";
import { join } from "node:path";
import { BUN, ROOT, runLoupe, startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";
import { until } from "../support/until.ts";

/**
 * The DuckDB file misbehaving under a real gateway (sinks/duckdb/duckdb-file.ts):
 * read-only at start or made so while running, deleted while running,
 * garbage at start. Calls keep flowing, no answered call loses its record,
 * and the log says what happened once.
 */
let mock: MockUpstream;
beforeAll(async () => {
  mock = await startMockUpstream();
});
afterAll(() => mock.stop());

// File permissions do not stop root: as root, the gateway runs as `nobody` (setpriv), as it would in production.
const root = process.getuid?.() === 0;
const setpriv = Bun.which("setpriv");
const asUser = root && setpriv ? [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--", BUN, join(ROOT, "main.ts")] : undefined;
const permissionsHold = !root || asUser !== undefined;

/** A folder anyone may write (the gateway may run as another user), with its database path. */
function place() {
  const dir = tempDir();
  chmodSync(dir, 0o777);
  return { dir, db: join(dir, "loupe.duckdb") };
}

const SECRET = { LOUPE_SECRET: "faults-test-secret-0123456789" };
const start = (where: { dir: string; db: string }) =>
  startGateway({ ...where, env: { LOUPE_OPENAI_BASE_URL: mock.url, LOUPE_FLUSH_INTERVAL_MS: "50", HOME: where.dir, ...SECRET }, ...(asUser ? { command: asUser } : {}) });

async function calls(gw: Gateway, count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const response = await fetch(`${gw.url}/openai/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"model":"gpt-5.4","messages":[]}' });
      await response.arrayBuffer();
      expect(response.status).toBe(200);
      return response.headers.get("x-loupe-request-id")!;
    }),
  );
}

const recordIds = async (gw: Gateway) => new Set((await gw.sql<{ id: string }>("select id from requests")).map((r) => r.id));
const livez = async (gw: Gateway) => ((await (await fetch(`${gw.url}/livez`)).json()) as { records: { queued: number; storeFailures: number; lost: number; rejected?: number } }).records;
const said = (gw: Gateway, pattern: RegExp) => gw.stderr().split("\n").filter((line) => pattern.test(line)).length;

describe("DuckDB file faults", () => {
  test.skipIf(!permissionsHold)("read-only at start (chmod 0444): served, records wait in the journal, and go in once it can be written", async () => {
    const where = place();
    const first = await start(where);
    const before = await calls(first, 2);
    expect(await first.stop()).toBe(0);
    chmodSync(where.db, 0o444);

    const gw = await start(where);
    expect(said(gw, /cannot be written \(.*Permission denied.*\): opened read-only/)).toBe(1);
    const during = await calls(gw, 20);
    // The API reads the file as it is; the new records wait.
    expect(await recordIds(gw)).toEqual(new Set(before));
    expect((await livez(gw)).queued).toBe(20);
    chmodSync(where.db, 0o644);
    await until(async () => (await livez(gw)).queued === 0);
    expect(await recordIds(gw)).toEqual(new Set([...before, ...during]));
    expect(await gw.stop()).toBe(0);
    expect(said(gw, /storing .* failed, will retry: DuckDB file .* cannot be written/)).toBe(1);
    expect(said(gw, /can be written again: the records that waited in the journal go in now/)).toBe(1);
    expect(said(gw, /works again/)).toBe(1);
  }, 30_000);

  test.skipIf(!permissionsHold)("made read-only while running (chmod 0444): the open file keeps taking records", async () => {
    const where = place();
    const gw = await start(where);
    const ids = await calls(gw, 5);
    chmodSync(where.db, 0o444);
    ids.push(...(await calls(gw, 10)));
    expect(await recordIds(gw)).toEqual(new Set(ids));
    expect(await gw.stop()).toBe(0);
    expect(said(gw, /fail|cannot/)).toBe(0);
  });

  test("deleted while running: a new file holds every record and the keys the open handle still had; said once", async () => {
    const where = place();
    const gw = await start(where);
    const key = JSON.parse(runLoupe(gw, ["keys", "create", "--project", "p", "--json"], { env: SECRET }).stdout.trim().split("\n").pop()!) as { id: string };
    const ids = await calls(gw, 5);
    expect(await recordIds(gw)).toEqual(new Set(ids));
    unlinkSync(where.db);
    if (existsSync(`${where.db}.wal`)) unlinkSync(`${where.db}.wal`);
    ids.push(...(await calls(gw, 10)));
    expect(await recordIds(gw)).toEqual(new Set(ids));
    expect(existsSync(where.db)).toBe(true);
    expect(await gw.stop()).toBe(0);
    expect(said(gw, /was deleted while the gateway ran: a new file holds the \d+ record\(s\) and the keys and limits it still had/)).toBe(1);

    const again = await start(where);
    expect(await recordIds(again)).toEqual(new Set(ids));
    expect(runLoupe(again, ["keys", "list", "--json"], { env: SECRET }).stdout).toContain(key.id);
    expect(await again.stop()).toBe(0);
  }, 30_000);

  test("garbage at start: moved aside, a new file takes the records; said once", async () => {
    const where = place();
    const garbage = Buffer.from("not a database ".repeat(500));
    writeFileSync(where.db, garbage);
    const gw = await start(where);
    expect(said(gw, /is not a DuckDB database \(.*\): moved to .*loupe\.duckdb\.corrupt-.*; a new file takes the records from now on/)).toBe(1);
    const ids = await calls(gw, 10);
    expect(await recordIds(gw)).toEqual(new Set(ids));
    expect(await gw.stop()).toBe(0);
    const aside = readdirSync(where.dir).filter((name) => name.startsWith("loupe.duckdb.corrupt-"));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(where.dir, aside[0]!))).toEqual(garbage);
  });

  test("a record DuckDB refuses (left in the record queue by an older gateway): kept aside, counted in /livez, the rest stored; said once", async () => {
    const where = place();
    const records = analyticsRecords().slice(0, 3);
    const lines = records.map((record) => JSON.stringify(record));
    lines[1] = lines[1]!.replace('"provider":"', '"provider":"\\ud800');
    const queue = join(`${where.db}.journal`, "records");
    mkdirSync(queue, { recursive: true, mode: 0o777 });
    writeFileSync(join(queue, "0000000001.ndjson"), `${lines.join("\n")}\n`);
    chmodSync(`${where.db}.journal`, 0o777);
    chmodSync(queue, 0o777);
    chmodSync(join(queue, "0000000001.ndjson"), 0o666);

    const gw = await start(where);
    await until(async () => (await livez(gw)).rejected === 1);
    const ids = await calls(gw, 5);
    expect(await recordIds(gw)).toEqual(new Set([records[0]!.id, records[2]!.id, ...ids]));
    expect(said(gw, /DuckDB refused 1 record\(s\) \(Invalid Input Error.*\): kept in .*loupe\.duckdb\.rejected\.ndjson; the records around them are stored/)).toBe(1);
    expect(await gw.stop()).toBe(0);
    const kept = readFileSync(`${where.db}.rejected.ndjson`, "utf8").trim().split("\n");
    expect(kept.map((line) => (JSON.parse(line) as { record: string }).record)).toEqual([lines[1]]);
  });

  test("blocks failing their checksums at start: moved aside as corrupt, a new file takes the records; said once", async () => {
    const where = place();
    const first = await start(where);
    await calls(first, 20);
    expect(await first.stop()).toBe(0);
    // Every block after the file's headers (12 KiB) gets a damaged stretch: DuckDB reads its catalog at open and finds it.
    const bytes = readFileSync(where.db);
    expect(bytes.length).toBeGreaterThan(12_288 + 4096);
    for (let at = 12_288 + 512; at + 64 < bytes.length; at += 4096) bytes.fill(0xab, at, at + 64);
    writeFileSync(where.db, bytes);

    const gw = await start(where);
    expect(said(gw, /is corrupt \(.*checksum.*\): moved to .*loupe\.duckdb\.corrupt-.*; a new file takes the records from now on/)).toBe(1);
    const ids = await calls(gw, 10);
    expect(await recordIds(gw)).toEqual(new Set(ids));
    expect(await gw.stop()).toBe(0);
    const aside = readdirSync(where.dir).filter((name) => name.startsWith("loupe.duckdb.corrupt-") && !name.endsWith(".wal"));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(where.dir, aside[0]!))).toEqual(bytes);
  });
});
