import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Session } from "chdb";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RequestRecord } from "../../src/record.ts";
import { nanoUsd, toClickHouseRow, toTsvLine, usdOfNano } from "../../src/sinks/clickhouse/clickhouse-rows.ts";
import { createTableSql, INSERT_COLUMNS } from "../../src/sinks/clickhouse/clickhouse-schema.ts";
import { createClickHouseLink } from "../../src/sinks/clickhouse/clickhouse-link.ts";
import { createClickHouseSink } from "../../src/sinks/clickhouse/clickhouse-sink.ts";
import { ClickHouseUnavailableError, openClickHouseStore, type ClickHouseStore } from "../../src/sinks/clickhouse/clickhouse-store.ts";
import { startClickHouse, type ClickHouseServer } from "../support/clickhouse.ts";
import { dashboardRecords } from "../support/dashboard-seed.ts";
import { tempDir } from "../support/gateway.ts";

const records = dashboardRecords(Date.parse("2026-12-01T12:00:00Z"));
/** The exact sum of the records' costs, in nano-USD. */
const expectedNano = records.reduce((sum, r) => sum + (r.cost_usd === null ? 0n : BigInt(nanoUsd(r.cost_usd))), 0n);

function segment(dir: string, name: string, rows: readonly RequestRecord[]): string {
  const path = join(dir, name);
  writeFileSync(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
  return path;
}

describe("nano-USD", () => {
  test("a decimal string goes to nano-USD and back exactly", () => {
    for (const text of ["0.000000001", "12.5", "0.003750000", "1234.123456789", "0"]) expect(usdOfNano(nanoUsd(text))).toBe(Number(text).toFixed(9));
    expect(nanoUsd("0.1")).toBe(100_000_000);
    expect(usdOfNano("-5")).toBe("-0.000000005");
    expect(() => nanoUsd("abc")).toThrow(/unreadable cost_usd/);
  });
});

describe("ClickHouse 18.16 (Debian's clickhouse-server)", () => {
  let server: ClickHouseServer;
  let store: ClickHouseStore;
  const dir = tempDir("loupe-ch-segments-");
  beforeAll(async () => {
    server = await startClickHouse();
    store = await openClickHouseStore({ url: server.url, database: "loupe", user: server.user, password: server.password });
  });
  afterAll(async () => {
    await store?.close();
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the store says which server it opened, and creates the table", async () => {
    expect(store.version).toStartWith("18.16");
    const columns = await server.rows<{ name: string; type: string }>("SELECT name, type FROM system.columns WHERE database = 'loupe' AND table = 'requests'");
    const types = Object.fromEntries(columns.map((c) => [c.name, c.type]));
    expect(types.started_at_us).toBe("Int64");
    expect(types.cost_nano).toBe("Nullable(Int64)");
    expect(types.cost_usd).toBe("Nullable(Decimal(38, 9))");
    expect(types.started_at).toBe("DateTime('UTC')");
    expect(types.tags).toBe("Array(String)");
  });

  test("the sink stores every record once, with exact money; a replayed batch adds nothing", async () => {
    await server.query("TRUNCATE TABLE loupe.requests");
    const sink = createClickHouseSink(store);
    const half = Math.floor(records.length / 2);
    const a = segment(dir, "1.ndjson", records.slice(0, half));
    const b = segment(dir, "2.ndjson", records.slice(half));
    await sink.take([a], { replay: false });
    // After a crash, both segments are offered again: the first is in already.
    await sink.take([a, b], { replay: true });
    const [row] = await server.rows<{ n: string; ids: string; nano: string; usd: string }>(
      "SELECT count() AS n, uniqExact(id) AS ids, toString(sum(cost_nano)) AS nano, toString(sum(cost_usd)) AS usd FROM loupe.requests",
    );
    expect(Number(row!.n)).toBe(records.length);
    expect(Number(row!.ids)).toBe(records.length);
    expect(row!.nano).toBe(expectedNano.toString());
    expect(row!.usd).toBe(usdOfNano(expectedNano));
    expect(sink.inserted()).toBe(records.length);
  });

  test("a row reads back as the record had it", async () => {
    const sample = records.find((r) => r.cost_usd !== null && r.tags && r.tags.length > 0) ?? records[0]!;
    const [row] = await server.rows<Record<string, unknown>>(
      `SELECT id, toString(started_at) AS started_at, started_at_us, toString(cost_usd) AS cost_usd, tags, streamed, provider, model FROM loupe.requests WHERE id = '${sample.id}'`,
    );
    expect(row!.started_at).toBe(sample.started_at.slice(0, 19).replace("T", " "));
    expect(Number(row!.started_at_us)).toBe(Date.parse(sample.started_at) * 1000);
    expect(row!.cost_usd).toBe(sample.cost_usd === null ? null : Number(sample.cost_usd).toFixed(9));
    expect(row!.tags).toEqual(sample.tags ?? []);
    expect(row!.streamed).toBe(sample.streamed ? 1 : 0);
    expect(row!.model).toBe(sample.model);
  });

  test("any text survives the TabSeparated encoding: tabs, newlines, backslashes, quotes, \\N, NUL, emoji", async () => {
    const nasty = ["a\tb", "line1\nline2\r\n", "back\\slash \\N \\t", "it's \"quoted\"", "nul\u0000byte", "héllo 🦊 世界", "", "\\"];
    const rows = nasty.map((text, i) => ({
      ...records[i]!,
      id: `nasty-${i}`,
      error_message: text,
      tags: [text, "plain"],
      duration_ms: 1e-7 * (i + 1),
      usage_raw: JSON.stringify({ text }),
    }));
    await store.insert(rows.map(toClickHouseRow));
    const back = await server.rows<{ id: string; error_message: string; tags: string[]; duration_ms: number; usage_raw: string }>(
      "SELECT id, error_message, tags, duration_ms, usage_raw FROM loupe.requests WHERE id LIKE 'nasty-%' ORDER BY id",
    );
    expect(back).toEqual(rows.map((r) => ({ id: r.id, error_message: r.error_message, tags: r.tags, duration_ms: r.duration_ms, usage_raw: r.usage_raw })));
  });

  test("an insert that failed is offered again missing-ids-only", async () => {
    await server.query("TRUNCATE TABLE loupe.requests");
    let fail = true;
    const flaky: Pick<ClickHouseStore, "insert"> = {
      async insert(rows, options) {
        // The insert lands, then the answer is lost: the sink must not store the rows twice.
        const sent = await store.insert(rows, options);
        if (fail) {
          fail = false;
          throw new Error("socket hang up");
        }
        return sent;
      },
    };
    const sink = createClickHouseSink(flaky);
    const path = segment(dir, "3.ndjson", records);
    await expect(sink.take([path], { replay: false })).rejects.toThrow("socket hang up");
    await sink.take([path], { replay: false });
    const [row] = await server.rows<{ n: string }>("SELECT count() AS n FROM loupe.requests");
    expect(Number(row!.n)).toBe(records.length);
  });

  test("a column the table lacks is added when the store opens", async () => {
    await server.query("ALTER TABLE loupe.requests DROP COLUMN routed_model");
    const again = await openClickHouseStore({ url: server.url, database: "loupe", user: server.user, password: server.password });
    await again.close();
    const [row] = await server.rows<{ n: string }>("SELECT count() AS n FROM system.columns WHERE database = 'loupe' AND table = 'requests' AND name = 'routed_model'");
    expect(Number(row!.n)).toBe(1);
  });

  test("the link: a query ClickHouse refuses is the caller's error and keeps the link up; a table that went away marks it down", async () => {
    const link = createClickHouseLink({ url: server.url, database: "loupe", user: server.user, password: server.password });
    try {
      const refused = link.use((s) => s.rows("SELECT no_such_column FROM loupe.requests"));
      await expect(refused).rejects.toThrow(/no_such_column/);
      await expect(refused).rejects.not.toBeInstanceOf(ClickHouseUnavailableError);
      expect(link.stats().connected).toBe(true);
      const gone = link.use((s) => s.rows("SELECT 1 FROM no_such_db.requests"));
      await expect(gone).rejects.toBeInstanceOf(ClickHouseUnavailableError);
      expect(link.stats()).toMatchObject({ connected: false });
      // The next use opens the store again.
      expect(await link.use((s) => s.rows<{ one: number }>("SELECT 1 AS one"))).toEqual([{ one: 1 }]);
      expect(link.stats().connected).toBe(true);
    } finally {
      await link.close();
    }
  });

  test("wrong credentials are refused at open with ClickHouse's reason (its /ping answers anyway)", async () => {
    const opening = openClickHouseStore({ url: server.url, database: "loupe", user: server.user, password: "wrong" });
    await expect(opening).rejects.toBeInstanceOf(ClickHouseUnavailableError);
    await expect(opening).rejects.toThrow(/as user loupe: .*(password|Authentication)/i);
  });

  test("nothing listening: a clear error naming the URL", async () => {
    const opening = openClickHouseStore({ url: "http://127.0.0.1:1", database: "loupe" });
    await expect(opening).rejects.toThrow(/ClickHouse at http:\/\/127\.0\.0\.1:1 as user default: connection refused/);
  });
});

describe("current ClickHouse (chdb, in process)", () => {
  test("the same table and rows, with the same exact sums", () => {
    const session = new Session();
    try {
      const version = session.query("SELECT version()", "TSV").trim();
      expect(Number(version.split(".")[0])).toBeGreaterThanOrEqual(24);
      session.query("CREATE DATABASE IF NOT EXISTS loupe");
      session.query(createTableSql("loupe"));
      // The sink's format (TabSeparated), as it sends it to a server.
      const lines = records.map((r) => toTsvLine(toClickHouseRow(r), INSERT_COLUMNS)).join("\n");
      session.query(`INSERT INTO loupe.requests (${INSERT_COLUMNS.join(", ")}) FORMAT TabSeparated\n${lines}\n`);
      // A replayed duplicate is merged away by the ReplacingMergeTree: FINAL reads each record once.
      session.query(`INSERT INTO loupe.requests (${INSERT_COLUMNS.join(", ")}) FORMAT JSONEachRow\n${JSON.stringify(toClickHouseRow(records[0]!))}`);
      const [row] = session
        .query("SELECT count() AS n, toString(sum(cost_nano)) AS nano, toString(sum(cost_usd)) AS usd FROM loupe.requests FINAL", "JSONEachRow")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { n: string | number; nano: string; usd: string });
      expect(Number(row!.n)).toBe(records.length);
      expect(row!.nano).toBe(expectedNano.toString());
      // Today's ClickHouse prints a Decimal without its trailing zeros (18.16 kept them): the analytics sum cost_nano.
      expect(Number(row!.usd)).toBe(Number(usdOfNano(expectedNano)));
    } finally {
      session.close();
    }
  });
});
