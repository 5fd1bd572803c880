#!/usr/bin/env bun
/**
 * Loupe's overhead as a proxy, against a bare Bun pass-through proxy and
 * against calling the upstream directly, and the cost of OpenTelemetry export
 * (a second Loupe exporting to bench/otlp-sink.ts). `npm run bench` (= bun bench/proxy.ts).
 * See bench/README.md for what is measured and how to read it.
 *
 * Layout (all loopback): the proxy under test is pinned to core 0; the mock
 * upstream, the OTLP sink and the load generators share core 1.
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { CHAT_JSON, STREAM_SSE } from "./mock-upstream.ts";
import type { SeqJob, SeqTargetResult } from "./seq-client.ts";
import type { SinkPathStats } from "./otlp-sink.ts";
import {
  BenchRun,
  BUN,
  CLK_TCK,
  NODE,
  autocannon as runLoad,
  backgroundCpu,
  baseEnv,
  canPin,
  coreBusyPct,
  coreTimes,
  envPairs,
  fetchJson,
  fmt,
  hasTaskset,
  livezOf,
  loupeSql,
  mean,
  num,
  pin,
  procCpuTicks,
  runClient,
  spawn,
  statusKb,
  table,
  verdict,
  waitLoupeIdle,
  type Child,
  type LoadRun,
  type LoupeProcess,
} from "./harness.ts";

const OPT = {
  durationS: num("BENCH_DURATION_S", 5),
  warmupS: num("BENCH_WARMUP_S", 2),
  rounds: Math.max(1, num("BENCH_ROUNDS", 3)),
  connections: num("BENCH_CONNECTIONS", 50),
  samples: Math.max(1, num("BENCH_SAMPLES", 5000)),
  streamSamples: Math.max(1, num("BENCH_STREAM_SAMPLES", 400)),
  streamGapMs: num("BENCH_STREAM_GAP_MS", 1),
};
// Subsets, for profiling: BENCH_PHASES=throughput,latency,stream  BENCH_TARGETS=direct,bare,loupe
const PHASES = new Set((process.env.BENCH_PHASES ?? "throughput,latency,stream").split(","));
// For profiling: extra bun flags for Loupe (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
const LOUPE_FLAGS = (process.env.BENCH_LOUPE_BUN_FLAGS ?? "").split(/\s+/).filter(Boolean);
// Extra environment for the loupe+otel process only (space-separated K=V), to take the export apart:
// e.g. "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_EXPORTER_OTLP_PROTOCOL=http/json".
const OTEL_EXTRA_ENV = envPairs("BENCH_OTEL_ENV");

const bench = new BenchRun("bench", "loupe-bench-");
const log = bench.log;
const sleep = (ms: number) => Bun.sleep(ms);

// ── what the clients send ────────────────────────────────────────────────────
const CHAT_BODY = JSON.stringify({
  model: "gpt-5.4",
  messages: [
    { role: "system", content: "You are a helpful assistant that describes images briefly." },
    { role: "user", content: "What is in this picture? Answer in two or three sentences." },
  ],
  max_completion_tokens: 300,
});
const STREAM_BODY = JSON.stringify({
  model: "claude-sonnet-4-5-20250929",
  max_tokens: 1024,
  stream: true,
  system: [{ type: "text", text: "Summarise documents faithfully.", cache_control: { type: "ephemeral" } }],
  messages: [{ role: "user", content: "Summarise the cached document in one sentence." }],
});
const OPENAI_HEADERS = { authorization: "Bearer sk-bench-0000000000000000", "user-agent": "loupe-bench/1" };
const ANTHROPIC_HEADERS = { "x-api-key": "sk-ant-bench-0000000000", "anthropic-version": "2023-06-01", "user-agent": "loupe-bench/1" };
const CHAT_BYTES = Buffer.byteLength(CHAT_JSON);
const STREAM_BYTES = Buffer.byteLength(STREAM_SSE);

type TargetName = "direct" | "bare" | "loupe" | "loupe+otel";
type LoupeName = "loupe" | "loupe+otel";
const ALL: TargetName[] = ["direct", "bare", "loupe", "loupe+otel"];
const LOUPES: LoupeName[] = ["loupe", "loupe+otel"];
const isLoupe = (n: TargetName): n is LoupeName => n === "loupe" || n === "loupe+otel";
// BENCH_TARGETS=direct,bare,loupe,loupe+otel; "otel" and "loupe-otel" are aliases of loupe+otel.
const ALIASES: Record<string, TargetName> = { otel: "loupe+otel", "loupe-otel": "loupe+otel", loupe_otel: "loupe+otel" };
const WANTED = new Set(
  (process.env.BENCH_TARGETS ?? ALL.join(","))
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean)
    .map((t) => ALIASES[t] ?? t),
);
for (const t of WANTED) if (!ALL.includes(t as TargetName)) throw new Error(`BENCH_TARGETS: unknown target "${t}" (known: ${ALL.join(", ")}, otel)`);
const NAMES: TargetName[] = ALL.filter((n) => WANTED.has(n));
/** The Loupe that exports to the OTLP sink runs only when it is a target. */
const WITH_OTEL = NAMES.includes("loupe+otel");
const OTEL_INTERVAL_MS = 5000;

// ── load generators ──────────────────────────────────────────────────────────
interface Target {
  name: TargetName;
  chatUrl: string;
  streamUrl: string;
  /** The proxy process whose CPU is measured (none for direct). */
  pid?: number;
}

interface ThroughputRun extends LoadRun {
  /**
   * Loupe only: CPU µs per request spent after the run, storing the records the
   * run left in the journal (DuckDB works at background priority during a burst).
   */
  deferredUsPerReq?: number;
}

const zeros = (): Record<TargetName, number> => ({ direct: 0, bare: 0, loupe: 0, "loupe+otel": 0 });
const sent = zeros();
const completed = zeros();

async function autocannon(target: Target, seconds: number): Promise<ThroughputRun> {
  const headers = { "content-type": "application/json", "x-bench-target": target.name, ...OPENAI_HEADERS };
  const run = await runLoad({ url: target.chatUrl, headers, body: CHAT_BODY, connections: OPT.connections, seconds, pid: target.pid });
  sent[target.name] += run.sent;
  completed[target.name] += run.ok;
  return run;
}

async function sequential(targets: Target[], mode: "json" | "stream", samples?: number): Promise<Record<string, SeqTargetResult>> {
  const job: SeqJob = {
    mode,
    targets: targets.map((t) => ({
      name: t.name,
      url: mode === "json" ? t.chatUrl : t.streamUrl,
      headers: { "x-bench-target": t.name, ...(mode === "json" ? OPENAI_HEADERS : ANTHROPIC_HEADERS) },
    })),
    body: mode === "json" ? CHAT_BODY : STREAM_BODY,
    samples: samples ?? (mode === "json" ? OPT.samples : OPT.streamSamples),
    warmup: samples !== undefined ? 0 : mode === "json" ? Math.min(500, OPT.samples) : Math.min(50, OPT.streamSamples),
    block: mode === "json" ? 250 : 25,
    expectBytes: mode === "json" ? CHAT_BYTES : STREAM_BYTES,
  };
  const result = await runClient<Record<string, SeqTargetResult>>("seq-client.ts", job);
  for (const t of targets) {
    const r = result[t.name];
    if (!r) continue;
    sent[t.name] += r.sent;
    completed[t.name] += r.ok;
    if (r.bad) log(`WARNING ${mode} via ${t.name}: ${r.bad} bad call(s), first: ${r.firstError}`);
  }
  return result;
}

// ── main ─────────────────────────────────────────────────────────────────────
let background = { core0: NaN, core1: NaN };

interface LoupeInstance extends LoupeProcess {
  name: LoupeName;
}

/** One Loupe process pinned to core 0, its own DuckDB file, both providers' calls sent to the mock. */
async function startLoupe(name: LoupeName, mockUrl: string, extraEnv: Record<string, string>): Promise<LoupeInstance> {
  const db = join(bench.dir, name === "loupe" ? "bench.duckdb" : "bench-otel.duckdb");
  const env = { LOUPE_OPENAI_BASE_URL: mockUrl, LOUPE_ANTHROPIC_BASE_URL: mockUrl, ...extraEnv };
  return { name, ...(await bench.startLoupe(name, db, env, LOUPE_FLAGS)) };
}

/** Per Loupe instance, what the records section reports. */
interface LoupeRecords {
  exitCode: number;
  recorded: number;
  breakdown: Record<string, unknown>[];
  livez: any;
}

async function main() {
  const started = performance.now();
  if (!canPin) log(`WARNING: not pinning (${hasTaskset ? `${availableParallelism()} core(s)` : "taskset unavailable or BENCH_NO_PIN=1"}): numbers are noisier`);
  log(`options ${JSON.stringify(OPT)}; targets ${NAMES.join(",")}; pinning ${canPin ? "proxy→core 0, mock+sink+load→core 1" : "off"}; load generator: ${NODE === BUN ? "bun" : "node"} autocannon`);

  background = await backgroundCpu(log);
  const { child: mock, url: mockUrl } = await bench.startMock(OPT.streamGapMs);
  const { child: bare, url: bareUrl } = await bench.startBare(mockUrl);

  let sink: Child | undefined;
  let sinkUrl = "";
  if (WITH_OTEL) {
    ({ child: sink, url: sinkUrl } = await bench.startServer("otlp-sink", "OTLP sink start", [...pin(1), BUN, join(import.meta.dir, "otlp-sink.ts")], baseEnv()));
  }

  const loupes: Partial<Record<LoupeName, LoupeInstance>> = {};
  loupes.loupe = await startLoupe("loupe", mockUrl, {});
  if (WITH_OTEL)
    loupes["loupe+otel"] = await startLoupe("loupe+otel", mockUrl, {
      OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
      OTEL_METRIC_EXPORT_INTERVAL: String(OTEL_INTERVAL_MS),
      ...OTEL_EXTRA_ENV,
    });
  log(
    `mock ${mockUrl} (pid ${mock.proc.pid}), bare ${bareUrl} (pid ${bare.proc.pid}), ` +
      Object.values(loupes).map((l) => `${l.name} ${l.url} (pid ${l.pid})`).join(", ") +
      (sink ? `, OTLP sink ${sinkUrl} (pid ${sink.proc.pid})` : "") +
      `, dir ${bench.dir}`,
  );

  const targets: Partial<Record<TargetName, Target>> = {
    direct: { name: "direct", chatUrl: `${mockUrl}/v1/chat/completions`, streamUrl: `${mockUrl}/v1/messages` },
    bare: { name: "bare", chatUrl: `${bareUrl}/v1/chat/completions`, streamUrl: `${bareUrl}/v1/messages`, pid: bare.proc.pid },
  };
  for (const l of Object.values(loupes)) targets[l.name] = { name: l.name, chatUrl: `${l.url}/openai/v1/chat/completions`, streamUrl: `${l.url}/anthropic/v1/messages`, pid: l.pid };
  const T = (n: TargetName) => targets[n]!;

  /** Waits until a Loupe has stored its records and exported its spans; returns the CPU seconds that took. */
  const drainLoupe = async (name: LoupeName): Promise<number> => {
    // Loupe stores records in batches after the calls (and the otel one exports spans up to 1 s later):
    // let it finish so it does not steal the next run's core.
    const l = loupes[name];
    if (!l) return 0;
    const cpu0 = procCpuTicks(l.pid);
    await waitLoupeIdle(l.url, 10_000);
    const cpu = (procCpuTicks(l.pid) - cpu0) / CLK_TCK;
    await sleep(300);
    return cpu;
  };

  // Sanity: one call of each kind through each target.
  for (const mode of ["json", "stream"] as const) {
    const sanity = await sequential(NAMES.map(T), mode, 3);
    for (const n of NAMES) if (sanity[n]?.ok !== 3) throw new Error(`${n} does not answer ${mode} calls right: ${sanity[n]?.firstError}`);
  }

  // 1. Throughput
  const tput: Record<TargetName, ThroughputRun[]> = { direct: [], bare: [], loupe: [], "loupe+otel": [] };
  if (PHASES.has("throughput")) {
    log(`throughput: warm-up ${OPT.warmupS}s each, then ${OPT.rounds} round(s) × ${OPT.durationS}s per target at ${OPT.connections} connections`);
    for (const n of NAMES) {
      if (OPT.warmupS > 0) await autocannon(T(n), OPT.warmupS);
      if (isLoupe(n)) await drainLoupe(n);
    }
    for (let round = 0; round < OPT.rounds; round++) {
      const order = round % 2 === 0 ? NAMES : [...NAMES].reverse();
      for (const n of order) {
        await sleep(200);
        const run = await autocannon(T(n), OPT.durationS);
        tput[n].push(run);
        const other = otherOnCore0(run);
        log(`  round ${round + 1} ${n.padEnd(10)} ${run.rps.toFixed(0)} req/s (proxy cpu ${fmt(run.proxyCpuPct, 0)}%, core0 ${run.core0Pct.toFixed(0)}%, core1 ${run.core1Pct.toFixed(0)}%)${run.failed ? `, ${run.failed} failed` : ""}${other > OTHER_MAX ? `  ← other processes on core 0: ~${other.toFixed(0)}%` : ""}`);
        if (isLoupe(n)) run.deferredUsPerReq = ((await drainLoupe(n)) * 1e6) / Math.max(1, run.ok);
      }
    }
  }

  // 2. Latency, one at a time
  let lat: Record<string, SeqTargetResult> = {};
  if (PHASES.has("latency")) {
    log(`latency: ${OPT.samples} sequential calls per target (interleaved blocks of 250)`);
    lat = await sequential(NAMES.map(T), "json");
    for (const l of LOUPES) await drainLoupe(l);
  }

  // 3. Streaming TTFB, one at a time
  let str: Record<string, SeqTargetResult> = {};
  if (PHASES.has("stream")) {
    log(`streaming: ${OPT.streamSamples} sequential streams per target (8 events, ${OPT.streamGapMs} ms apart)`);
    str = await sequential(NAMES.map(T), "stream");
    for (const l of LOUPES) await drainLoupe(l);
  }

  // 4. Memory
  const mem = (pid: number) => ({ hwm: statusKb(pid, "VmHWM"), now: statusKb(pid, "VmRSS") });
  const rss: Record<string, { hwm: number; now: number }> = {};
  for (const l of Object.values(loupes)) rss[l.name] = mem(l.pid);
  rss["bare proxy"] = mem(bare.proc.pid);
  rss["mock upstream"] = mem(mock.proc.pid);
  if (sink) rss["OTLP sink"] = mem(sink.proc.pid);
  const sinkCpuS = sink ? procCpuTicks(sink.proc.pid) / CLK_TCK : NaN;

  // 5. Records: every call each Loupe answered is a row
  const upstreamSeen = await fetchJson<Record<string, number>>(`${mockUrl}/_stats`);
  const records: Partial<Record<LoupeName, LoupeRecords>> = {};
  for (const l of Object.values(loupes)) {
    const livez = await livezOf(l.url);
    const exitCode = await bench.stop(l.child, 60_000); // the otel one exports what is pending on the way out
    const runSql = (q: string) => loupeSql(l.db, q, l.name);
    const recorded = Number(runSql("select count(*)::int as n from requests")[0]?.n);
    let breakdown: Record<string, unknown>[] = [];
    try {
      breakdown = runSql(
        "select streamed, status, coalesce(error_type, '-') as error, count(*)::int as n, count(input_tokens)::int as with_usage, round(median(duration_ms), 3) as median_ms from requests group by all order by all",
      );
    } catch (e) {
      log(`breakdown query (${l.name}) failed: ${(e as Error).message}`);
    }
    records[l.name] = { exitCode, recorded, breakdown, livez };
  }
  const sinkStats = sink ? await fetchJson<Record<string, SinkPathStats>>(`${sinkUrl}/_stats`) : undefined;

  // ── report ──
  const totalS = (performance.now() - started) / 1000;
  const report = renderReport({ tput, lat, str, rss, records, upstreamSeen, sinkStats, sinkCpuS, totalS });
  process.stdout.write(report);

  bench.saveResults("proxy", { options: OPT, targets: NAMES, pinned: canPin, background, tput, lat, str, rss, sent, completed, records, upstreamSeen, sinkStats, sinkCpuS });
}

// ── formatting ───────────────────────────────────────────────────────────────
/** Core 0 busy beyond the proxy under test (% of the core): other processes on the machine. */
const otherOnCore0 = (run: ThroughputRun) => run.core0Pct - (Number.isFinite(run.proxyCpuPct) ? run.proxyCpuPct : 0);
const OTHER_MAX = 15;

function renderReport(r: {
  tput: Record<TargetName, ThroughputRun[]>;
  lat: Record<string, SeqTargetResult>;
  str: Record<string, SeqTargetResult>;
  rss: Record<string, { hwm: number; now: number }>;
  records: Partial<Record<LoupeName, LoupeRecords>>;
  upstreamSeen: Record<string, number>;
  sinkStats: Record<string, SinkPathStats> | undefined;
  sinkCpuS: number;
  totalS: number;
}): string {
  const otel = WITH_OTEL;
  let out = "\n";
  out += `Loupe proxy bench — bun ${Bun.version}, ${availableParallelism()} cores, ${canPin ? `proxy pinned to core 0, mock + load generator${otel ? " + OTLP sink" : ""} on core 1` : "NOT pinned"}\n`;
  out += `background CPU before the run (other processes): core0 ${fmt(background.core0, 0)}%, core1 ${fmt(background.core1, 0)}%\n`;
  out += `(${OPT.rounds}×${OPT.durationS}s per target at ${OPT.connections} conns; ${OPT.samples} sequential calls; ${OPT.streamSamples} sequential streams; took ${r.totalS.toFixed(0)}s)\n`;
  if (otel)
    out += `(loupe+otel = a second Loupe, same flags, exporting spans + metrics over OTLP to bench/otlp-sink.ts, metrics every ${OTEL_INTERVAL_MS / 1000}s${Object.keys(OTEL_EXTRA_ENV).length ? `; BENCH_OTEL_ENV: ${Object.entries(OTEL_EXTRA_ENV).map(([k, v]) => `${k}=${v}`).join(" ")}` : ""})\n`;
  out += "\n";

  // 1
  const rps = (n: TargetName) => mean(r.tput[n].map((x) => x.rps));
  const cpuPerReq = (n: TargetName) => mean(r.tput[n].map((x) => x.cpuUsPerReq));
  const threadsOf = (n: TargetName) => {
    const names = [...new Set(r.tput[n].flatMap((x) => Object.keys(x.threads)))];
    return new Map(names.map((t) => [t, mean(r.tput[n].map((x) => x.threads[t] ?? 0))] as const));
  };
  out += `1. Throughput, ${OPT.connections} concurrent non-streaming calls (autocannon, mean of ${OPT.rounds} run(s))\n`;
  out += table(
    ["target", "req/s", "per run", "lat p50 ms", "lat p99 ms", "proxy CPU %", "proxy CPU µs/req", "core0 %", "core1 %", "failed"],
    ALL.map((n) => {
      const runs = r.tput[n];
      return [
        n,
        fmt(rps(n), 0),
        runs.map((x) => x.rps.toFixed(0)).join(" / "),
        fmt(mean(runs.map((x) => x.latP50)), 0),
        fmt(mean(runs.map((x) => x.latP99)), 0),
        fmt(mean(runs.map((x) => x.proxyCpuPct)), 0),
        fmt(cpuPerReq(n), 0),
        fmt(mean(runs.map((x) => x.core0Pct)), 0),
        fmt(mean(runs.map((x) => x.core1Pct)), 0),
        String(runs.reduce((a, x) => a + x.failed, 0)),
      ];
    }),
  );
  const ratio = rps("loupe") / rps("bare");
  // Each round runs bare and Loupe next to each other: their ratio there is least touched by the machine's slow spells.
  const perRoundRatio = r.tput.loupe.map((x, i) => x.rps / (r.tput.bare[i]?.rps ?? NaN));
  out += `  Loupe / bare = ${fmt(ratio, 2)}   (target ≥ 0.60: ${verdict(ratio >= 0.6)});  per round: ${perRoundRatio.map((x) => fmt(x, 2)).join(" / ")};  bare / direct = ${fmt(rps("bare") / rps("direct"), 2)}\n`;
  if (otel && r.tput["loupe+otel"].length) {
    const otelRatio = rps("loupe+otel") / rps("loupe");
    const perRound = r.tput["loupe+otel"].map((x, i) => x.rps / (r.tput.loupe[i]?.rps ?? NaN));
    out += `  Loupe+otel / Loupe = ${fmt(otelRatio, 3)}   (target ≥ 0.90: ${verdict(otelRatio >= 0.9)});  Loupe+otel ${fmt(rps("loupe+otel"), 0)} req/s vs Loupe ${fmt(rps("loupe"), 0)} req/s;  per round: ${perRound.map((x) => fmt(x, 3)).join(" / ")}\n`;
  }
  for (const n of ["bare", "loupe", "loupe+otel"] as const) {
    const per = [...threadsOf(n)].filter(([, us]) => us >= 1);
    if (per.length) out += `  ${n} CPU µs/req by thread: ${per.sort((x, y) => y[1] - x[1]).map(([t, us]) => `${t} ${us.toFixed(0)}`).join(", ")}\n`;
  }
  if (otel && r.tput["loupe+otel"].length && r.tput.loupe.length) {
    const a = threadsOf("loupe");
    const b = threadsOf("loupe+otel");
    const diff = [...new Set([...a.keys(), ...b.keys()])]
      .map((t) => [t, (b.get(t) ?? 0) - (a.get(t) ?? 0)] as const)
      .filter(([, d]) => Math.abs(d) >= 1)
      .sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]));
    const sign = (d: number) => `${d >= 0 ? "+" : "−"}${Math.abs(d).toFixed(0)}`;
    out += `  export on, CPU µs/req added (Loupe+otel − Loupe): total ${sign(cpuPerReq("loupe+otel") - cpuPerReq("loupe"))}${diff.length ? ` = ${diff.map(([t, d]) => `${t} ${sign(d)}`).join(", ")}` : ""}\n`;
    out += `  CPU per request, Loupe / Loupe+otel = ${fmt(cpuPerReq("loupe") / cpuPerReq("loupe+otel"), 3)} (the throughput ratio export-on would reach with the load generator not a limit)\n`;
  }
  out += `  CPU per request, bare / Loupe = ${fmt(mean(r.tput.bare.map((x) => x.cpuUsPerReq)) / cpuPerReq("loupe"), 2)} (the throughput ratio Loupe would reach with the load generator not a limit)\n`;
  for (const n of LOUPES) {
    const runs = r.tput[n];
    if (!runs.length) continue;
    const deferred = mean(runs.map((x) => x.deferredUsPerReq ?? 0));
    out += `  ${n}: after the run, storing records${n === "loupe+otel" ? " and making and sending their spans and metrics" : ""} (background priority during it): ${fmt(deferred, 0)} CPU µs/req more; with it, ${fmt(cpuPerReq(n) + deferred, 0)} µs/req${
      r.tput.bare.length ? `, bare / ${n} = ${fmt(mean(r.tput.bare.map((x) => x.cpuUsPerReq)) / (cpuPerReq(n) + deferred), 2)} (the sustained ratio, with every record stored as fast as calls come)` : ""
    }\n`;
  }
  out += `  (autocannon latency has 1 ms resolution; "proxy CPU" is the proxy process, all threads, incl. Loupe's DuckDB writer)\n`;
  const noisy = ALL.flatMap((n) => r.tput[n].map((x, i) => [`${n} #${i + 1}`, otherOnCore0(x)] as const)).filter(([, o]) => o > OTHER_MAX);
  if (noisy.length)
    out += `  WARNING: other processes used core 0 during ${noisy.map(([k, o]) => `${k} (~${o.toFixed(0)}%)`).join(", ")}: those runs are slowed; trust the cleaner rounds and CPU µs/req\n`;
  out += "\n";

  // 2
  const L = (n: TargetName) => r.lat[n]?.latency;
  out += `2. Latency, 1 call at a time, non-streaming (ms, request start → whole body)\n`;
  out += table(
    ["target", "n", "p50", "p90", "p99", "mean", "max"],
    ALL.map((n) => [n, String(L(n)?.n ?? 0), fmt(L(n)?.p50), fmt(L(n)?.p90), fmt(L(n)?.p99), fmt(L(n)?.mean), fmt(L(n)?.max, 1)]),
  );
  const addDirect = (L("loupe")?.p50 ?? NaN) - (L("direct")?.p50 ?? NaN);
  const addBare = (L("loupe")?.p50 ?? NaN) - (L("bare")?.p50 ?? NaN);
  const bareAdd = (L("bare")?.p50 ?? NaN) - (L("direct")?.p50 ?? NaN);
  out += `  added p50: Loupe − direct = ${fmt(addDirect)} ms (target ≤ 0.300: ${verdict(addDirect <= 0.3)});  Loupe − bare = ${fmt(addBare)} ms;  bare − direct = ${fmt(bareAdd)} ms\n`;
  out += `  added p99: Loupe − direct = ${fmt((L("loupe")?.p99 ?? NaN) - (L("direct")?.p99 ?? NaN))} ms;  Loupe − bare = ${fmt((L("loupe")?.p99 ?? NaN) - (L("bare")?.p99 ?? NaN))} ms\n`;
  if (otel && L("loupe+otel"))
    out += `  export on: Loupe+otel − Loupe p50 = ${fmt((L("loupe+otel")?.p50 ?? NaN) - (L("loupe")?.p50 ?? NaN))} ms, p99 = ${fmt((L("loupe+otel")?.p99 ?? NaN) - (L("loupe")?.p99 ?? NaN))} ms\n`;
  out += "\n";

  // 3
  const S = (n: TargetName) => r.str[n];
  out += `3. Streaming, 1 at a time (ms; TTFB = request start → first SSE event; 8 events ${OPT.streamGapMs} ms apart)\n`;
  out += table(
    ["target", "n", "headers p50", "TTFB p50", "TTFB p99", "total p50", "total p99"],
    ALL.map((n) => [n, String(S(n)?.ttfb?.n ?? 0), fmt(S(n)?.headers?.p50), fmt(S(n)?.ttfb?.p50), fmt(S(n)?.ttfb?.p99), fmt(S(n)?.total?.p50), fmt(S(n)?.total?.p99)]),
  );
  const ttfbAdd = (S("loupe")?.ttfb?.p50 ?? NaN) - (S("direct")?.ttfb?.p50 ?? NaN);
  out += `  added TTFB p50: Loupe − direct = ${fmt(ttfbAdd)} ms (target ≤ 1.000: ${verdict(ttfbAdd <= 1)});  Loupe − bare = ${fmt((S("loupe")?.ttfb?.p50 ?? NaN) - (S("bare")?.ttfb?.p50 ?? NaN))} ms\n`;
  out += `  added TTFB p99: Loupe − direct = ${fmt((S("loupe")?.ttfb?.p99 ?? NaN) - (S("direct")?.ttfb?.p99 ?? NaN))} ms;  added total p50: Loupe − direct = ${fmt((S("loupe")?.total?.p50 ?? NaN) - (S("direct")?.total?.p50 ?? NaN))} ms\n`;
  if (otel && S("loupe+otel"))
    out += `  export on: Loupe+otel − Loupe TTFB p50 = ${fmt((S("loupe+otel")?.ttfb?.p50 ?? NaN) - (S("loupe")?.ttfb?.p50 ?? NaN))} ms, total p50 = ${fmt((S("loupe+otel")?.total?.p50 ?? NaN) - (S("loupe")?.total?.p50 ?? NaN))} ms\n`;
  out += "\n";

  // 4
  const mb = (kb: number) => fmt(kb / 1024, 1);
  out += `4. Memory (MiB, /proc/<pid>/status at the end)\n`;
  out += table(["process", "peak RSS (VmHWM)", "RSS now"], Object.entries(r.rss).map(([p, m]) => [p, mb(m.hwm), mb(m.now)]));
  out += "\n";

  // 5
  out += `5. Records (each Loupe stopped with SIGTERM; rows counted with \`loupe sql\` in its own DuckDB file)\n`;
  for (const name of LOUPES) {
    const rec = r.records[name];
    if (!rec) continue;
    const complete = rec.recorded === sent[name];
    out += `  ${name} (exit code ${rec.exitCode})\n`;
    out += `    calls sent: ${sent[name]} (completed 200 at the client: ${completed[name]}; reached the upstream: ${r.upstreamSeen[name] ?? 0})\n`;
    out += `    rows in requests: ${rec.recorded}   → ${complete ? "every call recorded" : `MISMATCH: ${rec.recorded - sent[name]} vs sent`}${rec.livez?.internal_errors ? `; Loupe internal errors: ${rec.livez.internal_errors}` : ""}\n`;
    if (!complete && rec.recorded >= completed[name] && rec.recorded <= sent[name])
      out += `    (between completed and sent: calls cut off by autocannon at the end of a run may not have reached Loupe)\n`;
    if (rec.breakdown.length) {
      const cols = Object.keys(rec.breakdown[0]!);
      out += table(cols, rec.breakdown.map((row) => cols.map((c) => String(row[c] ?? "NULL")))).replace(/^(?=.)/gm, "  ");
    }
  }
  const otelRec = r.records["loupe+otel"];
  if (otel && r.sinkStats && otelRec) {
    const paths = Object.entries(r.sinkStats).sort(([a], [b]) => a.localeCompare(b));
    const spans = r.sinkStats["/v1/traces"]?.spans ?? 0;
    const expected = 2 * otelRec.recorded; // a SERVER span per call, a CLIENT span per upstream attempt (one each here)
    const tel = otelRec.livez?.telemetry;
    out += `  OTLP export (loupe+otel → sink; sink CPU ${fmt(r.sinkCpuS, 2)} s in all)\n`;
    out += table(
      ["path", "requests", "bytes", "spans"],
      paths.length ? paths.map(([p, s]) => [p, String(s.requests), String(s.bytes), p.endsWith("/v1/traces") ? `${s.spans}${s.undecoded ? ` (+${s.undecoded} undecoded bodies)` : ""}` : "—"]) : [["(nothing received)", "0", "0", "—"]],
    ).replace(/^(?=.)/gm, "  ");
    out += `    spans exported: ${spans} → ${verdict(spans > 0)} (> 0);  expected 2 per recorded call = ${expected}: ${spans === expected ? "all arrived" : `${spans - expected >= 0 ? "+" : ""}${spans - expected} (${fmt((100 * spans) / expected, 1)}%)`}\n`;
    out += `    metric exports: ${r.sinkStats["/v1/metrics"]?.requests ?? 0} → ${verdict((r.sinkStats["/v1/metrics"]?.requests ?? 0) > 0)} (> 0)\n`;
    if (tel)
      out += `    Loupe's /livez before SIGTERM: spansExported ${tel.spansExported}, exportFailures ${tel.exportFailures}${tel.lastError ? `, lastError ${JSON.stringify(tel.lastError)}` : ""}\n`;
  }
  return out + "\n";
}

await bench.run(main);
