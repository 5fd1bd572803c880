#!/usr/bin/env bun
/**
 * Slow streams bench (issue 17: "1,000 concurrent slow streams with the same
 * per-stream timing as direct"). `bun bench/slow-streams.ts`; see
 * bench/README.md, "Slow streams bench".
 *
 * The mock paces Anthropic SSE events BENCH_SLOW_GAP_MS (100) apart. For each
 * target in turn (direct, bare, loupe) a client process of its own opens
 * BENCH_SLOW_STREAMS (1000) streams at once and times each (TTFB, every gap
 * between chunks, total), checking every body against the mock's bytes. Loupe
 * records (on by default); its rows are counted at the end. Layout as in the
 * other benches: the proxy under test on core 0, the mock and the client on core 1.
 */
import { join } from "node:path";
import { START_ENVIRONMENT } from "../src/runtime/fetch-concurrency.ts";
import { SSE_CHUNKS } from "./mock-upstream.ts";
import type { SlowStreamJob, SlowStreamResult } from "./slow-stream-client.ts";
import {
  BenchRun,
  backgroundCpu,
  canPin,
  coreBusyPct,
  coreTimes,
  envPairs,
  fetchJson,
  fmt,
  loupeSql,
  num,
  openFilesLimit,
  resetPeakRss,
  runClient,
  statusKb,
  table,
  verdict,
  waitLoupeIdle,
} from "./harness.ts";

const OPT = {
  streams: Math.max(1, num("BENCH_SLOW_STREAMS", 1000)),
  gapMs: num("BENCH_SLOW_GAP_MS", 100),
  warmup: num("BENCH_SLOW_WARMUP", 20),
  rampMs: num("BENCH_SLOW_RAMP_MS", 0),
};
/** The criteria, Loupe against direct in the same run: see bench/README.md, "Slow streams bench". */
const GAP_P99_RATIO = 1.1;
const TTFB_P99_ADDED_MS = 1;
const LOUPE_EXTRA_ENV = envPairs("BENCH_LOUPE_ENV");

const bench = new BenchRun("slow-streams", "loupe-slow-streams-");
const log = bench.log;

type TargetName = "direct" | "bare" | "loupe";
const TARGETS: TargetName[] = ["direct", "bare", "loupe"];
const BODY = JSON.stringify({
  model: "claude-sonnet-4-5-20250929",
  max_tokens: 1024,
  stream: true,
  messages: [{ role: "user", content: "Write a long story, slowly." }],
});
const HEADERS = { "x-api-key": "sk-ant-bench-0000000000", "anthropic-version": "2023-06-01", "user-agent": "loupe-bench/1" };
/** The client opens every stream at once: Bun's fetch would run only 256 at a time without it. */
const CLIENT_ENV = { BUN_CONFIG_MAX_HTTP_REQUESTS: START_ENVIRONMENT.BUN_CONFIG_MAX_HTTP_REQUESTS! };

interface Phase {
  target: TargetName;
  result: SlowStreamResult;
  /** The proxy's peak RSS (VmHWM) over the phase, MB; none for direct. */
  peakMb?: number;
  core0: number;
  core1: number;
}

async function main() {
  if (!canPin) log("WARNING: not pinning (taskset unavailable, fewer than 2 cores, or BENCH_NO_PIN=1): numbers are noisier");
  // A Loupe holds two sockets per stream (client and upstream); the client and the mock one each.
  const files = openFilesLimit();
  const needFiles = 2 * (OPT.streams + OPT.warmup) + 200;
  log(`options ${JSON.stringify(OPT)}; open files limit ${files.soft} (hard ${files.hard}), a proxy needs about ${needFiles}`);
  if (files.hard < needFiles) throw new Error(`the open files limit (hard ${files.hard}) is below the ${needFiles} a proxy needs: raise it (ulimit -n) and run again`);

  const background = await backgroundCpu(log);
  const { child: mock, url: mockUrl } = await bench.startMock(OPT.gapMs);
  const { child: bare, url: bareUrl } = await bench.startBare(mockUrl, { ...START_ENVIRONMENT });
  const db = join(bench.dir, "slow-streams.duckdb");
  const loupe = await bench.startLoupe("loupe", db, { LOUPE_ANTHROPIC_BASE_URL: mockUrl, ...LOUPE_EXTRA_ENV });
  log(`mock ${mockUrl} (pid ${mock.proc.pid}), bare ${bareUrl} (pid ${bare.proc.pid}), loupe ${loupe.url} (pid ${loupe.pid}), dir ${bench.dir}`);

  const urls: Record<TargetName, string> = { direct: `${mockUrl}/v1/messages`, bare: `${bareUrl}/v1/messages`, loupe: `${loupe.url}/anthropic/v1/messages` };
  const pids: Record<TargetName, number | undefined> = { direct: undefined, bare: bare.proc.pid, loupe: loupe.pid };
  const expectBody = Buffer.concat(SSE_CHUNKS).toString("base64");
  const phases: Phase[] = [];
  for (const target of TARGETS) {
    const pid = pids[target];
    if (pid) resetPeakRss(pid);
    const job: SlowStreamJob = {
      url: urls[target],
      headers: { ...HEADERS, "x-bench-target": target },
      body: BODY,
      chunkSizes: SSE_CHUNKS.map((c) => c.byteLength),
      expectBody,
      streams: OPT.streams,
      warmup: OPT.warmup,
      rampMs: OPT.rampMs,
    };
    const cores0 = coreTimes();
    const result = await runClient<SlowStreamResult>("slow-stream-client.ts", job, CLIENT_ENV);
    const cores1 = coreTimes();
    const phase: Phase = { target, result, core0: coreBusyPct(cores0, cores1, "cpu0"), core1: coreBusyPct(cores0, cores1, "cpu1") };
    if (pid) phase.peakMb = statusKb(pid, "VmHWM") / 1024;
    phases.push(phase);
    log(`${target}: ${result.ok} of ${result.sent} streams ok, TTFB p99 ${fmt(result.ttfb?.p99)} ms, gap p99 ${fmt(result.gap?.p99)} ms, client CPU ${fmt(result.cpuPct, 0)} %`);
    // Loupe stores its records before anything else runs.
    if (target === "loupe") await waitLoupeIdle(loupe.url, 60_000);
  }

  const upstreamSeen = await fetchJson<Record<string, number>>(`${mockUrl}/_stats`);
  const exitCode = await bench.stop(loupe.child, 60_000);
  const rows = loupeSql(db, "select status, coalesce(error_type, '') as error_type, streamed, count(*)::int as n from requests group by all order by n desc");
  const recorded = rows.reduce((n, r) => n + Number(r.n), 0);
  const recordedOk = rows.filter((r) => r.status === 200 && r.error_type === "" && r.streamed === true).reduce((n, r) => n + Number(r.n), 0);
  const sentToLoupe = OPT.streams + OPT.warmup;

  console.log(report(phases, { background, recorded, recordedOk, sentToLoupe, rows, exitCode, upstreamSeen }));
  bench.saveResults("slow-streams", { options: OPT, pinned: canPin, background, phases, upstreamSeen, sentToLoupe, rows, exitCode });
}

function report(
  phases: Phase[],
  r: { background: { core0: number; core1: number }; recorded: number; recordedOk: number; sentToLoupe: number; rows: Record<string, unknown>[]; exitCode: number; upstreamSeen: Record<string, number> },
): string {
  const of = (t: TargetName) => phases.find((p) => p.target === t)!;
  const [direct, bare, loupe] = [of("direct").result, of("bare").result, of("loupe").result];
  const opened = OPT.rampMs > 0 ? `started over ${OPT.rampMs} ms` : "at once";
  let out = `\nSlow streams: ${OPT.streams} Anthropic SSE streams ${opened}, ${SSE_CHUNKS.length} events ${OPT.gapMs} ms apart (bun ${Bun.version})\n`;
  out += `background CPU before the run: core0 ${fmt(r.background.core0, 0)} %, core1 ${fmt(r.background.core1, 0)} %\n\n`;
  out += table(
    ["target", "ok / sent", "TTFB p50", "TTFB p99", "gap p50", "gap p99", "gap p99 / pacing", "total p50", "total p99", "open spread", "client CPU %", "core0 %", "core1 %", "peak RSS MB"],
    phases.map(({ target, result: s, peakMb, core0, core1 }) => [
      target,
      `${s.ok} / ${s.sent}`,
      fmt(s.ttfb?.p50),
      fmt(s.ttfb?.p99),
      fmt(s.gap?.p50),
      fmt(s.gap?.p99),
      fmt((s.gap?.p99 ?? NaN) / OPT.gapMs, 3),
      fmt(s.total?.p50),
      fmt(s.total?.p99),
      fmt(s.openSpreadMs, 1),
      fmt(s.cpuPct, 0),
      fmt(core0, 0),
      fmt(core1, 0),
      fmt(peakMb, 1),
    ]),
  );
  out += "ms; open spread: first to last request start in the client; peak RSS: VmHWM over the phase (reset before it).\n\n";

  const diff = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? NaN : a - b);
  const signed = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? "+" : ""}${fmt(v)}` : "—");
  out += table(
    ["Loupe −", "TTFB p50", "TTFB p99", "gap p50", "gap p99", "gap p99 ratio", "total p50", "total p99"],
    [
      ["direct", direct],
      ["bare", bare],
    ].map(([name, base]) => {
      const b = base as SlowStreamResult;
      return [
        name as string,
        signed(diff(loupe.ttfb?.p50, b.ttfb?.p50)),
        signed(diff(loupe.ttfb?.p99, b.ttfb?.p99)),
        signed(diff(loupe.gap?.p50, b.gap?.p50)),
        signed(diff(loupe.gap?.p99, b.gap?.p99)),
        fmt((loupe.gap?.p99 ?? NaN) / (b.gap?.p99 ?? NaN)),
        signed(diff(loupe.total?.p50, b.total?.p50)),
        signed(diff(loupe.total?.p99, b.total?.p99)),
      ];
    }),
  );

  const gapRatio = (loupe.gap?.p99 ?? NaN) / (direct.gap?.p99 ?? NaN);
  const ttfbAdded = diff(loupe.ttfb?.p99, direct.ttfb?.p99);
  const failures = phases.reduce((n, p) => n + p.result.bad, 0);
  const allRecorded = r.recorded === r.sentToLoupe && r.recordedOk === r.sentToLoupe;
  out += `\ngap p99, Loupe / direct: ${fmt(gapRatio)} (target ≤ ${GAP_P99_RATIO}): ${verdict(gapRatio <= GAP_P99_RATIO)}\n`;
  out += `TTFB p99, Loupe − direct: ${signed(ttfbAdded)} ms (target ≤ ${TTFB_P99_ADDED_MS} ms): ${verdict(ttfbAdded <= TTFB_P99_ADDED_MS)}\n`;
  out += `failed streams (any target; a body that differs from the mock's counts): ${failures}: ${verdict(failures === 0)}\n`;
  for (const p of phases) for (const [message, n] of Object.entries(p.result.errors)) out += `  ${p.target}: ${n} × ${message}\n`;
  out += `direct's gap p99 over the pacing: ${fmt((direct.gap?.p99 ?? NaN) - OPT.gapMs)} ms; client CPU ${fmt(direct.cpuPct, 0)} % of a core (near 100: the client, not the target, sets the pace)\n`;
  out += `records: ${r.recorded} rows for ${r.sentToLoupe} streams sent to Loupe (${OPT.warmup} warm-up), ${r.recordedOk} of them 200, streamed, no error: ${verdict(allRecorded)}; the mock saw ${JSON.stringify(r.upstreamSeen)}; Loupe exited ${r.exitCode}\n`;
  if (!allRecorded) out += `  by status: ${JSON.stringify(r.rows)}\n`;
  return out;
}

await bench.run(main);
