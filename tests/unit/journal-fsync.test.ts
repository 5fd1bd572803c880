import { describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { loadFileMapping } from "../../src/runtime/file-mapping.ts";
import { openJournal, type SyncCalls } from "../../src/recording/journal.ts";
import { createJournalSync } from "../../src/recording/journal-sync.ts";
import { createRecordWriter, type RecordingSink } from "../../src/recording/journal-writer.ts";
import { tempDir } from "../support/gateway.ts";

const mapping = await loadFileMapping();
const MiB = 1 << 20;

/** System calls a test holds: each fdatasync/fsync waits until the test lets it go (or fail). */
function heldSyncCalls() {
  const calls: { kind: "fdatasync" | "fsync"; fd: number; release(error?: Error): void }[] = [];
  const held = (kind: "fdatasync" | "fsync") => (fd: number) =>
    new Promise<void>((resolve, reject) => calls.push({ kind, fd, release: (error) => (error ? reject(error) : resolve()) }));
  const syncCalls: SyncCalls = { fdatasync: held("fdatasync"), fsync: held("fsync") };
  return {
    syncCalls,
    calls,
    /** Lets every call made so far go; resolves after their promises settle. */
    async releaseAll(error?: Error) {
      for (const call of calls.splice(0)) call.release(error);
      await Bun.sleep(0);
    },
  };
}

const nowhere: RecordingSink = { recordFiles: async () => {}, recordEvents: async () => {} };
const settledYet = (promise: Promise<void> | undefined) => {
  let settled = false;
  void promise?.then(() => (settled = true));
  return () => settled;
};
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("LOUPE_JOURNAL_FSYNC", () => {
  test("parses never, interval and always (default never); anything else stops the start naming the setting", () => {
    expect(loadConfig({ env: {} }).journalFsync).toBe("never");
    expect(loadConfig({ env: { LOUPE_JOURNAL_FSYNC: "always" } }).journalFsync).toBe("always");
    expect(loadConfig({ flags: { "--journal-fsync": "interval" }, env: {} }).journalFsync).toBe("interval");
    for (const bad of ["sometimes", "ALWAYS", "1"]) {
      expect(() => loadConfig({ env: { LOUPE_JOURNAL_FSYNC: bad } })).toThrow(ConfigError);
      expect(() => loadConfig({ env: { LOUPE_JOURNAL_FSYNC: bad } })).toThrow(/--journal-fsync \/ LOUPE_JOURNAL_FSYNC: .*"never".*"interval".*"always"/);
    }
  });
});

describe("journal sync", () => {
  test.skipIf(mapping === null)("syncs each file written since the last sync once, and the folder once per new file; a sealed mapped file stays open (uncut) until a sync covers it", async () => {
    const dir = join(tempDir(), "journal");
    const os = heldSyncCalls();
    const journal = openJournal(dir, { mapping, syncing: true, syncCalls: os.syncCalls });
    journal.append('{"n":1}');
    const first = journal.sync();
    expect(os.calls.map((c) => c.kind).sort()).toEqual(["fdatasync", "fsync"]);
    const segment = journal.seal()!;
    // Sealed while its sync runs: its descriptor stays open, the file keeps its reserve (zero tail) until the sync ends.
    expect(statSync(segment.path).size).toBe(MiB);
    await os.releaseAll();
    expect(await first).toBe(2);
    expect(statSync(segment.path).size).toBe('{"n":1}\n'.length);
    // Nothing written since, but a new segment file: the folder alone.
    const second = journal.sync();
    expect(os.calls.map((c) => c.kind)).toEqual(["fsync"]);
    await os.releaseAll();
    expect(await second).toBe(1);
    expect(await journal.sync()).toBe(0);
    expect(os.calls).toEqual([]);
    journal.close();
  });

  test("a sealed segment written after a sync began waits for the next sync to be closed", async () => {
    const dir = join(tempDir(), "journal");
    const os = heldSyncCalls();
    const journal = openJournal(dir, { syncing: true, syncCalls: os.syncCalls });
    journal.append('{"n":1}');
    const first = journal.sync();
    journal.append('{"n":2}');
    const segment = journal.seal()!;
    await os.releaseAll();
    await first;
    // Its second line is not covered yet: the next sync takes that file (and the folder, for the new active file).
    const second = journal.sync();
    expect(os.calls.filter((c) => c.kind === "fdatasync")).toHaveLength(1);
    await os.releaseAll();
    expect(await second).toBe(2);
    expect(readFileSync(segment.path, "utf8")).toBe('{"n":1}\n{"n":2}\n');
    journal.close();
  });

  test.skipIf(mapping === null)("with the system's calls, a mapped journal syncs and reads back whole", async () => {
    const dir = join(tempDir(), "journal");
    const journal = openJournal(dir, { mapping, syncing: true });
    for (let i = 0; i < 100; i++) journal.append(JSON.stringify({ i }));
    expect(await journal.sync()).toBe(2);
    const segment = journal.seal()!;
    expect(await journal.sync()).toBe(1); // the folder, for the next file
    expect(readFileSync(segment.path, "utf8").split("\n").filter(Boolean)).toHaveLength(100);
    journal.close();
  });
});

describe("group commit (always)", () => {
  test("calls finishing in one turn of the event loop share one sync, and none is answered before it ends", async () => {
    const os = heldSyncCalls();
    const journal = openJournal(join(tempDir(), "journal"), { syncing: true, syncCalls: os.syncCalls });
    const writer = createRecordWriter({ journal, sink: nowhere, intervalMs: 60_000, batchRows: 1000, fsync: "always" });
    const turn1 = Array.from({ length: 10 }, (_, i) => writer.write(JSON.stringify({ i })));
    expect(turn1.every((p) => p instanceof Promise)).toBe(true);
    expect(new Set(turn1).size).toBe(1); // one promise for the group
    const done1 = settledYet(turn1[0]);
    await tick();
    expect(os.calls.map((c) => c.kind).sort()).toEqual(["fdatasync", "fsync"]);
    // While that sync runs, more calls finish: they wait for the next one, which starts only when this one ends.
    const turn2 = writer.writeWithBody(JSON.stringify({ i: 10 }), new Uint8Array([1, 2, 3]));
    const done2 = settledYet(turn2);
    await tick();
    expect(os.calls).toHaveLength(2);
    expect(done1()).toBe(false);
    await os.releaseAll();
    expect(done1()).toBe(true);
    expect(done2()).toBe(false);
    expect(os.calls.map((c) => c.kind)).toEqual(["fdatasync"]);
    await os.releaseAll();
    expect(done2()).toBe(true);
    expect(writer.stats().fsync).toEqual({ mode: "always", syncs: 2, failures: 0 });
  });

  test("synced() (shutdown) waits for the syncs asked for, then resolves", async () => {
    const os = heldSyncCalls();
    const journal = openJournal(join(tempDir(), "journal"), { syncing: true, syncCalls: os.syncCalls });
    const writer = createRecordWriter({ journal, sink: nowhere, intervalMs: 60_000, batchRows: 1000, fsync: "always" });
    await writer.synced();
    void writer.write('{"n":1}');
    const idle = settledYet(writer.synced());
    await tick();
    expect(idle()).toBe(false);
    await os.releaseAll();
    await Bun.sleep(0);
    expect(idle()).toBe(true);
  });

  test("a failed sync still answers its calls, is counted each time and reported once", async () => {
    const os = heldSyncCalls();
    const journal = openJournal(join(tempDir(), "journal"), { syncing: true, syncCalls: os.syncCalls });
    const errors: string[] = [];
    const writer = createRecordWriter({ journal, sink: nowhere, intervalMs: 60_000, batchRows: 1000, fsync: "always", onError: (m) => errors.push(m) });
    for (let round = 0; round < 3; round++) {
      const done = settledYet(writer.write(JSON.stringify({ round })));
      await tick();
      await os.releaseAll(new Error("EIO: i/o error, fdatasync"));
      expect(done()).toBe(true);
    }
    expect(writer.stats().fsync).toMatchObject({ syncs: 0, failures: 3 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("journal fsync failed (1 so far; calls are answered");
  });

  test("interval syncs off the request path and holds no call; never syncs nothing", async () => {
    const os = heldSyncCalls();
    const journal = openJournal(join(tempDir(), "journal"), { syncing: true, syncCalls: os.syncCalls });
    const sync = createJournalSync(journal, { mode: "interval", intervalMs: 10, onError: () => {} });
    expect(sync.afterWrite()).toBeUndefined();
    journal.append('{"n":1}');
    await Bun.sleep(40);
    // One sync at a time: the first is still held, so no other started.
    expect(os.calls.map((c) => c.kind).sort()).toEqual(["fdatasync", "fsync"]);
    await os.releaseAll();
    await Bun.sleep(40);
    expect(os.calls).toEqual([]); // nothing new written
    expect(sync.stats()).toEqual({ mode: "interval", syncs: 1, failures: 0 });
    sync.stop();

    const never = createRecordWriter({ journal: openJournal(join(tempDir(), "journal")), sink: nowhere, intervalMs: 60_000, batchRows: 1000 });
    expect(never.write('{"n":1}')).toBeUndefined();
    expect(never.stats().fsync).toEqual({ mode: "never", syncs: 0, failures: 0 });
  });
});
