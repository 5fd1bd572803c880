#!/usr/bin/env bun
/**
 * What LOUPE_JOURNAL_FSYNC costs (issue 17, part 10): plain non-streamed
 * OpenAI chat calls at 50 connections through three Loupes that differ only in
 *   never      the OS writes the journal back (the default),
 *   interval   an fdatasync every 100 ms, off the request path,
 *   always     each call's last bytes wait for a group commit (journal-sync.ts),
 * in one run, rounds interleaved (a, b, c, then c, b, a). Reports req/s,
 * p50/p99, the ratios to `never`, the proxy's CPU per call, how many calls
 * one sync covered, the load average, and checks every call was recorded.
 * `bun bench/journal-fsync.ts`; bench/README.md.
 *
 * Layout (all loopback): every Loupe is pinned to core 0 (one under load at a
 * time); the mock upstream and autocannon share core 1. The journal is in the
 * bench's temp dir: what an fdatasync costs is the disk under it.
 */
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { BenchRun, autocannon, backgroundCpu, canPin, fmt, hasTaskset, livezOf, loupeSql, mean, num, table, waitLoupeIdle, type LoadRun, type LoupeProcess } from "./harness.ts";

const OPT = {
  durationS: num("BENCH_DURATION_S", 5),
  warmupS: num("BENCH_WARMUP_S", 2),
  rounds: Math.max(1, num("BENCH_ROUNDS", 3)),
  connections: num("BENCH_CONNECTIONS", 50),
};
const ALL_MODES = ["never", "interval", "always"] as const;
type Mode = (typeof ALL_MODES)[number];
// A subset (never is always in: every ratio is to it), e.g. BENCH_MODES=interval for more rounds of never against interval.
const WANTED = new Set((process.env.BENCH_MODES ?? ALL_MODES.join(",")).split(",").map((m) => m.trim()));
for (const m of WANTED) if (!ALL_MODES.includes(m as Mode)) throw new Error(`BENCH_MODES: unknown mode "${m}" (known: ${ALL_MODES.join(", ")})`);
const MODES = ALL_MODES.filter((m) => m === "never" || WANTED.has(m));

const bench = new BenchRun("fsync", "loupe-fsync-bench-");
const log = bench.log;

const CHAT_BODY = JSON.stringify({
  model: "gpt-5.4",
  messages: [
    { role: "system", content: "You are a helpful assistant that describes images briefly." },
    { role: "user", content: "What is in this picture? Answer in two or three sentences." },
  ],
  max_completion_tokens: 300,
});
const HEADERS = { "content-type": "application/json", authorization: "Bearer sk-bench-0000000000000000", "user-agent": "loupe-bench/1" };

interface FsyncStats {
  mode: Mode;
  syncs: number;
  failures: number;
}

async function main() {
  const started = performance.now();
  const load0 = loadavg();
  if (!canPin) log(`WARNING: not pinning (${hasTaskset ? `${availableParallelism()} core(s)` : "taskset unavailable or BENCH_NO_PIN=1"}): numbers are noisier`);
  log(`options ${JSON.stringify(OPT)}; load average ${load0.map((x) => x.toFixed(2)).join(" ")}`);
  const background = await backgroundCpu(log);

  const { url: mockUrl } = await bench.startMock(1);
  const loupes = new Map<Mode, LoupeProcess>();
  for (const mode of MODES) loupes.set(mode, await bench.startLoupe(mode, join(bench.dir, `${mode}.duckdb`), { LOUPE_OPENAI_BASE_URL: mockUrl, LOUPE_JOURNAL_FSYNC: mode }));
  const L = (mode: Mode) => loupes.get(mode)!;
  log(`mock ${mockUrl}; ${MODES.map((m) => `${m} pid ${L(m).pid}`).join(", ")}; dir ${bench.dir}`);

  const fsyncOf = async (mode: Mode) => ((await livezOf(L(mode).url))?.records?.fsync ?? { mode, syncs: 0, failures: 0 }) as FsyncStats;
  const once = (mode: Mode, seconds: number) =>
    autocannon({ url: `${L(mode).url}/openai/v1/chat/completions`, headers: HEADERS, body: CHAT_BODY, connections: OPT.connections, seconds, pid: L(mode).pid });
  const drain = async (mode: Mode) => {
    await waitLoupeIdle(L(mode).url, 10_000);
    await Bun.sleep(200);
  };

  log(`warm-up ${OPT.warmupS}s each, then ${OPT.rounds} round(s) × ${OPT.durationS}s per mode at ${OPT.connections} connections`);
  for (const mode of MODES) {
    if (OPT.warmupS > 0) await once(mode, OPT.warmupS);
    await drain(mode);
  }
  const runs = new Map<Mode, (LoadRun & { syncs: number })[]>(MODES.map((m) => [m, []]));
  const loads: number[][] = [];
  for (let round = 0; round < OPT.rounds; round++) {
    const order = round % 2 === 0 ? MODES : [...MODES].reverse();
    for (const mode of order) {
      const before = await fsyncOf(mode);
      const run = await once(mode, OPT.durationS);
      const syncs = (await fsyncOf(mode)).syncs - before.syncs;
      runs.get(mode)!.push({ ...run, syncs });
      log(`  round ${round + 1} ${mode.padEnd(8)} ${run.rps.toFixed(0)} req/s, p50 ${run.latP50} ms, p99 ${run.latP99} ms, ${syncs} syncs (proxy cpu ${fmt(run.proxyCpuPct, 0)}%)${run.failed ? `, ${run.failed} FAILED` : ""}`);
      await drain(mode);
    }
    loads.push(loadavg());
  }

  // Checks: no call failed, no sync failed, every answered call recorded.
  const problems: string[] = [];
  const final: Partial<Record<Mode, FsyncStats>> = {};
  const recorded: Partial<Record<Mode, number>> = {};
  for (const mode of MODES) {
    final[mode] = await fsyncOf(mode);
    await bench.stop(L(mode).child, 60_000);
    recorded[mode] = Number(loupeSql(L(mode).db, "select count(*)::int as n from requests", mode)[0]!.n);
    const failed = runs.get(mode)!.reduce((a, r) => a + r.failed, 0);
    if (failed) problems.push(`${mode}: ${failed} calls failed`);
    if (final[mode]!.failures) problems.push(`${mode}: ${final[mode]!.failures} fsync failures`);
    if ((mode === "never") !== (final[mode]!.syncs === 0)) problems.push(`${mode}: ${final[mode]!.syncs} syncs`);
  }

  // ── report ──
  const rps = (m: Mode) => mean(runs.get(m)!.map((r) => r.rps));
  const p = (m: Mode, k: "latP50" | "latP99") => mean(runs.get(m)!.map((r) => r[k]));
  const load1 = loadavg();
  let out = "\n";
  out += `Loupe journal fsync bench — bun ${Bun.version}, ${availableParallelism()} cores, ${canPin ? "Loupes pinned to core 0; mock and autocannon on core 1" : "NOT pinned"}\n`;
  out += `load average (1/5/15 min): before ${load0.map((x) => x.toFixed(2)).join(" ")}, after each round ${loads.map((l) => l[0]!.toFixed(2)).join(" / ")}, at the end ${load1.map((x) => x.toFixed(2)).join(" ")}\n`;
  out += `background CPU before the run: core0 ${fmt(background.core0, 0)}%, core1 ${fmt(background.core1, 0)}%\n`;
  out += `(${OPT.rounds} round(s) × ${OPT.durationS}s per mode at ${OPT.connections} connections, plain OpenAI chat calls, 990 B answers; journal in ${bench.dir}; took ${((performance.now() - started) / 1000).toFixed(0)}s)\n\n`;
  out += table(
    ["LOUPE_JOURNAL_FSYNC", "req/s", "per round", "p50 ms", "p99 ms", "req/s ÷ never", "p99 ÷ never", "CPU µs/req", "calls per sync", "failed"],
    MODES.map((m) => {
      const rs = runs.get(m)!;
      const calls = rs.reduce((a, r) => a + r.ok, 0);
      const syncs = rs.reduce((a, r) => a + r.syncs, 0);
      return [
        m,
        fmt(rps(m), 0),
        rs.map((r) => r.rps.toFixed(0)).join(" / "),
        fmt(p(m, "latP50"), 1),
        fmt(p(m, "latP99"), 1),
        fmt(rps(m) / rps("never"), 3),
        fmt(p(m, "latP99") / p("never", "latP99"), 2),
        fmt(mean(rs.map((r) => r.cpuUsPerReq)), 0),
        syncs ? fmt(calls / syncs, 1) : "—",
        String(rs.reduce((a, r) => a + r.failed, 0)),
      ];
    }),
  );
  for (const m of MODES.filter((mode) => mode !== "never")) {
    out += `  ${m}/never req/s per round: ${runs.get(m)!.map((r, i) => fmt(r.rps / runs.get("never")![i]!.rps, 3)).join(" / ")}\n`;
  }
  out += `  records stored: ${MODES.map((m) => `${m} ${recorded[m]}`).join(", ")} (every answered call, warm-ups included)\n`;
  out += `  (autocannon latency has 1 ms resolution; "calls per sync" is completed calls ÷ fdatasync rounds during the timed runs)\n`;
  out += problems.length ? `  PROBLEMS:\n${problems.map((x) => `    - ${x}`).join("\n")}\n` : "";
  process.stdout.write(out + "\n");

  bench.saveResults("journal-fsync", { options: OPT, pinned: canPin, background, loadavg: { before: load0, rounds: loads, after: load1 }, runs: Object.fromEntries(runs), fsync: final, recorded, problems });
  if (problems.length) throw new Error(`${problems.length} check(s) failed`);
}

await bench.run(main);
