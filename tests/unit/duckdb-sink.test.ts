import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createDuckDBSink } from "../../src/sinks/duckdb/duckdb-sink.ts";
import { openDuckDBStore } from "../../src/sinks/duckdb/duckdb-store.ts";
import { analyticsRecords } from "../support/analytics-records.ts";
import { tempDir } from "../support/gateway.ts";

const store = await openDuckDBStore(":memory:");
afterAll(() => store.close());

const count = async () => (await store.queryReadOnly("select count(*)::int from requests")).rows[0]![0] as number;

test("a record DuckDB refuses is kept aside with its reason; the records around it are stored, once, and nothing waits behind it", async () => {
  const dir = tempDir();
  const records = analyticsRecords().slice(0, 40);
  const lines = records.map((record) => JSON.stringify(record));
  // What an older gateway could have written: a lone surrogate (malformed for DuckDB's JSON reader), a count no column holds.
  lines[7] = lines[7]!.replace('"provider":"', '"provider":"\\ud800');
  lines[31] = JSON.stringify({ ...records[31], input_tokens: 1e30 });
  const paths = [join(dir, "1.ndjson"), join(dir, "2.ndjson")];
  writeFileSync(paths[0]!, `${lines.slice(0, 20).join("\n")}\n`);
  writeFileSync(paths[1]!, `${lines.slice(20).join("\n")}\n`);
  const rejectedFile = join(dir, "loupe.duckdb.rejected.ndjson");
  const said: string[] = [];
  const sink = createDuckDBSink(store, { rejectedFile, onRejected: (count, message) => said.push(`${count}: ${message}`) });

  await sink.take(paths, { replay: false });
  expect(await count()).toBe(38);
  const ids = new Set((await store.queryReadOnly("select id from requests")).rows.map(([id]) => id));
  expect(ids.has(records[7]!.id) || ids.has(records[31]!.id)).toBe(false);
  const kept = readFileSync(rejectedFile, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { reason: string; record: string });
  expect(kept.map((k) => k.record)).toEqual([lines[7], lines[31]]);
  expect(kept[0]!.reason).toMatch(/^Invalid Input Error/);
  expect(said).toHaveLength(1);
  expect(said[0]).toStartWith("2: DuckDB refused 2 record(s)");
  expect(said[0]).toContain(rejectedFile);

  // Offered again (a crash before the cursor moved): nothing is stored twice.
  await sink.take(paths, { replay: true });
  expect(await count()).toBe(38);
});

test("without a place to keep refused records, the refusal is the caller's, as before (nothing stored)", async () => {
  const dir = tempDir();
  const bad = join(dir, "1.ndjson");
  writeFileSync(bad, '{"id":"only","status":"abc"}\n');
  await expect(createDuckDBSink(store).take([bad], { replay: false })).rejects.toThrow(/Invalid Input Error/);
});
