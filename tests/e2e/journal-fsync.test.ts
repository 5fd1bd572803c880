import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * LOUPE_JOURNAL_FSYNC end to end: each mode records every call, and the
 * syncs really happen — counted by /livez, and, where strace can attach,
 * seen as fdatasync(2) system calls on the journal's segment files.
 */
let mock: MockUpstream;
beforeAll(async () => {
  mock = await startMockUpstream();
});
afterAll(() => mock.stop());

const MODES = ["never", "interval", "always"] as const;
const start = (mode: string) => startGateway({ env: { LOUPE_ANTHROPIC_BASE_URL: mock.url, LOUPE_JOURNAL_FSYNC: mode, LOUPE_FLUSH_INTERVAL_MS: "50" } });

/** `count` calls, half of them streams, `parallel` at a time; their request ids. */
async function calls(gw: Gateway, count: number, parallel: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += parallel) {
    await Promise.all(
      Array.from({ length: Math.min(parallel, count - i) }, async (_, j) => {
        const stream = (i + j) % 2 === 0;
        const response = await fetch(`${gw.url}/anthropic/v1/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": "k" },
          body: JSON.stringify({ model: "claude-opus-4-8", max_tokens: 10, stream, messages: [{ role: "user", content: "hi" }] }),
        });
        await response.arrayBuffer();
        expect(response.status).toBe(200);
        ids.push(response.headers.get("x-loupe-request-id")!);
      }),
    );
  }
  return ids;
}

const livez = async (gw: Gateway) => (await (await fetch(`${gw.url}/livez`)).json()) as { records: { fsync: { mode: string; syncs: number; failures: number } } };

describe("LOUPE_JOURNAL_FSYNC", () => {
  test.each(MODES)("%s: every call is recorded, and the syncs are counted in /livez", async (mode) => {
    const gw = await start(mode);
    const ids = await calls(gw, 24, 8);
    await Bun.sleep(250); // interval: a sync or two since the last call
    const rows = await gw.sql<{ id: string }>("select id from requests");
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids));
    const { fsync } = (await livez(gw)).records;
    expect(fsync.mode).toBe(mode);
    expect(fsync.failures).toBe(0);
    if (mode === "never") expect(fsync.syncs).toBe(0);
    else expect(fsync.syncs).toBeGreaterThan(0);
    // Group commit: eight calls at a time never need more syncs than calls.
    if (mode === "always") expect(fsync.syncs).toBeLessThanOrEqual(ids.length + 1);
    expect(await gw.stop()).toBe(0);
  });

  const strace = Bun.which("strace");
  test.skipIf(strace === null || process.platform !== "linux")("strace sees fdatasync(2) on the journal's files with always (one per sequential call) and interval, none with never", async () => {
    const seen: Record<string, number> = {};
    for (const mode of MODES) {
      const gw = await start(mode);
      // -f: the sync runs on the runtime's thread pool; -y: a descriptor's path, to tell the journal's files from DuckDB's.
      const tracer = Bun.spawn([strace!, "-f", "-y", "-e", "trace=fdatasync", "-p", String(gw.proc.pid)], { stdout: "ignore", stderr: "pipe" });
      const attached = tracer.stderr.getReader();
      let log = "";
      while (!log.includes("attached")) log += new TextDecoder().decode((await attached.read()).value ?? new Uint8Array());
      await calls(gw, 10, 1);
      await Bun.sleep(300);
      tracer.kill("SIGINT");
      for (;;) {
        const { done, value } = await attached.read();
        if (done) break;
        log += new TextDecoder().decode(value);
      }
      await tracer.exited;
      // A call's line, whole or `<unfinished ...>` (another thread's call came in between: it resumes on a later line).
      const synced = (file: RegExp) => log.split("\n").filter((line) => /fdatasync\(\d+<([^>]*)>/.exec(line)?.[1]?.match(file)).length;
      seen[mode] = synced(/\.journal\/\d{8}\.ndjson( \(deleted\))?$/);
      seen[`${mode} (records)`] = synced(/\.journal\/records\/\d{10}\.ndjson\.tmp$/);
      expect(await gw.stop()).toBe(0);
    }
    expect([seen.never, seen["never (records)"]]).toEqual([0, 0]);
    // interval: the journal's files when a sync comes before their records are made, else the record segments made of them.
    expect(seen.interval! + seen["interval (records)"]!).toBeGreaterThan(0);
    // Each of ten calls, one after another, waited for its own sync before its last byte.
    expect(seen.always).toBeGreaterThanOrEqual(10);
    expect(seen["always (records)"]).toBeGreaterThan(0);
  }, 30_000);
});
