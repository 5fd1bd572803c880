import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createFaultLog } from "../../src/recording/fault-log.ts";
import { openJournal, type Journal } from "../../src/recording/journal.ts";
import { createRecordWriter, type RecordingSink, type UnjournaledEvent } from "../../src/recording/journal-writer.ts";
import { tempDir } from "../support/gateway.ts";

/** A journal on disk whose writes fail while `full` is set (a disk that filled up). */
function fillingJournal() {
  const real = openJournal(join(tempDir(), "journal"));
  const state = { full: false };
  const refuse = () => {
    if (state.full) throw new Error("ENOSPC: no space left on device, write (injected)");
  };
  const journal: Journal = {
    append: (line) => (refuse(), real.append(line)),
    appendWithBody: (head, body) => (refuse(), real.appendWithBody(head, body)),
    seal: () => real.seal(),
    release: (segment) => real.release(segment),
    sync: () => real.sync(),
    close: () => real.close(),
    get activeRows() {
      return real.activeRows;
    },
    get pending() {
      return real.pending;
    },
  };
  return { journal, state };
}

/** A sink that takes everything, counting what it was given. */
function countingSink() {
  const taken = { files: 0, events: [] as UnjournaledEvent[] };
  const sink: RecordingSink = {
    recordFiles: async (paths) => void (taken.files += paths.length),
    recordEvents: async (events) => void taken.events.push(...events),
  };
  return { sink, taken };
}

describe("the fault log", () => {
  test("says a fault when it begins, then at most once a minute with how often, then once when it is over", () => {
    let now = 0;
    const said: string[] = [];
    const faults = createFaultLog((m) => said.push(m), { now: () => now });
    for (let i = 0; i < 100; i++) faults.failed("disk", "disk full");
    expect(said).toEqual(["disk full"]);
    now = 61_000;
    faults.failed("disk", "disk full");
    expect(said).toHaveLength(2);
    expect(said[1]).toStartWith("disk full (still failing: 101 times since 1970-01-01T00:00:00.000Z)");
    faults.recovered("other", "not failing: nothing said");
    faults.recovered("disk", "disk has room again");
    expect(said[2]).toBe("disk has room again (after 101 failure(s) over 61 s)");
    expect(faults.failing("disk")).toBe(false);
  });
});

describe("a journal whose disk is full", () => {
  test("calls are journaled in memory meanwhile and stored once it has room; one line when it fails and one when it works again", async () => {
    const { journal, state } = fillingJournal();
    const { sink, taken } = countingSink();
    const said: string[] = [];
    const writer = createRecordWriter({ journal, sink, intervalMs: 5, batchRows: 1000, onError: (m) => said.push(m) });
    writer.write('{"n":0}');
    state.full = true;
    for (let i = 1; i <= 200; i++) writer.write(JSON.stringify({ n: i }));
    writer.writeWithBody('{"n":201}', new Uint8Array(100));
    state.full = false;
    writer.write('{"n":202}');
    await writer.flush();
    expect(taken.events.map((e) => JSON.parse(e.head).n)).toEqual(Array.from({ length: 201 }, (_, i) => i + 1));
    expect(writer.stats()).toMatchObject({ written: 203, stored: 203, journalFailures: 201, lost: 0, queued: 0 });
    const journalLines = said.filter((m) => m.includes("journal"));
    expect(journalLines).toHaveLength(2);
    expect(journalLines[0]).toStartWith("journal write failed, the call's event waits in memory until it can be stored");
    expect(journalLines[1]).toStartWith("journal writes work again; 0 record(s) lost meanwhile (after 201 failure(s)");
  });

  test("past the memory bound, refused events are dropped and counted as lost, said once; flush() does not wait for them", async () => {
    const { journal, state } = fillingJournal();
    const { sink, taken } = countingSink();
    const said: string[] = [];
    // Room for about ten events of this size.
    const head = JSON.stringify({ pad: "x".repeat(90) });
    const writer = createRecordWriter({ journal, sink, intervalMs: 5, batchRows: 1000, onError: (m) => said.push(m), maxUnjournaledBytes: head.length * 2 * 10 });
    state.full = true;
    for (let i = 0; i < 50; i++) writer.write(head);
    expect(writer.stats()).toMatchObject({ written: 50, journalFailures: 50, lost: 40 });
    await writer.flush();
    expect(taken.events).toHaveLength(10);
    expect(writer.stats()).toMatchObject({ stored: 10, lost: 40, queued: 0 });
    // The first refusal is said; the first loss is the same fault: nothing more within the minute.
    expect(said.filter((m) => m.includes("journal write failed"))).toHaveLength(1);
  });

  test("a sink that keeps failing is said once, not once per retry, and once when it takes records again", async () => {
    const journal = openJournal(join(tempDir(), "journal"));
    let failing = true;
    let tries = 0;
    const sink: RecordingSink = {
      async recordFiles() {
        tries++;
        if (failing) throw new Error("DuckDB: No space left on device (injected)");
      },
      recordEvents: async () => {},
    };
    const said: string[] = [];
    const writer = createRecordWriter({ journal, sink, intervalMs: 1, batchRows: 1000, onError: (m) => said.push(m) });
    writer.write('{"n":1}');
    for (let i = 0; i < 100 && tries < 5; i++) await Bun.sleep(10);
    expect(tries).toBeGreaterThanOrEqual(5);
    expect(said).toHaveLength(1);
    expect(said[0]).toContain("storing 1 journal segment(s) failed, will retry: DuckDB: No space left on device (injected)");
    failing = false;
    await writer.flush();
    for (let i = 0; i < 100 && said.length < 2; i++) await Bun.sleep(10);
    expect(said[1]).toStartWith("storing records works again; 1 stored so far (after");
  });
});
