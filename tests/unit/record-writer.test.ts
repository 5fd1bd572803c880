import { describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REQUEST_COLUMNS, type RequestRecord } from "../../src/record.ts";
import { openDuckDBStore } from "../../src/store/duckdb-store.ts";
import { openJournal, readJournal } from "../../src/store/journal.ts";
import { createRecordWriter } from "../../src/store/record-writer.ts";
import { replayJournal } from "../../src/store/replay-journal.ts";
import { tempDir } from "../support/gateway.ts";

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
    const sink = {
      append: async (ndjson: string) => {
        if (failuresLeft-- > 0) throw new Error("disk full (injected)");
        await store.append(ndjson);
      },
    };
    const journal = openJournal(join(dir, "journal"));
    const writer = createRecordWriter({ journal, sink, intervalMs: 10, batchRows: 100, onError: () => {} });
    for (let i = 0; i < 250; i++) writer.write(make(i));
    expect(readJournal(join(dir, "journal")).lines.length).toBe(250);
    await writer.flush();
    expect(writer.stats()).toMatchObject({ storeFailures: 1, queued: 250 });
    for (let i = 0; i < 100 && writer.stats().queued > 0; i++) await Bun.sleep(20);
    expect(writer.stats()).toMatchObject({ stored: 250, queued: 0, storeFailures: 2 });
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
    expect(await replayJournal(journalDir, store)).toEqual({ found: 4, added: 2 });
    expect(readdirSync(journalDir)).toEqual([]);
    expect((await store.queryReadOnly("select count(*)::int from requests")).rows[0]).toEqual([4]);
    await store.close();
  });
});
