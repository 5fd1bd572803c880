/**
 * Memory bench (issue 17): Loupe's resident memory idle after start (target
 * ≤ 60 MB) and at its peak under load (target ≤ 150 MB), by what it maps.
 *
 *   bun bench/memory.ts        # about 1 minute
 *
 * One Loupe (BENCH_LOUPE=exe: dist/loupe, built first when missing; `bun`:
 * `bun main.ts serve`), records on, in front of bench/mock-upstream.ts, on
 * the cores the other benches use. Phases, one after the other:
 * 1. **start**: RSS when /health first answers, and after BENCH_IDLE_S (10) idle.
 * 2. **burst**: autocannon, 50 connections, non-streamed OpenAI chat calls for
 *    BENCH_BURST_S (10) s; its peak, then the peak while the recording worker
 *    stores the burst's records (it runs at background priority, so mostly
 *    after the burst), RSS once they are stored and after BENCH_IDLE_S more
 *    idle (mimalloc returns freed memory after MIMALLOC_PURGE_DELAY, 10 s:
 *    src/runtime/fetch-concurrency.ts).
 * 3. **1 MB prompts**: 10 concurrent calls with a 1 MB prompt each, BENCH_BIG_ROUNDS (5) times; their peak, and while storing them.
 *
 * A phase's peak is VmHWM, reset before the phase (/proc/<pid>/clear_refs).
 * Each row splits the RSS by mapping (harness.ts memoryMap): anonymous memory
 * (both threads' JS heaps, mimalloc's and DuckDB's allocations, stacks), the
 * program file's own pages (the Bun runtime and the embedded bundles),
 * libduckdb.so and the addon, the journal's mapped segments, other files. The
 * peak's split is the smaps sample (every 250 ms) with the largest RSS.
 * Extra environment for Loupe: BENCH_LOUPE_ENV (`K=V K=V`), e.g. to try a setting.
 */
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import {
  autocannon,
  BenchRun,
  BUN,
  backgroundCpu,
  envPairs,
  fmt,
  loupeSql,
  memoryMap,
  num,
  resetPeakRss,
  ROOT,
  statusKb,
  table,
  verdict,
  waitLoupeIdle,
  type MemoryMap,
} from "./harness.ts";

const LOUPE = process.env.BENCH_LOUPE ?? "exe";
const EXE = process.env.BENCH_EXE ?? join(ROOT, "dist", "loupe");
const IDLE_S = num("BENCH_IDLE_S", 10);
const BURST_S = num("BENCH_BURST_S", 10);
const BIG_ROUNDS = num("BENCH_BIG_ROUNDS", 5);
const IDLE_TARGET_MB = 60;
const PEAK_TARGET_MB = 150;

const OPENAI_HEADERS = { "content-type": "application/json", authorization: "Bearer sk-bench-0000000000000000", "user-agent": "loupe-bench/1" };
const CHAT_BODY = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello." }] });
/** A prompt of 1 MB (1,048,576 bytes of text in one user message). */
const BIG_BODY = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "lorem ipsum ".repeat(1 << 20).slice(0, 1 << 20) }] });
const loadAverage = () => loadavg().map((l) => l.toFixed(2)).join(" ");

interface Row {
  phase: string;
  map: MemoryMap;
  /** VmHWM over the phase, when it is a peak. */
  peak?: number;
}

/** Samples smaps every 250 ms while `work` runs; returns the sample with the largest RSS. */
async function sampling<T>(pid: number, work: Promise<T>): Promise<{ result: T; top: MemoryMap }> {
  let top = memoryMap(pid);
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const map = memoryMap(pid);
      if (map.total > top.total) top = map;
      await Bun.sleep(250);
    }
  })();
  const result = await work.finally(() => (done = true));
  await sampler;
  return { result, top };
}

async function main(run: BenchRun) {
  if (LOUPE === "exe" && !existsSync(EXE)) {
    run.log(`${EXE} missing: building it`);
    if (Bun.spawnSync([BUN, join(ROOT, "scripts", "build.ts")], { cwd: ROOT, stdout: "inherit", stderr: "inherit" }).exitCode !== 0) throw new Error("build failed");
  }
  run.log(`load average ${loadAverage()}`);
  const background = await backgroundCpu(run.log);
  const { url: mockUrl } = await run.startMock(5);
  const db = join(run.dir, "loupe.duckdb");
  const command = LOUPE === "exe" ? [EXE] : [BUN, join(ROOT, "main.ts")];
  const env = { LOUPE_OPENAI_BASE_URL: mockUrl, LOUPE_ANTHROPIC_BASE_URL: mockUrl, XDG_CACHE_HOME: join(run.dir, "cache"), ...envPairs("BENCH_LOUPE_ENV") };
  const rows: Row[] = [];
  // The first start of an executable unpacks libduckdb.so into the cache folder: start once, stop, and measure the second start.
  if (LOUPE === "exe") {
    const first = await run.startLoupe("loupe-first", join(run.dir, "first.duckdb"), env, [], "", command);
    await run.stop(first.child, 15_000);
  }
  const loupe = await run.startLoupe("loupe", db, env, [], "", command);
  const { pid } = loupe;
  rows.push({ phase: "start: /health answers", map: memoryMap(pid) });
  await Bun.sleep(IDLE_S * 1000);
  rows.push({ phase: `start + ${IDLE_S} s idle`, map: memoryMap(pid) });

  resetPeakRss(pid);
  const chatUrl = `${loupe.url}/openai/v1/chat/completions`;
  const burst = await sampling(pid, autocannon({ url: chatUrl, headers: OPENAI_HEADERS, body: CHAT_BODY, connections: 50, seconds: BURST_S, pid }));
  rows.push({ phase: `burst: 50 connections, ${BURST_S} s (${fmt(burst.result.rps, 0)} req/s)`, map: burst.top, peak: statusKb(pid, "VmHWM") / 1024 });
  // Under the burst the recording worker (background priority) barely runs: it stores the calls after it.
  const storing = await sampling(pid, waitLoupeIdle(loupe.url, 300_000));
  rows.push({ phase: "storing the burst's records (peak since the burst began)", map: storing.top, peak: statusKb(pid, "VmHWM") / 1024 });
  rows.push({ phase: "burst's records stored", map: memoryMap(pid) });
  await Bun.sleep(IDLE_S * 1000);
  rows.push({ phase: `+ ${IDLE_S} s idle`, map: memoryMap(pid) });

  resetPeakRss(pid);
  let bigOk = 0;
  const big = await sampling(
    pid,
    (async () => {
      for (let round = 0; round < BIG_ROUNDS; round++) {
        const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(chatUrl, { method: "POST", headers: OPENAI_HEADERS, body: BIG_BODY }).then(async (r) => (await r.arrayBuffer(), r.status))));
        bigOk += answers.filter((s) => s === 200).length;
      }
    })(),
  );
  rows.push({ phase: `10 concurrent 1 MB prompts, ${BIG_ROUNDS} times (${bigOk} × 200)`, map: big.top, peak: statusKb(pid, "VmHWM") / 1024 });
  const bigStoring = await sampling(pid, waitLoupeIdle(loupe.url, 120_000));
  rows.push({ phase: "storing their records (peak since they began)", map: bigStoring.top, peak: statusKb(pid, "VmHWM") / 1024 });
  await Bun.sleep(IDLE_S * 1000);
  rows.push({ phase: `their records stored, + ${IDLE_S} s idle`, map: memoryMap(pid) });
  const sent = burst.result.sent + BIG_ROUNDS * 10;
  await run.stop(loupe.child, 30_000);
  const stored = Number(loupeSql(db, "select count(*)::int as n from requests")[0]?.n ?? 0);

  const out: string[] = [];
  out.push(`Loupe's memory (${LOUPE === "exe" ? EXE : "bun main.ts serve"}; bun ${Bun.version}), MB`);
  out.push(`load average ${loadAverage()} at the end; background CPU before the run: core0 ${fmt(background.core0, 0)} %, core1 ${fmt(background.core1, 0)} %\n`);
  out.push(
    table(
      ["phase", "RSS", "peak", "anon", "program file", "libduckdb", "journal", "other files"],
      rows.map(({ phase, map, peak }) => [phase, fmt(map.total, 1), fmt(peak, 1), fmt(map.anon, 1), fmt(map.program, 1), fmt(map.duckdb, 1), fmt(map.journal, 1), fmt(map.otherFiles, 1)]),
    ),
  );
  out.push("peak: VmHWM over the phase; the split of a peak row is its largest smaps sample.");
  const idle = rows[1]!.map.total;
  const peak = Math.max(...rows.map((r) => r.peak ?? 0));
  out.push(`idle RSS ${fmt(idle, 1)} MB (target ≤ ${IDLE_TARGET_MB}): ${verdict(idle <= IDLE_TARGET_MB)}; peak ${fmt(peak, 1)} MB (target ≤ ${PEAK_TARGET_MB}): ${verdict(peak <= PEAK_TARGET_MB)}`);
  out.push(`records: ${stored} stored for ${sent} calls sent (autocannon's last in-flight calls are recorded as client_disconnected): ${stored === sent ? "all" : "MISMATCH"}`);
  console.log(out.join("\n"));
  run.saveResults("memory", { loupe: LOUPE, loadAverage: loadavg(), background, rows, sent, stored });
}

const run = new BenchRun("memory", "loupe-memory-");
await run.run(() => main(run));
