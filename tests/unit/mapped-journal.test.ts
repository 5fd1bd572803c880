import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { REQUEST_COLUMNS, type RequestRecord } from "../../src/record.ts";
import { openDuckDBStore } from "../../src/sinks/duckdb/duckdb-store.ts";
import { loadFileMapping, type FileMapping } from "../../src/runtime/file-mapping.ts";
import { journalFiles, openJournal, readJournal } from "../../src/recording/journal.ts";
import { recordLeftovers } from "../../src/recording/replay.ts";
import { openPipeline } from "../../src/recording/pipeline.ts";
import { createDuckDBSink } from "../../src/sinks/duckdb/duckdb-sink.ts";
import { loadPriceBook } from "../../src/pricing/load-prices.ts";
import type { DuckDBStore } from "../../src/sinks/duckdb/duckdb-store.ts";

const priceBook = loadPriceBook(undefined);
/** Records sealed segments through the recorder into DuckDB (in process); resolves with how many rows DuckDB has. */
async function recordInto(dir: string, store: DuckDBStore, paths: string[]): Promise<number> {
  await openPipeline({ journalDir: join(dir, "journal"), sinks: [createDuckDBSink(store)], priceBook, onProblem: () => {} }).recordFiles(paths);
  return (await store.queryReadOnly("select count(*)::int from requests")).rows[0]![0] as number;
}
import { tempDir } from "../support/gateway.ts";

const mapping = (await loadFileMapping())!;
const MiB = 1 << 20;
const blank = Object.fromEntries(REQUEST_COLUMNS.map(([name]) => [name, null])) as unknown as RequestRecord;
const line = (i: number, pad = 0) =>
  JSON.stringify({
    ...blank,
    id: `rec-${i}`,
    started_at: new Date(1_790_000_000_000 + i).toISOString(),
    provider: "openai",
    status: 200,
    cost_usd: "0.000001000",
    error_message: pad ? "é".repeat(pad) : null,
  });
const FIXTURE = join(import.meta.dir, "..", "fixtures", "openai", "chat-nonstream.json");
const head = (id: string, encoding: string | null = null) =>
  JSON.stringify({
    id,
    startedAt: 1_790_000_000_000,
    durationMs: 1,
    ttfbMs: 1,
    provider: "openai",
    pricingProvider: "openai",
    method: "POST",
    path: "/openai/v1/chat/completions",
    status: 200,
    request: { model: "gpt-5.4", streamed: false, params: {} },
    tags: {},
    logBody: "meta",
    requestBytes: 10,
    responseBytes: 10,
    truncated: false,
    upstreamPath: "/v1/chat/completions",
    encoding,
    captureBytes: 0,
  });

describe.skipIf(process.platform !== "linux")("journal segments written through a shared mapping", () => {
  test("libc's mapping functions load here (the gateway uses them)", () => {
    expect(mapping).not.toBeNull();
  });

  test("a sealed segment is exactly its lines, growing past its reserve, and DuckDB loads it as it is", async () => {
    const dir = tempDir();
    const journal = openJournal(join(dir, "journal"), { mapping });
    const [active] = journalFiles(join(dir, "journal"));
    expect(statSync(active!).size).toBe(MiB); // room reserved ahead
    const lines: string[] = [];
    // ~3 MiB: two growths; the multi-byte padding checks bytes, not characters, are counted.
    for (let i = 0; i < 1500; i++) lines.push(line(i, i % 7 === 0 ? 900 : 10));
    for (const l of lines) journal.append(l);
    expect(journal.activeRows).toBe(1500);
    // While active, the written lines are already in the file (what kill -9 would leave).
    expect(readJournal(join(dir, "journal")).lines).toEqual(lines);
    const sealed = journal.seal()!;
    expect(readFileSync(sealed.path, "utf8")).toBe(`${lines.join("\n")}\n`);
    const store = await openDuckDBStore(join(dir, "db.duckdb"));
    expect(await recordInto(dir, store, [sealed.path])).toBe(1500);
    journal.release(sealed);
    // The next segment reserves what this one took, rounded up to a MiB.
    expect(statSync(journalFiles(join(dir, "journal"))[0]!).size).toBe(Math.ceil(Buffer.byteLength(`${lines.join("\n")}\n`) / MiB) * MiB);
    journal.close();
    expect(readdirSync(join(dir, "journal"))).toEqual(["records"]);
    await store.close();
  });

  test("an entry with a body bigger than the reserve, binary (gzip) bodies among them, reads back whole", async () => {
    const dir = tempDir();
    const journal = openJournal(join(dir, "journal"), { mapping });
    const body = new Uint8Array(readFileSync(FIXTURE));
    const big = new Uint8Array(3 * MiB).fill(0x20);
    big.set(body);
    journal.appendWithBody(head("a"), body);
    journal.appendWithBody(head("b", "gzip"), gzipSync(body));
    journal.appendWithBody(head("c"), big);
    journal.append(line(1));
    const sealed = journal.seal()!;
    const store = await openDuckDBStore(join(dir, "db.duckdb"));
    expect(await recordInto(dir, store, [sealed.path])).toBe(4);
    const { rows } = await store.queryReadOnly("select id, output_tokens::int, cost_usd is not null from requests order by id");
    expect(rows).toEqual([
      ["a", 46, true],
      ["b", 46, true],
      ["c", 46, true],
      ["rec-1", null, true],
    ]);
    journal.close();
    await store.close();
  });

  test("kill -9 mid-segment: every line and entry written is recovered, the reserved zero bytes are dropped", async () => {
    const dir = tempDir();
    const journalDir = join(dir, "journal");
    // A child process journals, then dies without closing anything.
    const script = join(dir, "crash.ts");
    writeFileSync(
      script,
      `
      import { readFileSync } from "node:fs";
      import { loadFileMapping } from ${JSON.stringify(join(import.meta.dir, "../../src/runtime/file-mapping.ts"))};
      import { openJournal } from ${JSON.stringify(join(import.meta.dir, "../../src/recording/journal.ts"))};
      const journal = openJournal(${JSON.stringify(journalDir)}, { mapping: await loadFileMapping() });
      const body = new Uint8Array(readFileSync(${JSON.stringify(FIXTURE)}));
      const line = ${JSON.stringify(line(0))};
      for (let i = 0; i < 300; i++) {
        journal.append(line.replace("rec-0", "rec-" + i));
        if (i % 3 === 0) journal.appendWithBody(${JSON.stringify(head("x"))}.replace('"x"', '"body-' + i + '"'), body);
      }
      process.kill(process.pid, "SIGKILL");
      `,
    );
    const child = Bun.spawn([process.execPath, script], { stderr: "inherit" });
    expect(await child.exited).not.toBe(0);
    expect(child.signalCode).toBe("SIGKILL");
    const [left] = journalFiles(journalDir);
    const bytes = readFileSync(left!);
    expect(bytes.byteLength).toBe(MiB);
    expect(bytes.at(-1)).toBe(0);
    const store = await openDuckDBStore(join(dir, "db.duckdb"));
    expect(await recordLeftovers(journalDir, store, () => {})).toBe(400);
    const { rows } = await store.queryReadOnly("select count(*)::int, count(*) filter (where id like 'body-%' and output_tokens = 46)::int from requests");
    expect(rows[0]).toEqual([400, 100]);
    await store.close();
  });

  test("kill -9 with only record lines: the zero tail after the last whole line is dropped when it is recorded", async () => {
    const dir = tempDir();
    const journalDir = join(dir, "journal");
    const journal = openJournal(journalDir, { mapping });
    for (let i = 0; i < 50; i++) journal.append(line(i));
    // Not closed: the file is as a crash leaves it (the mapping's stores are in the page cache).
    const [left] = journalFiles(journalDir);
    const store = await openDuckDBStore(join(dir, "db.duckdb"));
    expect(readFileSync(left!).at(-1)).toBe(0);
    expect(await recordLeftovers(journalDir, store, () => {})).toBe(50);
    expect((await store.queryReadOnly("select count(*)::int from requests")).rows[0]).toEqual([50]);
    await store.close();
  });

  test("the next segment's file is made ahead off the event loop: a seal renames it, lines land whole, and no spare outlives the journal", async () => {
    const dir = join(tempDir(), "journal");
    const made: string[] = [];
    const counting: FileMapping = {
      create: mapping.create,
      prepare: (path, size) => {
        made.push(path);
        return mapping.prepare!(path, size);
      },
    };
    const journal = openJournal(dir, { mapping: counting });
    const sealed = [];
    for (let round = 0; round < 5; round++) {
      await Bun.sleep(20); // the spare is ready before the next seal
      for (let i = 0; i < 100; i++) journal.append(line(round * 100 + i));
      sealed.push(journal.seal()!);
    }
    // The first spare was made at open, and one after each seal; every seal after the first took one.
    expect(made.length).toBeGreaterThanOrEqual(5);
    // The one made after the last seal (its file appears once the thread pool has opened it).
    for (let i = 0; i < 50 && !readdirSync(dir).some((name) => name.startsWith("spare-")); i++) await Bun.sleep(10);
    expect(readdirSync(dir).filter((name) => name.startsWith("spare-"))).toHaveLength(1);
    for (const [round, segment] of sealed.entries()) {
      const lines = readFileSync(segment.path, "utf8").split("\n").filter(Boolean);
      expect(lines).toEqual(Array.from({ length: 100 }, (_, i) => line(round * 100 + i)));
    }
    journal.close();
    // One still being made when the journal closed is deleted once it is made (or, if the process ends first, at the next open).
    for (let i = 0; i < 50 && readdirSync(dir).some((name) => name.startsWith("spare-")); i++) await Bun.sleep(20);
    expect(readdirSync(dir).filter((name) => name.startsWith("spare-"))).toEqual([]);
  });

  test("a spare whose file went (its folder deleted, say) is let go quietly when the journal closes", async () => {
    const dir = join(tempDir(), "journal");
    const journal = openJournal(dir, { mapping });
    for (let i = 0; i < 50 && !readdirSync(dir).some((name) => name.startsWith("spare-")); i++) await Bun.sleep(10);
    const [spare] = readdirSync(dir).filter((name) => name.startsWith("spare-"));
    expect(spare).toBeDefined();
    unlinkSync(join(dir, spare!));
    expect(() => journal.close()).not.toThrow();
  });

  test("a spare left by a crash is deleted when the journal opens, never read as a segment", () => {
    const dir = join(tempDir(), "journal");
    openJournal(dir, { mapping }).close();
    writeFileSync(join(dir, "spare-7.tmp"), new Uint8Array(MiB));
    expect(journalFiles(dir)).toEqual([]);
    const journal = openJournal(dir, { mapping });
    expect(readdirSync(dir).filter((name) => name.startsWith("spare-7"))).toEqual([]);
    journal.close();
  });

  test("a segment that cannot be mapped is written with write(2) instead, and said so; a failed growth loses no line", () => {
    const dir = tempDir();
    const messages: string[] = [];
    let refuse = true;
    let growthFails = false;
    const flaky: FileMapping = {
      create(path, size) {
        if (refuse) throw new Error("no space left on device (injected)");
        const file = mapping.create(path, size);
        return {
          fd: file.fd,
          get bytes() {
            return file.bytes;
          },
          reserve(wanted) {
            if (growthFails) throw new Error("no space left on device (injected)");
            file.reserve(wanted);
          },
          close: (length) => file.close(length),
          moveTo: (to) => file.moveTo(to),
        };
      },
    };
    const journal = openJournal(join(dir, "journal"), { mapping: flaky, onError: (m) => messages.push(m) });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain("cannot be mapped, written instead: no space left on device (injected)");
    journal.append(line(1));
    refuse = false;
    const first = journal.seal()!;
    expect(readFileSync(first.path, "utf8")).toBe(`${line(1)}\n`);
    journal.append(line(2));
    growthFails = true;
    expect(() => journal.append(line(3, MiB))).toThrow("no space left on device");
    expect(journal.activeRows).toBe(1);
    const second = journal.seal()!;
    expect(second).toMatchObject({ rows: 1, suspect: true });
    expect(readFileSync(second.path, "utf8")).toBe(`${line(2)}\n`);
    journal.close();
  });
});
