/**
 * Soak bench (issue 17): a steady load for a long while, to see whether
 * Loupe's memory creeps up and whether every call is recorded.
 *
 *   bun bench/soak.ts                    # BENCH_SOAK_MIN=30 minutes (quiet machines)
 *   BENCH_SOAK_MIN=5 bun bench/soak.ts   # a shorter run
 *
 * One Loupe (BENCH_LOUPE=exe: dist/loupe, built first when missing; `bun`:
 * `bun main.ts serve`), records on, in front of bench/mock-upstream.ts
 * (streams paced BENCH_STREAM_GAP_MS, 20 ms, apart: a stream lasts ~150 ms).
 * This process sends BENCH_SOAK_RPS (200) calls a second on a fixed
 * schedule, whatever the answers' latency: alternately a non-streamed OpenAI
 * chat call and a streamed Anthropic Messages call, each read to its end.
 * Every BENCH_SOAK_SAMPLE_S (60) s it reads Loupe's RSS (and its split by
 * mapping: harness.ts memoryMap). At the end it stops sending, waits for the
 * calls in flight and for the records to be stored, stops Loupe (SIGTERM) and
 * counts the rows of its DuckDB file.
 *
 * Report: the RSS series, the least-squares slope of RSS over time in MB per
 * minute, over the samples under load from the first minute on (the first
 * minute holds the warm-up: JIT, caches, the first DuckDB blocks), and
 * records stored against calls made.
 */
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { BenchRun, BUN, backgroundCpu, envPairs, fmt, loupeSql, memoryMap, num, ROOT, statusKb, table, verdict, waitLoupeIdle, type MemoryMap } from "./harness.ts";

const LOUPE = process.env.BENCH_LOUPE ?? "exe";
const EXE = process.env.BENCH_EXE ?? join(ROOT, "dist", "loupe");
const MINUTES = num("BENCH_SOAK_MIN", 30);
const RPS = num("BENCH_SOAK_RPS", 200);
const SAMPLE_S = num("BENCH_SOAK_SAMPLE_S", 60);
const GAP_MS = num("BENCH_STREAM_GAP_MS", 20);

const OPENAI = { "content-type": "application/json", authorization: "Bearer sk-bench-0000000000000000", "user-agent": "loupe-bench/1" };
const ANTHROPIC = { "content-type": "application/json", "x-api-key": "sk-ant-bench-0000000000", "anthropic-version": "2023-06-01", "user-agent": "loupe-bench/1" };
const CHAT_BODY = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello." }] });
const STREAM_BODY = JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 1024, stream: true, messages: [{ role: "user", content: "Say hello." }] });
const loadAverage = () => loadavg().map((l) => l.toFixed(2)).join(" ");

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? NaN : sxy / sxx;
}

interface Sample {
  minute: number;
  /** Taken under load (the last one is taken once the load stopped and the records are stored). */
  loaded: boolean;
  map: MemoryMap;
  peak: number;
  sent: number;
  ok: number;
  failed: number;
  inflight: number;
  /** Records Loupe has yet to store (/livez). */
  queued: number;
}

async function main(run: BenchRun) {
  if (LOUPE === "exe" && !existsSync(EXE)) {
    run.log(`${EXE} missing: building it`);
    if (Bun.spawnSync([BUN, join(ROOT, "scripts", "build.ts")], { cwd: ROOT, stdout: "inherit", stderr: "inherit" }).exitCode !== 0) throw new Error("build failed");
  }
  run.log(`load average ${loadAverage()}; ${MINUTES} min at ${RPS} calls/s`);
  const background = await backgroundCpu(run.log);
  const { url: mockUrl } = await run.startMock(GAP_MS);
  const db = join(run.dir, "loupe.duckdb");
  const command = LOUPE === "exe" ? [EXE] : [BUN, join(ROOT, "main.ts")];
  const env = { LOUPE_OPENAI_BASE_URL: mockUrl, LOUPE_ANTHROPIC_BASE_URL: mockUrl, XDG_CACHE_HOME: join(run.dir, "cache"), ...envPairs("BENCH_LOUPE_ENV") };
  // The first start of an executable unpacks libduckdb.so into the cache folder: start once, stop, and soak the second.
  if (LOUPE === "exe") await run.stop((await run.startLoupe("loupe-first", join(run.dir, "first.duckdb"), env, [], "", command)).child, 15_000);
  const loupe = await run.startLoupe("loupe", db, env, [], "", command);
  const { pid } = loupe;

  let sent = 0;
  let ok = 0;
  let failed = 0;
  let inflight = 0;
  const failures = new Map<string, number>();
  const call = async (streamed: boolean) => {
    sent++;
    inflight++;
    try {
      const response = await fetch(streamed ? `${loupe.url}/anthropic/v1/messages` : `${loupe.url}/openai/v1/chat/completions`, {
        method: "POST",
        headers: streamed ? ANTHROPIC : OPENAI,
        body: streamed ? STREAM_BODY : CHAT_BODY,
      });
      await response.arrayBuffer();
      if (response.status === 200) ok++;
      else {
        failed++;
        failures.set(`HTTP ${response.status}`, (failures.get(`HTTP ${response.status}`) ?? 0) + 1);
      }
    } catch (error) {
      failed++;
      const key = (error as Error).message.slice(0, 80);
      failures.set(key, (failures.get(key) ?? 0) + 1);
    } finally {
      inflight--;
    }
  };

  const samples: Sample[] = [];
  const started = performance.now();
  const sample = async (loaded = true) => {
    const live = await fetch(`${loupe.url}/livez`).then((r) => r.json() as Promise<{ records?: { queued?: number } }>, () => undefined);
    samples.push({ minute: (performance.now() - started) / 60_000, loaded, map: memoryMap(pid), peak: statusKb(pid, "VmHWM") / 1024, sent, ok, failed, inflight, queued: live?.records?.queued ?? NaN });
    const s = samples.at(-1)!;
    run.log(`${fmt(s.minute, 1)} min: RSS ${fmt(s.map.total, 1)} MB (anon ${fmt(s.map.anon, 1)}), ${s.sent} sent, ${s.inflight} in flight, ${s.queued} queued; load average ${loadAverage()}`);
  };
  await sample();
  // A fixed schedule: every tick sends the calls that are due by now, so a slow answer never slows the rate.
  const endAt = started + MINUTES * 60_000;
  let nextSample = started + SAMPLE_S * 1000;
  let due = 0;
  while (performance.now() < endAt) {
    const now = performance.now();
    const target = Math.floor(((now - started) / 1000) * RPS);
    for (; due < target; due++) void call(due % 2 === 1);
    if (now >= nextSample) {
      nextSample += SAMPLE_S * 1000;
      await sample();
    }
    await Bun.sleep(5);
  }
  const sendSeconds = (performance.now() - started) / 1000;
  while (inflight > 0) await Bun.sleep(20);
  await waitLoupeIdle(loupe.url, 120_000);
  await sample(false);
  await run.stop(loupe.child, 60_000);
  const stored = Number(loupeSql(db, "select count(*)::int as n from requests")[0]?.n ?? 0);

  const points = samples.filter((s) => s.loaded && s.minute >= 1 - 1e-9).map((s) => ({ x: s.minute, y: s.map.total }));
  const mbPerMin = slope(points);
  const out: string[] = [];
  out.push(`Soak: ${MINUTES} min at ${RPS} calls/s (half non-streamed OpenAI chat, half streamed Anthropic Messages); ${LOUPE === "exe" ? EXE : "bun main.ts serve"}, bun ${Bun.version}`);
  out.push(`load average ${loadAverage()} at the end; background CPU before the run: core0 ${fmt(background.core0, 0)} %, core1 ${fmt(background.core1, 0)} %\n`);
  out.push(
    table(
      ["minute", "RSS MB", "anon", "program file", "libduckdb", "journal", "peak so far", "calls sent", "in flight", "records queued"],
      samples.map((s) => [`${fmt(s.minute, 1)}${s.loaded ? "" : " (load over, stored)"}`, fmt(s.map.total, 1), fmt(s.map.anon, 1), fmt(s.map.program, 1), fmt(s.map.duckdb, 1), fmt(s.map.journal, 1), fmt(s.peak, 1), String(s.sent), String(s.inflight), String(s.queued)]),
    ),
  );
  out.push(`RSS slope under load from minute 1 on (least squares over ${points.length} samples): ${fmt(mbPerMin, 3)} MB/min (${fmt(mbPerMin * 60, 1)} MB/h)`);
  out.push(`calls: ${sent} sent in ${fmt(sendSeconds, 0)} s (${fmt(sent / sendSeconds, 1)}/s), ${ok} answered 200, ${failed} failed${failures.size ? ` (${[...failures].map(([k, v]) => `${k}: ${v}`).join("; ")})` : ""}`);
  out.push(`records: ${stored} stored for ${sent} calls made: ${verdict(stored === sent)}`);
  console.log(out.join("\n"));
  run.saveResults("soak", { loupe: LOUPE, minutes: MINUTES, rps: RPS, loadAverage: loadavg(), background, samples, mbPerMin, sent, ok, failed, stored });
}

const run = new BenchRun("soak", "loupe-soak-");
await run.run(() => main(run));
