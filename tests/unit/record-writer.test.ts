import { describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REQUEST_COLUMNS, type RequestRecord } from "../../src/record.ts";
import { openDuckDBStore } from "../../src/sinks/duckdb/duckdb-store.ts";
import { openJournal, readJournal } from "../../src/recording/journal.ts";
import { createRecordWriter } from "../../src/recording/journal-writer.ts";
import { replayJournal } from "../../src/recording/replay.ts";
import { tempDir } from "../support/gateway.ts";

// These writers get whole records only (no entries with a body to complete).
const complete = (): string => {
  throw new Error("no entry with a body is written here");
};
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
    const sink = {
      append: (ndjson: string) => store.append(ndjson),
      appendFiles: async (paths: string[], options: { lenient: boolean }) => {
        if (failuresLeft-- > 0) throw new Error("disk full (injected)");
        batches.push(await store.appendFiles(paths, options));
      },
    };
    const journal = openJournal(join(dir, "journal"));
    const writer = createRecordWriter({ journal, sink, intervalMs: 10, batchRows: 100, onError: () => {}, complete });
    for (let i = 0; i < 250; i++) writer.write(make(i));
    expect(readJournal(join(dir, "journal")).lines.length).toBe(250);
    await writer.flush();
    expect(writer.stats()).toMatchObject({ storeFailures: 1, queued: 250, stored: 0 });
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
    expect(await replayJournal(journalDir, store)).toEqual({ files: 1, added: 2 });
    expect(readdirSync(journalDir)).toEqual([]);
    expect((await store.queryReadOnly("select count(*)::int from requests")).rows[0]).toEqual([4]);
    await store.close();
  });

  test("flush stores every record written before it, while writes go on", async () => {
    const dir = tempDir();
    const store = await openDuckDBStore(join(dir, "db.duckdb"));
    const journal = openJournal(join(dir, "journal"));
    // A slow sink: records keep coming while a batch is being stored.
    const sink = {
      append: (ndjson: string) => store.append(ndjson),
      appendFiles: async (paths: string[], options: { lenient: boolean }) => {
        await Bun.sleep(30);
        await store.appendFiles(paths, options);
      },
    };
    const writer = createRecordWriter({ journal, sink, intervalMs: 5, batchRows: 50, onError: () => {}, complete });
    let i = 0;
    const writing = setInterval(() => {
      for (let k = 0; k < 20; k++) writer.write(make(i++));
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

  test("a segment whose write failed is loaded leniently: its whole lines are kept", async () => {
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
    await expect(store.appendFiles([sealed.path], { lenient: false })).rejects.toThrow();
    expect(await store.appendFiles([sealed.path], { lenient: true })).toBe(1);
    journal.release(sealed);
    expect(readdirSync(journalDir)).toHaveLength(1); // the new active segment
    journal.close();
    expect(readdirSync(journalDir)).toEqual([]);
    await store.close();
  });

  test("a backlog past the warning size is reported, once a minute at most, and nothing is lost", async () => {
    const dir = tempDir();
    const store = await openDuckDBStore(join(dir, "db.duckdb"));
    const journal = openJournal(join(dir, "journal"));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const sink = {
      append: (ndjson: string) => store.append(ndjson),
      appendFiles: async (paths: string[], options: { lenient: boolean }) => {
        await held; // storage that cannot keep up
        await store.appendFiles(paths, options);
      },
    };
    const messages: string[] = [];
    const writer = createRecordWriter({ journal, sink, intervalMs: 5, batchRows: 10, backlogWarningRows: 25, onError: (m) => messages.push(m), complete });
    for (let i = 0; i < 20; i++) writer.write(make(i));
    expect(messages).toEqual([]);
    for (let i = 20; i < 60; i++) writer.write(make(i));
    expect(messages).toEqual(["storage is behind: 30 records wait in the journal (on disk) for DuckDB"]);
    release();
    await writer.flush();
    expect(writer.stats()).toMatchObject({ written: 60, stored: 60, queued: 0 });
    await store.close();
  });
});
