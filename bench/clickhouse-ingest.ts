#!/usr/bin/env bun
/**
 * How fast one replica's records go into ClickHouse (issue 16, part 9: goal
 * ≥ 50k records/s sustained with batching), beside the DuckDB sink on the
 * same records as the same-run baseline. `bun bench/clickhouse-ingest.ts`.
 *
 * BENCH_RECORDS (default 500,000) varied records are written as record
 * segments of BENCH_SEGMENT_ROWS (5,000: LOUPE_FLUSH_BATCH_ROWS's default)
 * and handed to each sink as the pipeline does: 64 segments per take. A
 * clickhouse-server (Debian's 18.16, or BENCH_CLICKHOUSE_URL) is started
 * here on a free port with a temp dir.
 *
 * Reported: records/s per sink over BENCH_ROUNDS rounds (each into an empty
 * table), and where a ClickHouse batch's time goes (reading and converting
 * the records in the gateway vs the insert request).
 */
import { loadavg } from "node:os";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toClickHouseRow } from "../src/sinks/clickhouse/clickhouse-rows.ts";
import { createClickHouseSink } from "../src/sinks/clickhouse/clickhouse-sink.ts";
import { openClickHouseStore } from "../src/sinks/clickhouse/clickhouse-store.ts";
import { createDuckDBSink } from "../src/sinks/duckdb/duckdb-sink.ts";
import { openDuckDBStore } from "../src/sinks/duckdb/duckdb-store.ts";
import type { RequestRecord } from "../src/record.ts";
import { startClickHouse } from "../tests/support/clickhouse.ts";
import { seedRecords } from "../tests/support/seed.ts";
import { fmt, mean, num, table, verdict } from "./harness.ts";

const RECORDS = num("BENCH_RECORDS", 500_000);
const SEGMENT_ROWS = num("BENCH_SEGMENT_ROWS", 5_000);
const ROUNDS = num("BENCH_ROUNDS", 3);
const PER_TAKE = 64;
const log = (message: string) => process.stderr.write(`[clickhouse-ingest] ${message}\n`);

const dir = mkdtempSync(join(tmpdir(), "loupe-bench-ch-ingest-"));
log(`writing ${RECORDS.toLocaleString()} records as segments of ${SEGMENT_ROWS} in ${dir}`);
const template = seedRecords(1000, 7, Date.parse("2026-11-01T00:00:00Z"));
const segments: string[] = [];
for (let start = 0; start < RECORDS; start += SEGMENT_ROWS) {
  const lines: string[] = [];
  for (let i = start; i < Math.min(RECORDS, start + SEGMENT_ROWS); i++) {
    const base = template[i % template.length]!;
    const record: RequestRecord = { ...base, id: `rec_${i.toString(36).padStart(8, "0")}`, started_at: new Date(Date.parse("2026-11-01T00:00:00Z") + i * 50).toISOString() };
    lines.push(JSON.stringify(record));
  }
  const path = join(dir, `${segments.length}.ndjson`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  segments.push(path);
}

const external = process.env.BENCH_CLICKHOUSE_URL;
const server = external ? undefined : await startClickHouse();
const url = external ?? server!.url;
const store = await openClickHouseStore({ url, database: "bench_ingest", user: server?.user ?? process.env.BENCH_CLICKHOUSE_USER, password: server?.password ?? process.env.BENCH_CLICKHOUSE_PASSWORD });
log(`ClickHouse ${store.version} at ${url}`);

async function feed(take: (paths: string[]) => Promise<void>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < segments.length; i += PER_TAKE) await take(segments.slice(i, i + PER_TAKE));
  return RECORDS / ((performance.now() - started) / 1000);
}

const clickhouseRates: number[] = [];
const duckdbRates: number[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  await store.rows("SELECT 1");
  await fetch(url, { method: "POST", body: "TRUNCATE TABLE bench_ingest.requests", headers: server ? { "x-clickhouse-user": server.user, "x-clickhouse-key": server.password } : {} });
  const sink = createClickHouseSink(store);
  clickhouseRates.push(await feed((paths) => sink.take(paths, { replay: false })));
  const [count] = await store.rows<{ n: number }>(`SELECT count() AS n FROM ${store.table}`);
  if (Number(count!.n) !== RECORDS) throw new Error(`ClickHouse holds ${count!.n} rows, not ${RECORDS}`);

  const duck = await openDuckDBStore(":memory:");
  const duckSink = createDuckDBSink(duck);
  duckdbRates.push(await feed((paths) => duckSink.take(paths, { replay: false })));
  await duck.close();
  log(`round ${round}: ClickHouse ${Math.round(clickhouseRates.at(-1)!).toLocaleString()} rec/s, DuckDB ${Math.round(duckdbRates.at(-1)!).toLocaleString()} rec/s`);
}

// Where a ClickHouse batch's time goes: the gateway's share (read + parse + convert) alone.
const convertStart = performance.now();
let converted = 0;
for (const path of segments.slice(0, PER_TAKE)) {
  for (const line of (await Bun.file(path).text()).split("\n")) if (line) converted += toClickHouseRow(JSON.parse(line)).id ? 1 : 0;
}
const convertUsPerRecord = ((performance.now() - convertStart) * 1000) / converted;

// The replay path: every id offered again, each batch checked against the table first (nothing inserted).
const replayStart = performance.now();
const replaySink = createClickHouseSink(store);
for (let i = 0; i < segments.length; i += PER_TAKE) await replaySink.take(segments.slice(i, i + PER_TAKE), { replay: true });
const replayRate = RECORDS / ((performance.now() - replayStart) / 1000);
const [after] = await store.rows<{ n: number }>(`SELECT count() AS n FROM ${store.table}`);

const ch = mean(clickhouseRates);
console.log(
  table(
    ["sink", "records/s (mean)", "min", "max"],
    [
      ["clickhouse", Math.round(ch).toLocaleString(), Math.round(Math.min(...clickhouseRates)).toLocaleString(), Math.round(Math.max(...clickhouseRates)).toLocaleString()],
      ["duckdb (baseline)", Math.round(mean(duckdbRates)).toLocaleString(), Math.round(Math.min(...duckdbRates)).toLocaleString(), Math.round(Math.max(...duckdbRates)).toLocaleString()],
    ],
  ),
);
console.log(`clickhouse / duckdb: ${fmt(ch / mean(duckdbRates), 2)}`);
console.log(`gateway side (read, parse, convert): ${fmt(convertUsPerRecord, 2)} µs/record`);
console.log(`replay of all ${RECORDS.toLocaleString()} (missing-ids check, nothing to insert): ${Math.round(replayRate).toLocaleString()} rec/s; rows after: ${after!.n}`);
console.log(`goal ≥ 50,000 records/s into ClickHouse: ${verdict(ch >= 50_000)} — ClickHouse ${store.version}, ${RECORDS.toLocaleString()} records, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);

await store.close();
await server?.dispose();
rmSync(dir, { recursive: true, force: true });
