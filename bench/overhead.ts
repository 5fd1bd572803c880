/**
 * Issue 17's overhead figures in one run: Loupe against the bare proxy at
 * several concurrency levels. It runs the other benches as they are (each in
 * its own process, one after the other, so nothing else competes for the
 * cores) and reads their results files:
 *
 * - proxy.ts, throughput phase, at each level of BENCH_LEVELS (bare, loupe,
 *   loupe+otel); at BENCH_FULL_LEVEL also its one-call-in-flight latency and
 *   stream phases (direct, bare, loupe, loupe+otel);
 * - keys.ts at BENCH_FULL_LEVEL: a key and a request limit on every call, in
 *   process and in Redis, against bare.
 *
 * Then one table: req/s and ratios to bare (targets: recording + cost + OTLP
 * ≥ 0.85; key + limit ≥ 0.80), CPU µs per call, the sustained ratio (storing
 * and exporting every record counted in), and the added latency (targets:
 * p50 ≤ 0.1 ms, p99 ≤ 0.15 ms, stream TTFB ≤ 0.2 ms over bare).
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { mean, verdict } from "./harness.ts";

const LEVELS = (process.env.BENCH_LEVELS ?? "1,10,50,200").split(",").map(Number);
const FULL = Number(process.env.BENCH_FULL_LEVEL ?? 50);
const SKIP_KEYS = process.env.BENCH_SKIP_KEYS === "1";

interface Round {
  rps: number;
  cpuUsPerReq: number | null;
  deferredUsPerReq?: number;
}
interface Percentiles {
  p50: number;
  p99: number;
}

/** A figure with thousands separators, for the Markdown tables (harness.ts's `fmt` has none). */
const fmt = (value: number, digits = 0) => value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Runs a bench script with `env` added; its output passes through; returns its results file (named in its log, on stderr). */
async function run(script: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  console.log(`\n[overhead] ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ")} bun bench/${script}`);
  const child = Bun.spawn(["bun", join(import.meta.dir, script)], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const relay = async (stream: ReadableStream<Uint8Array>, to: NodeJS.WriteStream) => {
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const piece = decoder.decode(chunk, { stream: true });
      text += piece;
      to.write(piece);
    }
    return text;
  };
  const [out, err] = await Promise.all([relay(child.stdout, process.stdout), relay(child.stderr, process.stderr)]);
  const code = await child.exited;
  const file = /raw results: (\S+)/.exec(out + err)?.[1];
  if (file === undefined) throw new Error(`bench/${script} wrote no results (exit ${code})`);
  return (await Bun.file(file).json()) as Record<string, unknown>;
}

const load0 = loadavg().map((value) => value.toFixed(2)).join(" ");
const started = Date.now();
const proxyRuns = new Map<number, Record<string, unknown>>();
for (const level of LEVELS) {
  const full = level === FULL;
  proxyRuns.set(
    level,
    await run("proxy.ts", {
      BENCH_CONNECTIONS: String(level),
      BENCH_PHASES: full ? "throughput,latency,stream" : "throughput",
      BENCH_TARGETS: full ? "direct,bare,loupe,loupe+otel" : "bare,loupe,loupe+otel",
    }),
  );
}
const keysRun = SKIP_KEYS ? undefined : await run("keys.ts", { BENCH_CONNECTIONS: String(FULL), BENCH_TARGETS: "loupe,loupe+key,loupe+key+redis,bare" });

console.log(`\nLoupe overhead against the bare proxy (bun ${Bun.version}); load average before ${load0}, after ${loadavg().map((value) => value.toFixed(2)).join(" ")}; took ${Math.round((Date.now() - started) / 1000)} s`);
console.log("\n| connections | bare req/s | loupe req/s (/ bare) | loupe+otel req/s (/ bare, target ≥ 0.85) | CPU µs/call bare / loupe / loupe+otel | + storing and export after (µs) | sustained loupe+otel / bare |");
console.log("|---|---|---|---|---|---|---|");
const summary: Record<string, unknown>[] = [];
for (const [level, result] of proxyRuns) {
  const tput = result.tput as Record<string, Round[]>;
  const rps = (name: string) => mean(tput[name]!.map((round) => round.rps));
  const cpu = (name: string) => mean(tput[name]!.map((round) => round.cpuUsPerReq ?? 0));
  const deferred = (name: string) => mean(tput[name]!.map((round) => round.deferredUsPerReq ?? 0));
  const [bare, loupe, otel] = [rps("bare"), rps("loupe"), rps("loupe+otel")];
  const sustained = cpu("bare") / (cpu("loupe+otel") + deferred("loupe+otel"));
  summary.push({ level, bare, loupe, otel, cpu: [cpu("bare"), cpu("loupe"), cpu("loupe+otel")], deferred: [deferred("loupe"), deferred("loupe+otel")], sustained });
  console.log(
    `| ${level} | ${fmt(bare)} | ${fmt(loupe)} (${fmt(loupe / bare, 3)}) | ${fmt(otel)} (${fmt(otel / bare, 3)} ${verdict(otel / bare >= 0.85)}) | ${fmt(cpu("bare"))} / ${fmt(cpu("loupe"))} / ${fmt(cpu("loupe+otel"))} | ${fmt(deferred("loupe"))} / ${fmt(deferred("loupe+otel"))} | ${fmt(sustained, 3)} |`,
  );
}

if (keysRun !== undefined) {
  const runs = keysRun.runs as Record<string, Round[]>;
  const rps = (name: string) => mean(runs[name]!.map((round) => round.rps));
  const cpu = (name: string) => mean(runs[name]!.map((round) => round.cpuUsPerReq ?? 0));
  console.log(`\nA key and a request limit on every call, ${FULL} connections (keys.ts):`);
  console.log("\n| target | req/s | / bare (target ≥ 0.80) | / no keys | CPU µs/call |");
  console.log("|---|---|---|---|---|");
  for (const name of ["bare", "loupe", "loupe+key", "loupe+key+redis"]) {
    const ratio = rps(name) / rps("bare");
    const target = name.startsWith("loupe+key") ? ` ${verdict(ratio >= 0.8)}` : "";
    console.log(`| ${name} | ${fmt(rps(name))} | ${fmt(ratio, 3)}${target} | ${fmt(rps(name) / rps("loupe"), 3)} | ${fmt(cpu(name))} |`);
  }
}

const full = proxyRuns.get(FULL);
if (full !== undefined) {
  const lat = full.lat as Record<string, { latency: Percentiles }>;
  const str = full.str as Record<string, { ttfb: Percentiles }>;
  const added = (table: Record<string, Percentiles>, name: string, key: keyof Percentiles) => table[name]![key] - table.bare![key];
  const latency = Object.fromEntries(Object.entries(lat).map(([name, value]) => [name, value.latency]));
  const ttfb = Object.fromEntries(Object.entries(str).map(([name, value]) => [name, value.ttfb]));
  console.log("\nOne call in flight (proxy.ts latency and stream phases), ms:");
  console.log("\n| target | p50 | p99 | added p50 over bare (≤ 0.1) | added p99 over bare (≤ 0.15) | stream TTFB p50 / p99 | added TTFB p50 over bare (≤ 0.2) |");
  console.log("|---|---|---|---|---|---|---|");
  for (const name of ["direct", "bare", "loupe", "loupe+otel"]) {
    if (latency[name] === undefined) continue;
    const isLoupe = name.startsWith("loupe");
    const p50 = added(latency, name, "p50");
    const p99 = added(latency, name, "p99");
    const t50 = added(ttfb, name, "p50");
    console.log(
      `| ${name} | ${fmt(latency[name].p50, 3)} | ${fmt(latency[name].p99, 3)} | ${isLoupe ? `${fmt(p50, 3)} ${verdict(p50 <= 0.1)}` : ""} | ${isLoupe ? `${fmt(p99, 3)} ${verdict(p99 <= 0.15)}` : ""} | ${fmt(ttfb[name]!.p50, 3)} / ${fmt(ttfb[name]!.p99, 3)} | ${isLoupe ? `${fmt(t50, 3)} ${verdict(t50 <= 0.2)}` : ""} |`,
    );
  }
}

const out = join(import.meta.dir, "results", `overhead-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
await Bun.write(out, JSON.stringify({ levels: LEVELS, full: FULL, loadavg: { before: load0, after: loadavg() }, summary }, null, 2));
console.log(`\n[overhead] summary: ${out}`);
