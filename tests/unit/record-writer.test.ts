import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REQUEST_COLUMNS, type RequestRecord } from "../../src/record.ts";
import { loadPriceBook } from "../../src/pricing/load-prices.ts";
import { createDuckDBSink } from "../../src/sinks/duckdb/duckdb-sink.ts";
import { openDuckDBStore, type DuckDBStore } from "../../src/sinks/duckdb/duckdb-store.ts";
import type { RecordSink } from "../../src/sinks/sink.ts";
import { openJournal, readJournal } from "../../src/recording/journal.ts";
import { createRecordWriter } from "../../src/recording/journal-writer.ts";
import { openPipeline } from "../../src/recording/pipeline.ts";
import { recordLeftovers } from "../../src/recording/replay.ts";
import { tempDir } from "../support/gateway.ts";

// These writers journal records as an earlier version did (the recorder passes them as they are):
// what is tested here is the way from the journal to DuckDB.
const priceBook = loadPriceBook(undefined);
/** The recording pipeline into DuckDB, in process; `wrap` stands between it and DuckDB. */
const pipelineInto = (dir: string, store: DuckDBStore, wrap: (sink: RecordSink) => RecordSink = (sink) => sink) =>
  openPipeline({ journalDir: join(dir, "journal"), sinks: [wrap(createDuckDBSink(store))], priceBook, onProblem: () => {} });
const line = (record: RequestRecord) => JSON.stringify(record);
/** Records waiting in the record queue for a sink. */
const recordLines = (dir: string) =>
  readdirSync(dir)
    .filter((name) => name.endsWith(".ndjson"))
    .reduce((n, name) => n + readFileSync(join(dir, name), "utf8").split("\n").filter(Boolean).length, 0);
const blank = Object.fromEntries(REQUEST_COLUMNS.map(([name]) => [name, null])) as unknown as RequestRecord;
const make = (i: number): RequestRecord => ({
  ...blank,
  id: `rec-${i}`,
  started_at: new Date(1_790_000_000_000 + i).toISOString(),
  duration_ms: 1,
  provider: "openai",
  method: "POST",
  path: "/v1/chat/completions",
  status: 200,
  streamed: false,
  request_bytes: 1,
  response_bytes: 1,
  truncated: false,
  cost_usd: "0.000000375",
  tags: ["x"],
});

describe("journal and batched writer", () => {
  test("a failing DuckDB write loses nothing: retried in order, journal emptied only after", async () => {
    const dir = tempDir();
    const store = await openDuckDBStore(join(dir, "db.duckdb"));
    let failuresLeft = 2;
    const batches: number[] = [];
    const sink = pipelineInto(dir, store, () => ({
      name: "duckdb",
      async take(paths, options) {
        if (failuresLeft-- > 0) throw new Error("disk full (injected)");
        batches.push(await store.appendFiles([...paths], { missingOnly: options.replay }));
      },
    }));
    const journal = openJournal(join(dir, "journal"));
    const writer = createRecordWriter({ journal, sink, intervalMs: 10, batchRows: 100, onError: () => {} });
    for (let i = 0; i < 250; i++) writer.write(line(make(i)));
    await writer.flush();
    expect(writer.stats()).toMatchObject({ storeFailures: 1, queued: 250, stored: 0 });
    // DuckDB refused them: all 250 wait on disk, as events or as records made of them.
    expect(readJournal(join(dir, "journal")).lines.length + recordLines(join(dir, "journal", "records"))).toBe(250);
    for (let i = 0; i < 100 && writer.stats().queued > 0; i++) await Bun.sleep(20);
    expect(writer.stats()).toMatchObject({ stored: 250, queued: 0, storeFailures: 2 });
    // The segments that waited on disk went in one batch.
    expect(batches).toEqual([250]);
    expect(journal.pending).toBe(0);
    expect(readJournal(join(dir, "journal")).lines.length).toBe(0);
    const { rows } = await store.queryReadOnly("select count(*)::int, sum(cost_usd)::varchar from requests");
    expect(rows[0]).toEqual([250, "0.000093750"]);
    await store.close();
  });

  test("replay skips records DuckDB already has and a torn last line", async () => {
    const dir = tempDir();
    const store = await openDuckDBStore(join(dir, "db.duckdb"));
    await store.append([make(1), make(2)].map((r) => JSON.stringify(r)).join("\n"));
    const journalDir = join(dir, "journal");
    const journal = openJournal(journalDir);
    for (const i of [1, 2, 3, 4]) journal.append(JSON.stringify(make(i)));
    const [segment] = readdirSync(journalDir);
    writeFileSync(join(journalDir, segment!), '{"id":"rec-torn","star', { flag: "a" });
    expect(await recordLeftovers(journalDir, store, () => {})).toBe(4);
    // The journal segment is recorded and gone; DuckDB has each record once.
    expect(readdirSync(journalDir)).toEqual(["records"]);
    expect(readdirSync(join(journalDir, "records"))).toEqual(["cursors.json"]);
    expect((await store.queryReadOnly("select count(*)::int from requests")).rows[0]).toEqual([4]);
    await store.close();
  });

  test("flush stores every record written before it, while writes go on", async () => {
    const dir = tempDir();
    const store = await openDuckDBStore(join(dir, "db.duckdb"));
    const journal = openJournal(join(dir, "journal"));
    // A slow sink: records keep coming while a batch is being stored.
    const sink = pipelineInto(dir, store, (duckdb) => ({
      name: "duckdb",
      async take(paths, options) {
        await Bun.sleep(30);
        await duckdb.take(paths, options);
      },
    }));
    const writer = createRecordWriter({ journal, sink, intervalMs: 5, batchRows: 50, onError: () => {} });
    let i = 0;
    const writing = setInterval(() => {
      for (let k = 0; k < 20; k++) writer.write(line(make(i++)));
    }, 2);
    await Bun.sleep(50);
    const before = i;
    await writer.flush();
    const { rows } = await store.queryReadOnly(`select count(*)::int from requests where id in (${Array.from({ length: before }, (_, k) => `'rec-${k}'`).join(",")})`);
    expect(rows[0]).toEqual([before]);
    clearInterval(writing);
    await writer.flush();
    expect(writer.stats()).toMatchObject({ written: i, stored: i, queued: 0 });
    expect((await store.queryReadOnly("select count(*)::int from requests")).rows[0]).toEqual([i]);
    await store.close();
  });

  test("a segment whose write failed is recorded without its partial line: its whole lines are kept", async () => {
    const dir = tempDir();
    const store = await openDuckDBStore(join(dir, "db.duckdb"));
    const journalDir = join(dir, "journal");
    const journal = openJournal(journalDir);
    journal.append(JSON.stringify(make(1)));
    // What a write cut short by a full disk leaves behind, then the failure is reported.
    const [segment] = readdirSync(journalDir);
    writeFileSync(join(journalDir, segment!), '{"id":"rec-partial","sta', { flag: "a" });
    const sealed = journal.seal()!;
    expect(sealed.rows).toBe(1);
    await pipelineInto(dir, store).recordFiles([sealed.path]);
    expect((await store.queryReadOnly("select id from requests")).rows).toEqual([["rec-1"]]);
    journal.release(sealed);
    expect(readdirSync(journalDir).filter((name) => name !== "records")).toHaveLength(1); // the new active segment
    journal.close();
    expect(readdirSync(journalDir)).toEqual(["records"]);
    await store.close();
  });

  test("a backlog past the warning size is reported, once a minute at most, and nothing is lost", async () => {
    const dir = tempDir();
    const store = await openDuckDBStore(join(dir, "db.duckdb"));
    const journal = openJournal(join(dir, "journal"));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const sink = pipelineInto(dir, store, (duckdb) => ({
      name: "duckdb",
      async take(paths, options) {
        await held; // storage that cannot keep up
        await duckdb.take(paths, options);
      },
    }));
    const messages: string[] = [];
    const writer = createRecordWriter({ journal, sink, intervalMs: 5, batchRows: 10, backlogWarningRows: 25, onError: (m) => messages.push(m) });
    for (let i = 0; i < 20; i++) writer.write(line(make(i)));
    expect(messages).toEqual([]);
    for (let i = 20; i < 60; i++) writer.write(line(make(i)));
    expect(messages).toEqual(["storage is behind: 30 records wait in the journal (on disk) for DuckDB"]);
    release();
    await writer.flush();
    expect(writer.stats()).toMatchObject({ written: 60, stored: 60, queued: 0 });
    await store.close();
  });
});
