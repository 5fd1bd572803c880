/**
 * Start-up bench: how long from spawning Loupe to its first `GET /health`
 * answered 200 (issue 17's target: ≤ 200 ms for the executable). /health
 * answers only once the gateway listens, and it listens only once the journal
 * is open, the recording worker has opened DuckDB (and recorded what a
 * previous run left) and the access definitions are loaded: a 200 means
 * calls can be served and recorded.
 *
 *   bun bench/startup.ts        # about 1 minute; BENCH_RUNS=10 per target
 *
 * Targets (BENCH_TARGETS, comma-separated):
 * - `exe`: dist/loupe (built first when missing), as users start it: it
 *   re-executes itself once to set its start environment (src/runtime/fetch-concurrency.ts).
 * - `exe+env`: the same with that environment already set, so it starts once:
 *   `exe` − `exe+env` is what the re-exec costs.
 * - `bun`, `bun+env`: `bun main.ts serve`, likewise.
 *
 * Every start gets a fresh data folder (a new DuckDB file, an empty journal)
 * and a free port; all share one cache folder, so only the very first start
 * of the executable extracts libduckdb.so (shown on its own line). Rounds
 * interleave the targets. Besides the wall time, read at the moment /health
 * first answers: the process's CPU time (all threads; less sensitive to other
 * work on the machine than the wall time), that of its main thread and of the
 * recording worker's thread, and its RSS.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { START_ENVIRONMENT } from "../src/runtime/fetch-concurrency.ts";
import { BenchRun, BUN, backgroundCpu, baseEnv, CLK_TCK, fmt, freePort, num, procCpuTicks, ROOT, statusKb, table, verdict } from "./harness.ts";

const RUNS = num("BENCH_RUNS", 10);
const EXE = process.env.BENCH_EXE ?? join(ROOT, "dist", "loupe");
const TARGETS = (process.env.BENCH_TARGETS ?? "exe,exe+env,bun,bun+env").split(",").map((t) => t.trim()).filter(Boolean);
const TARGET_MS = 200;

interface Start {
  /** Spawn to the first 200 from /health. */
  ms: number;
  /** CPU time of the process then, all threads (ticks of 1/CLK_TCK s, so ±10 ms), ms. */
  cpuMs: number;
  /** CPU time of the main thread and of the recording worker's thread then (schedstat, ns precision), ms. */
  mainMs: number;
  workerMs: number;
  rssMb: number;
}

const loadAverage = () => loadavg().map((l) => l.toFixed(2)).join(" ");
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** CPU time of one thread from /proc/<pid>/task/<tid>/schedstat (its first field: ns on a CPU). */
function threadCpuMs(pid: number, name: (comm: string, tid: string) => boolean): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      if (name(comm, tid)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e6;
}

function command(target: string): { cmd: string[]; env: Record<string, string> } {
  const cmd = target.startsWith("exe") ? [EXE, "serve"] : [BUN, join(ROOT, "main.ts"), "serve"];
  return { cmd, env: target.endsWith("+env") ? { ...START_ENVIRONMENT } : {} };
}

async function main(run: BenchRun) {
  if (TARGETS.some((t) => t.startsWith("exe")) && !existsSync(EXE)) {
    run.log(`${EXE} missing: building it`);
    const build = Bun.spawnSync([BUN, join(ROOT, "scripts", "build.ts")], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
    if (build.exitCode !== 0) throw new Error("build failed");
  }
  const cache = join(run.dir, "cache");
  mkdirSync(cache);
  let n = 0;

  async function start(target: string): Promise<Start> {
    const dir = join(run.dir, `start-${++n}`);
    mkdirSync(dir);
    const port = await freePort();
    const { cmd, env } = command(target);
    const t0 = performance.now();
    const child = run.start(`${target}#${n}`, cmd, {
      ...baseEnv(),
      HOME: dir,
      XDG_CACHE_HOME: cache,
      LOUPE_PORT: String(port),
      LOUPE_DB: join(dir, "loupe.duckdb"),
      LOUPE_QUIET: "true",
      ...env,
    });
    const url = `http://127.0.0.1:${port}/health`;
    for (;;) {
      if (child.proc.exitCode !== null) throw new Error(`${target} exited (${child.proc.exitCode}) before /health answered:\n${child.stderr()}`);
      if (performance.now() - t0 > 30_000) throw new Error(`${target}: /health did not answer 200 in 30 s`);
      const status = await fetch(url).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      await Bun.sleep(2);
    }
    const ms = performance.now() - t0;
    const pid = child.proc.pid;
    const start: Start = {
      ms,
      cpuMs: (procCpuTicks(pid) * 1000) / CLK_TCK,
      mainMs: threadCpuMs(pid, (_, tid) => tid === String(pid)),
      workerMs: threadCpuMs(pid, (comm) => /^(Worker|Bun Worker)/.test(comm)),
      rssMb: statusKb(pid, "VmRSS") / 1024,
    };
    await run.stop(child, 15_000);
    return start;
  }

  run.log(`load average ${loadAverage()}; ${EXE}: ${(statSync(EXE).size / 2 ** 20).toFixed(1)} MiB`);
  const background = await backgroundCpu(run.log);
  // The first start of the executable extracts libduckdb.so into the cache folder; every later one finds it there.
  const first = TARGETS.some((t) => t.startsWith("exe")) ? await start("exe+env") : undefined;
  // One start per target first, not counted: the page cache holds what each reads.
  for (const target of TARGETS) await start(target);
  const starts = new Map<string, Start[]>(TARGETS.map((t) => [t, []]));
  for (let round = 0; round < RUNS; round++) {
    for (const target of round % 2 ? [...TARGETS].reverse() : TARGETS) starts.get(target)!.push(await start(target));
    run.log(`round ${round + 1}/${RUNS}: ${TARGETS.map((t) => `${t} ${fmt(starts.get(t)!.at(-1)!.ms, 0)} ms`).join(", ")}; load average ${loadAverage()}`);
  }

  const out: string[] = [];
  out.push(`Start-up to the first 200 from /health, ${RUNS} starts per target (bun ${Bun.version}, ${navigator.hardwareConcurrency} cores)`);
  out.push(`load average ${loadAverage()} at the end; background CPU before the run: core0 ${fmt(background.core0, 0)} %, core1 ${fmt(background.core1, 0)} %\n`);
  const rows = TARGETS.map((target) => {
    const s = starts.get(target)!;
    const col = (f: (x: Start) => number, digits = 0) => fmt(median(s.map(f)), digits);
    return [target, fmt(Math.min(...s.map((x) => x.ms)), 0), col((x) => x.ms), fmt(Math.max(...s.map((x) => x.ms)), 0), col((x) => x.cpuMs), col((x) => x.mainMs), col((x) => x.workerMs), col((x) => x.rssMb, 1)];
  });
  out.push(table(["target", "min ms", "median ms", "max ms", "CPU ms", "main thread ms", "worker thread ms", "RSS MB"], rows));
  out.push("CPU, thread and RSS columns are medians, read when /health first answered.");
  if (first) out.push(`first start of the executable (extracts libduckdb.so to the cache): ${fmt(first.ms, 0)} ms, CPU ${fmt(first.cpuMs, 0)} ms, RSS ${fmt(first.rssMb, 1)} MB`);
  for (const base of ["exe", "bun"]) {
    const a = starts.get(base);
    const b = starts.get(`${base}+env`);
    if (a && b) out.push(`the re-exec (${base} − ${base}+env): ${fmt(median(a.map((x) => x.ms)) - median(b.map((x) => x.ms)), 0)} ms median, ${fmt(median(a.map((x) => x.cpuMs)) - median(b.map((x) => x.cpuMs)), 0)} ms CPU`);
  }
  const exe = starts.get("exe");
  if (exe) {
    const ms = exe.map((x) => x.ms);
    out.push(`target ≤ ${TARGET_MS} ms for the executable: min ${fmt(Math.min(...ms), 0)} ms ${verdict(Math.min(...ms) <= TARGET_MS)}, median ${fmt(median(ms), 0)} ms ${verdict(median(ms) <= TARGET_MS)}`);
  }
  console.log(out.join("\n"));
  run.saveResults("startup", { loadAverage: loadavg(), background, first, starts: Object.fromEntries(starts), exe: EXE, runs: RUNS });
}

const run = new BenchRun("startup", "loupe-startup-");
await run.run(() => main(run));
