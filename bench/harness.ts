/**
 * What the benches that run Loupe as a process share (bench/proxy.ts,
 * bench/streams.ts): options from the environment, child processes (started,
 * pinned to a core, stopped), Loupe started with its start environment and its
 * records counted, /proc readings, the results file and the report's tables.
 * Each bench keeps what it measures and how it reports it.
 *
 * Layout the benches share (all loopback): the proxy under test is pinned to
 * core 0; the mock upstream and the clients (and bench/keys.ts's redis-server) run on core 1.
 */
import type { Subprocess } from "bun";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { START_ENVIRONMENT } from "../src/runtime/fetch-concurrency.ts";

export const ROOT = join(import.meta.dir, "..");
export const BUN = process.execPath;
const BENCH_DIR = import.meta.dir;

// ── options from the environment ─────────────────────────────────────────────
/** A numeric knob, `fallback` when unset. */
export function num(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number`);
  return v;
}

/** A knob holding space-separated `K=V` pairs (extra environment for a process). */
export function envPairs(name: string): Record<string, string> {
  return Object.fromEntries(
    (process.env[name] ?? "")
      .split(/\s+/)
      .filter(Boolean)
      .map((kv) => {
        const eq = kv.indexOf("=");
        if (eq <= 0) throw new Error(`${name}: "${kv}" is not K=V`);
        return [kv.slice(0, eq), kv.slice(eq + 1)];
      }),
  );
}

/** BENCH_KEEP=1: keep the temp dir (Loupe's DuckDB file) after the run. */
export const KEEP = process.env.BENCH_KEEP === "1";
/** Another entry point for Loupe (a patched copy of the repo), for experiments. */
export const LOUPE_MAIN = process.env.BENCH_LOUPE_MAIN ?? join(ROOT, "main.ts");

// ── pinning ──────────────────────────────────────────────────────────────────
export const hasTaskset = Bun.which("taskset") !== null && process.env.BENCH_NO_PIN !== "1";
/** The proxy gets a core of its own only when there are two. */
export const canPin = hasTaskset && availableParallelism() >= 2;
/** The command prefix that runs a process on `core` (nothing when not pinning). */
export const pin = (core: number): string[] => (canPin ? ["taskset", "-c", String(core)] : []);

// ── /proc readings ───────────────────────────────────────────────────────────
export const CLK_TCK = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** CPU ticks of a process, all threads (utime + stime). */
export function procCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3 (state)
  return Number(fields[11]) + Number(fields[12]);
}

/** CPU ticks per thread name (main JS thread, "HTTP Client", the DuckDB "Worker", "JITWorker", GC, …). */
export function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const name = tid === String(pid) ? "main" : comm.replace(/\d+$/, "").trim();
      out.set(name, (out.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

export type CoreTimes = Map<string, { busy: number; total: number; steal: number }>;

/** Per core, from /proc/stat: busy and total ticks, and steal (time the hypervisor gave this VM's core to others). */
export function coreTimes(): CoreTimes {
  const out: CoreTimes = new Map();
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^(cpu\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2]!.trim().split(/\s+/).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    out.set(m[1]!, { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total, steal: v[7] ?? 0 });
  }
  return out;
}

/** How much of a core's time between two readings went to `part`, in %. */
function corePct(before: CoreTimes, after: CoreTimes, core: string, part: "busy" | "steal"): number {
  const a = before.get(core);
  const b = after.get(core);
  if (!a || !b || b.total === a.total) return NaN;
  return (100 * (b[part] - a[part])) / (b.total - a.total);
}
export const coreBusyPct = (before: CoreTimes, after: CoreTimes, core: string) => corePct(before, after, core, "busy");
export const coreStealPct = (before: CoreTimes, after: CoreTimes, core: string) => corePct(before, after, core, "steal");

/** A field of /proc/<pid>/status in kB: VmHWM is the peak RSS, VmRSS the RSS now. */
export function statusKb(pid: number, field: "VmHWM" | "VmRSS"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** Resets a process's peak RSS (VmHWM) to its RSS now (proc(5): clear_refs, value 5), so a phase's peak is its own. */
export function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

/** Resident memory of a process by what it maps, MB (from /proc/<pid>/smaps). */
export interface MemoryMap {
  total: number;
  /** Anonymous memory: the JS heaps of both threads, the allocators' (mimalloc's, DuckDB's), thread stacks. */
  anon: number;
  /** Pages of the program file itself (the executable, or the bun binary): the runtime's code and data, the embedded bundles. */
  program: number;
  /** libduckdb.so (the unpacked copy in the cache folder, or node_modules') and the duckdb.node addon. */
  duckdb: number;
  /** The journal's segment files, mapped shared (src/runtime/file-mapping.ts). */
  journal: number;
  /** Every other file: libc, libstdc++, … */
  otherFiles: number;
}

export function memoryMap(pid: number): MemoryMap {
  const map: MemoryMap = { total: 0, anon: 0, program: 0, duckdb: 0, journal: 0, otherFiles: 0 };
  const program = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]!;
  let exe = "";
  try {
    exe = realpathSync(`/proc/${pid}/exe`);
  } catch {
    // the process ended
  }
  let part: keyof MemoryMap = "anon";
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      const [, inode, path = ""] = head;
      part =
        inode === "0" || path.startsWith("[")
          ? "anon"
          : path === exe || path === program
            ? "program"
            : /libduckdb|\.node( \(deleted\))?$/.test(path)
              ? "duckdb"
              : /\.journal\/\d+\.ndjson/.test(path)
                ? "journal"
                : "otherFiles";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) {
      map[part] += Number(rss[1]) / 1024;
      map.total += Number(rss[1]) / 1024;
    }
  }
  return map;
}

/** This process's open-files limit (RLIMIT_NOFILE), which its children inherit; Bun raises its own soft limit to the hard one. */
export function openFilesLimit(): { soft: number; hard: number } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  const value = (v: string | undefined) => (v === undefined ? NaN : v === "unlimited" ? Infinity : Number(v));
  return { soft: value(m?.[1]), hard: value(m?.[2]) };
}

/** Other work on the machine skews everything: measure it for a second before the bench, to report it with the results. */
export async function backgroundCpu(log: (msg: string) => void): Promise<{ core0: number; core1: number }> {
  const idle0 = coreTimes();
  await Bun.sleep(1000);
  const idle1 = coreTimes();
  const background = { core0: coreBusyPct(idle0, idle1, "cpu0"), core1: coreBusyPct(idle0, idle1, "cpu1") };
  if (background.core0 > 10 || background.core1 > 10)
    log(`WARNING: the machine is busy before the bench starts (core0 ${background.core0.toFixed(0)}%, core1 ${background.core1.toFixed(0)}%): expect noisy numbers`);
  return background;
}

// ── child processes ──────────────────────────────────────────────────────────
export interface Child {
  name: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** The first line on stdout: the mock, the bare proxy and the OTLP sink print `{"url": …}` there once listening. */
  firstLine: Promise<string>;
  stdout(): string;
  stderr(): string;
}

/** Starts a process that reads nothing; its stdout is kept whole, the last 20 kB of its stderr. */
export function spawn(name: string, cmd: string[], env: Record<string, string>): Child {
  const proc = Bun.spawn(cmd, { cwd: ROOT, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let out = "";
  let err = "";
  const drain = async (stream: ReadableStream<Uint8Array>, onText: (t: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  };
  let resolveLine!: (line: string) => void;
  let rejectLine!: (e: Error) => void;
  const firstLine = new Promise<string>((res, rej) => ((resolveLine = res), (rejectLine = rej)));
  firstLine.catch(() => {}); // only the starters of servers that print their URL wait for it
  void drain(proc.stdout, (t) => {
    out += t;
    const nl = out.indexOf("\n");
    if (nl >= 0) resolveLine(out.slice(0, nl));
  }).then(() => rejectLine(new Error(`${name} closed stdout before printing a line:\n${err.slice(-2000)}`)));
  void drain(proc.stderr, (t) => {
    err = (err + t).slice(-20_000);
  });
  return { name, proc, firstLine, stdout: () => out, stderr: () => err };
}

/** The environment every child starts from: no more of the bench's own than it needs to run. */
export const baseEnv = (): Record<string, string> => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? tmpdir() });

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

// ── the load generator ───────────────────────────────────────────────────────
export const NODE = Bun.which("node") ?? BUN;
const AUTOCANNON = join(ROOT, "node_modules", "autocannon", "autocannon.js");

/** One autocannon run against one URL, with what the proxy process and the cores did meanwhile. */
export interface LoadRun {
  rps: number;
  sent: number;
  ok: number;
  failed: number;
  latP50: number;
  latP99: number;
  /** CPU time of the proxy process (all threads) per completed request, µs. */
  cpuUsPerReq: number;
  /** The proxy process's CPU use, % of one core. */
  proxyCpuPct: number;
  core0Pct: number;
  core1Pct: number;
  /** The proxy's CPU µs per completed request, by thread name. */
  threads: Record<string, number>;
}

/**
 * autocannon (node, its own process, on core 1): `connections` connections
 * POSTing `body` to `url` with `headers` for `seconds`. `pid`: the proxy
 * process whose CPU is read before and after (none for direct).
 */
export async function autocannon(job: { url: string; headers: Record<string, string>; body: string; connections: number; seconds: number; pid?: number | undefined }): Promise<LoadRun> {
  const cmd = [
    ...pin(1),
    NODE,
    AUTOCANNON,
    "-c", String(job.connections),
    "-d", String(job.seconds),
    "-m", "POST",
    "-b", job.body,
    "-j",
    ...Object.entries(job.headers).flatMap(([k, v]) => ["-H", `${k}=${v}`]),
    job.url,
  ];
  const pid = job.pid;
  const cpu0 = pid ? procCpuTicks(pid) : 0;
  const th0 = pid ? threadTicks(pid) : new Map<string, number>();
  const cores0 = coreTimes();
  const t0 = performance.now();
  const ac = spawn("autocannon", cmd, baseEnv());
  const code = await ac.proc.exited;
  const wall = (performance.now() - t0) / 1000;
  const cores1 = coreTimes();
  const cpu1 = pid ? procCpuTicks(pid) : 0;
  const th1 = pid ? threadTicks(pid) : new Map<string, number>();
  const text = ac.stdout().trim().split("\n").pop() ?? "";
  if (code !== 0 || !text.startsWith("{")) throw new Error(`autocannon failed (${code}):\n${ac.stderr().slice(-2000)}\n${text}`);
  const r = JSON.parse(text) as any;
  const ok = Number(r["2xx"] ?? 0);
  const cpuS = (cpu1 - cpu0) / CLK_TCK;
  return {
    rps: ok / Number(r.duration || job.seconds),
    sent: Number(r.requests?.sent ?? 0),
    ok,
    failed: Number(r.non2xx ?? 0) + Number(r.errors ?? 0) + Number(r.timeouts ?? 0),
    latP50: Number(r.latency?.p50 ?? NaN),
    latP99: Number(r.latency?.p99 ?? NaN),
    cpuUsPerReq: pid && ok ? (cpuS * 1e6) / ok : NaN,
    proxyCpuPct: pid ? (100 * cpuS) / wall : NaN,
    core0Pct: coreBusyPct(cores0, cores1, "cpu0"),
    core1Pct: coreBusyPct(cores0, cores1, "cpu1"),
    threads: Object.fromEntries(
      [...th1].map(([name, t]) => [name, ok ? (((t - (th0.get(name) ?? 0)) / CLK_TCK) * 1e6) / ok : NaN] as const).filter(([, us]) => us > 0),
    ),
  };
}

/** Runs a client (bench/<script>) on core 1 with its job as JSON (and `env` added), and returns the one JSON object it prints. */
export async function runClient<T>(script: string, job: unknown, env: Record<string, string> = {}): Promise<T> {
  const name = script.replace(/\.ts$/, "");
  const client = spawn(name, [...pin(1), BUN, join(BENCH_DIR, script), JSON.stringify(job)], { ...baseEnv(), ...env });
  const code = await client.proc.exited;
  const text = client.stdout().trim();
  if (code !== 0 || !text.startsWith("{")) throw new Error(`${name} failed (${code}):\n${client.stderr().slice(-2000)}`);
  return JSON.parse(text) as T;
}

export async function fetchJson<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T;
}

// ── Loupe ────────────────────────────────────────────────────────────────────
export interface LoupeProcess {
  child: Child;
  db: string;
  pid: number;
  url: string;
}

/** Loupe's /livez, undefined when it does not answer. */
export async function livezOf(url: string): Promise<any> {
  try {
    return await (await fetch(`${url}/livez`)).json();
  } catch {
    return undefined;
  }
}

/**
 * Polls /livez until Loupe's record queue is empty and, when its telemetry is
 * on, no spans went out for 1.2 s (the span processor exports at the latest
 * 1 s after a span ends), or until the time is up. Returns the last /livez read.
 */
export async function waitLoupeIdle(url: string, timeoutMs: number): Promise<any> {
  const until = Date.now() + timeoutMs;
  let live: any;
  let lastSpans = -1;
  let spansSince = Date.now();
  while (Date.now() < until) {
    live = await livezOf(url);
    if (!live) break;
    const spans = live.telemetry?.spansExported ?? 0;
    if (spans !== lastSpans) [lastSpans, spansSince] = [spans, Date.now()];
    if ((live.records?.queued ?? 0) === 0 && (!live.telemetry || Date.now() - spansSince >= 1200)) break;
    await Bun.sleep(50);
  }
  return live;
}

/**
 * A `loupe` command (`bun <main> …args`) with LOUPE_DB = `db` and `env`; with a
 * gateway serving that file it goes through the gateway (the discovery file).
 * `stdin`: what the command reads (a provider key). Returns its stdout; throws on a non-zero exit.
 */
export function loupeCli(db: string, args: string[], opts: { env?: Record<string, string> | undefined; stdin?: string | undefined; main?: string | undefined } = {}): string {
  const r = Bun.spawnSync([BUN, opts.main ?? LOUPE_MAIN, ...args], {
    cwd: ROOT,
    env: { ...baseEnv(), LOUPE_DB: db, ...opts.env },
    stdin: opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`loupe ${args.join(" ")} failed (${r.exitCode}): ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** `loupe sql --json` on a stopped Loupe's DuckDB file: the rows. */
export function loupeSql(db: string, query: string, label = "loupe"): Record<string, unknown>[] {
  const r = Bun.spawnSync([BUN, LOUPE_MAIN, "sql", "--json", query], { cwd: ROOT, env: { ...baseEnv(), LOUPE_DB: db } });
  if (r.exitCode !== 0) throw new Error(`loupe sql (${label}) failed: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString()) as Record<string, unknown>[];
}

// ── a bench run ──────────────────────────────────────────────────────────────
/**
 * One run of a bench: its temp dir, the processes that live until the end (all
 * stopped then, also on failure or Ctrl-C), its log on stderr and its results file.
 */
export class BenchRun {
  readonly dir: string;
  private readonly children: Child[] = [];
  /** Children stopped on purpose: one that died of the signal has no exit code. */
  private readonly stopped = new Set<Child>();

  constructor(
    /** The log's prefix: `[tag] …`. */
    private readonly tag: string,
    tmpPrefix: string,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), tmpPrefix));
  }

  readonly log = (msg: string) => process.stderr.write(`[${this.tag}] ${msg}\n`);

  /** Starts a process that lives until the end of the run. */
  start(name: string, cmd: string[], env: Record<string, string>): Child {
    const child = spawn(name, cmd, env);
    this.children.push(child);
    return child;
  }

  /** Starts a server that prints `{"url": …}` as its first line; resolves with that URL. */
  async startServer(name: string, what: string, cmd: string[], env: Record<string, string>): Promise<{ child: Child; url: string }> {
    const child = this.start(name, cmd, env);
    const url = (JSON.parse(await withTimeout(child.firstLine, 15_000, what)) as { url: string }).url;
    return { child, url };
  }

  /** bench/mock-upstream.ts on core 1, streams paced `gapMs` apart; `env`: its other knobs (BENCH_MOCK_MODELS). */
  startMock(gapMs: number, env: Record<string, string> = {}) {
    return this.startServer("mock", "mock start", [...pin(1), BUN, join(BENCH_DIR, "mock-upstream.ts")], { ...baseEnv(), BENCH_STREAM_GAP_MS: String(gapMs), ...env });
  }

  /** bench/bare-proxy.ts, the baseline, on core 0 in front of the mock; `env`: more (START_ENVIRONMENT for many concurrent fetches). */
  startBare(upstream: string, env: Record<string, string> = {}) {
    return this.startServer("bare", "bare proxy start", [...pin(0), BUN, join(BENCH_DIR, "bare-proxy.ts")], { ...baseEnv(), UPSTREAM: upstream, PORT: "0", ...env });
  }

  /**
   * `bun <bunFlags> <LOUPE_MAIN> serve` on core 0, quiet, on its own DuckDB
   * file `db`, with `env` last (upstream base URLs, experiments). Quiet Loupe
   * prints nothing: it is up once its discovery file (written after listen) exists.
   */
  async startLoupe(name: string, db: string, env: Record<string, string>, bunFlags: string[] = [], main = LOUPE_MAIN, command = [BUN, ...bunFlags, main]): Promise<LoupeProcess> {
    const child = this.start(name, [...pin(0), ...command, "serve"], {
      ...baseEnv(),
      LOUPE_PORT: "0",
      LOUPE_DB: db,
      LOUPE_QUIET: "true",
      // What Loupe would set itself by re-executing at start-up (src/runtime/fetch-concurrency.ts); set here so it
      // starts once: the re-exec under `--cpu-prof` sometimes hung Loupe's start (2 of 4 tries).
      ...START_ENVIRONMENT,
      // `normal` makes DuckDB compete for the core during the runs (README: "Reading it").
      ...(process.env.LOUPE_STORAGE_PRIORITY ? { LOUPE_STORAGE_PRIORITY: process.env.LOUPE_STORAGE_PRIORITY } : {}),
      ...env,
    });
    const discovery = `${db}.loupe.json`;
    const deadline = Date.now() + 30_000;
    while (!existsSync(discovery)) {
      if (child.proc.exitCode !== null || Date.now() > deadline)
        throw new Error(`${name} did not start (exit code ${child.proc.exitCode}, ${command.join(" ")}):\n${child.stderr()}${child.stdout()}`);
      await Bun.sleep(20);
    }
    const info = JSON.parse(readFileSync(discovery, "utf8")) as { pid: number; url: string };
    return { child, db, pid: info.pid, url: info.url };
  }

  /**
   * A redis-server of its own (no persistence, a temp dir) on a free port,
   * pinned to `core`; resolves once it answers PING. Stopped at the end of the run.
   */
  async startRedis(core: number, bin = "/usr/bin/redis-server"): Promise<{ child: Child; url: string; port: number }> {
    const port = await freePort();
    const dir = join(this.dir, `redis-${port}`);
    mkdirSync(dir);
    const child = this.start("redis", [...pin(core), bin, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], baseEnv());
    const deadline = Date.now() + 5000;
    while (!(await redisPings(port))) {
      if (child.proc.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port}:\n${child.stdout().slice(-2000)}`);
      await Bun.sleep(20);
    }
    return { child, url: `redis://127.0.0.1:${port}`, port };
  }

  /** SIGTERM (Loupe stores, and exports, what is pending on the way out), then its exit code. */
  async stop(child: Child, timeoutMs: number): Promise<number> {
    child.proc.kill("SIGTERM");
    const exitCode = await withTimeout(child.proc.exited, timeoutMs, `${child.name} shutdown`);
    this.stopped.add(child);
    return exitCode;
  }

  /** Writes bench/results/<name>-<time>.json (git-ignored). */
  saveResults(name: string, data: unknown): void {
    const resultsDir = join(BENCH_DIR, "results");
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(file, JSON.stringify(data, null, 2));
    this.log(`raw results: ${file}`);
  }

  /** Runs the bench, then stops what is left and removes the temp dir; on failure shows the children's stderr and exits 1. */
  async run(main: () => Promise<void>): Promise<void> {
    process.on("SIGINT", () => void this.cleanup().then(() => process.exit(130)));
    try {
      await main();
      await this.cleanup();
    } catch (error) {
      this.log(`FAILED: ${(error as Error).stack ?? error}`);
      for (const c of this.children) if (c.stderr().trim()) this.log(`${c.name} stderr:\n${c.stderr().slice(-3000)}`);
      await this.cleanup();
      process.exit(1);
    }
  }

  private async cleanup(): Promise<void> {
    for (const c of this.children) {
      if (c.proc.exitCode !== null || this.stopped.has(c)) continue;
      c.proc.kill("SIGTERM");
      await withTimeout(c.proc.exited, 10_000, `${c.name} exit`).catch(() => c.proc.kill("SIGKILL"));
    }
    if (!KEEP) rmSync(this.dir, { recursive: true, force: true });
    else this.log(`kept ${this.dir}`);
  }
}

/** A port nobody listens on now: bind port 0, read what the system chose, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Whether a Redis on this port answers PING with +PONG. */
function redisPings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    let answer = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      answer += chunk.toString();
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"));
    });
  });
}

// ── report formatting ────────────────────────────────────────────────────────
/** A figure with `digits` decimals; "—" when missing. */
export const fmt = (v: number | undefined, digits = 3): string => (v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits));

export const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
export const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");

/** A text table: first column left-aligned, the others right-aligned, indented two spaces. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => "  " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), "  " + widths.map((w) => "─".repeat(w)).join("  "), ...rows.map(line)].join("\n") + "\n";
}
