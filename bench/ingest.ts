#!/usr/bin/env bun
/**
 * Ingest bench (issue 17: "ingest ≥ 50k records/s into DuckDB with no
 * request-path stall: p99 unchanged while a backlog drains").
 * `bun bench/ingest.ts`; see bench/README.md, "Ingest bench".
 *
 * One Loupe (`bun main.ts serve`, records on, storage at its default
 * background priority) in front of bench/mock-upstream.ts, cores as in the
 * other benches. Phases:
 * 1. **burst**: autocannon, 50 connections, non-streamed OpenAI chat calls for
 *    BENCH_INGEST_BURST_S (10) s. The recording worker barely runs meanwhile:
 *    the calls wait in the journal, a backlog.
 * 2. **drain**: at once, bench/seq-client.ts sends one call at a time (in
 *    processes of 1 s each, so it stops soon after the backlog is stored)
 *    while /livez is polled every BENCH_INGEST_POLL_MS (50): the backlog is
 *    stored when `records.stored` reaches the calls made so far.
 * 3. **after**: Loupe idle, the same client (and polling) for as long again: the baseline.
 * Then Loupe is stopped and its rows counted against the calls made.
 */
import { join } from "node:path";
import type { SeqJob, SeqTargetResult } from "./seq-client.ts";
import { summarize, type Summary } from "./timing.ts";
import { autocannon, BenchRun, backgroundCpu, canPin, CLK_TCK, threadTicks, envPairs, fmt, livezOf, loupeSql, num, runClient, table, verdict, waitLoupeIdle } from "./harness.ts";

const OPT = {
  burstS: num("BENCH_INGEST_BURST_S", 10),
  connections: num("BENCH_CONNECTIONS", 50),
  pollMs: Math.max(10, num("BENCH_INGEST_POLL_MS", 50)),
  /** Each client process measures this long, then the next starts if the backlog is still draining. */
  clientMs: Math.max(100, num("BENCH_INGEST_CLIENT_MS", 1000)),
  /** Warm-up calls at the start of each client process (sent and recorded, not measured). */
  clientWarmup: num("BENCH_INGEST_CLIENT_WARMUP", 20),
  timeoutS: num("BENCH_INGEST_TIMEOUT_S", 300),
};
/** The criteria: see bench/README.md, "Ingest bench". */
const RATE_TARGET = 50_000;
const P99_SLACK = { ratio: 0.1, ms: 0.1 };
const LOUPE_EXTRA_ENV = envPairs("BENCH_LOUPE_ENV");

const bench = new BenchRun("ingest", "loupe-ingest-");
const log = bench.log;

const OPENAI_HEADERS = { authorization: "Bearer sk-bench-0000000000000000", "user-agent": "loupe-bench/1" };
const CHAT_BODY = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello." }] });
/** Wall-clock ms, comparable with seq-client.ts's raw call starts (performance.timeOrigin + now in both processes). */
const epochMs = () => performance.timeOrigin + performance.now();

interface LivezSample {
  /** ms since the burst ended. */
  t: number;
  written: number;
  stored: number;
  queued: number;
}

/** The one-call-at-a-time client against Loupe, in processes of OPT.clientMs, while `going()`. */
async function sequentialWhile(url: string, going: () => boolean) {
  const calls: number[][] = [];
  let sent = 0;
  let bad = 0;
  let firstError: string | undefined;
  do {
    const job: SeqJob = {
      mode: "json",
      targets: [{ name: "loupe", url, headers: { ...OPENAI_HEADERS, "x-bench-target": "loupe" } }],
      body: CHAT_BODY,
      samples: 1_000_000,
      warmup: OPT.clientWarmup,
      block: 1_000_000,
      maxMs: OPT.clientMs,
      raw: true,
    };
    const r = (await runClient<Record<string, SeqTargetResult>>("seq-client.ts", job)).loupe!;
    calls.push(...(r.raw ?? []));
    sent += r.sent;
    bad += r.bad;
    firstError ??= r.firstError;
  } while (going());
  return { calls, sent, bad, firstError };
}

/** Polls /livez every OPT.pollMs while `going(sample)`; returns the samples. */
async function pollLivez(url: string, since: number, going: (s: LivezSample) => boolean): Promise<LivezSample[]> {
  const samples: LivezSample[] = [];
  for (;;) {
    const records = (await livezOf(url))?.records;
    if (!records) throw new Error("/livez did not answer");
    const s = { t: epochMs() - since, written: records.written, stored: records.stored + records.lost, queued: records.queued };
    samples.push(s);
    if (!going(s)) return samples;
    await Bun.sleep(OPT.pollMs);
  }
}

async function main() {
  if (!canPin) log("WARNING: not pinning (taskset unavailable, fewer than 2 cores, or BENCH_NO_PIN=1): numbers are noisier");
  log(`options ${JSON.stringify(OPT)}`);
  const background = await backgroundCpu(log);
  const { url: mockUrl } = await bench.startMock(5);
  const db = join(bench.dir, "ingest.duckdb");
  const loupe = await bench.startLoupe("loupe", db, { LOUPE_OPENAI_BASE_URL: mockUrl, ...LOUPE_EXTRA_ENV });
  log(`mock ${mockUrl}, loupe ${loupe.url} (pid ${loupe.pid}), dir ${bench.dir}`);
  const chatUrl = `${loupe.url}/openai/v1/chat/completions`;

  // 1. The burst.
  const burst = await autocannon({
    url: chatUrl,
    headers: { "content-type": "application/json", "x-bench-target": "loupe", ...OPENAI_HEADERS },
    body: CHAT_BODY,
    connections: OPT.connections,
    seconds: OPT.burstS,
    pid: loupe.pid,
  });
  const burstEnd = epochMs();
  // Every call the burst sent (those autocannon cut at its end too: recorded as 499) is in the backlog to store.
  const target = burst.sent;
  log(`burst: ${burst.sent} calls sent, ${fmt(burst.rps, 0)} req/s; storing until records.stored reaches ${target}`);

  // 2. The drain: the client runs while the poller has not seen the backlog stored.
  let drainedAt: number | undefined;
  const deadline = burstEnd + OPT.timeoutS * 1000;
  // CPU by thread over the drain: where storing a record goes (the recording worker, DuckDB's threads, the thread pool).
  const ticksBefore = threadTicks(loupe.pid);
  const [series, during] = await Promise.all([
    pollLivez(loupe.url, burstEnd, (s) => {
      if (s.stored >= target) drainedAt = burstEnd + s.t;
      else if (epochMs() > deadline) drainedAt = epochMs();
      return drainedAt === undefined;
    }),
    sequentialWhile(chatUrl, () => drainedAt === undefined),
  ]);
  if (series[series.length - 1]!.stored < target) throw new Error(`the backlog was not stored within ${OPT.timeoutS} s: ${JSON.stringify(series.at(-1))}`);
  const drainMs = drainedAt! - burstEnd;
  const ticksAfter = threadTicks(loupe.pid);
  const atBurstEnd = series[0]!;
  const backlog = target - atBurstEnd.stored;
  // Records stored per second: the backlog and the sequential calls' own records stored meanwhile.
  const rate = (series[series.length - 1]!.stored - atBurstEnd.stored) / (drainMs / 1000);
  const duringCalls = during.calls.filter(([start]) => start! < drainedAt!);
  log(`drain: ${backlog} records in ${fmt(drainMs, 0)} ms (${fmt(rate, 0)}/s); ${duringCalls.length} sequential calls during it`);
  const storedInDrain = series[series.length - 1]!.stored - atBurstEnd.stored;
  const drainCpu = [...ticksAfter]
    .map(([name, ticks]) => ({ name, usPerRecord: (((ticks - (ticksBefore.get(name) ?? 0)) / CLK_TCK) * 1e6) / storedInDrain }))
    .filter((t) => t.usPerRecord >= 0.5)
    .sort((a, b) => b.usPerRecord - a.usPerRecord);

  // 3. The baseline: idle Loupe, as long again (the client's last process may have run past the drain).
  await waitLoupeIdle(loupe.url, 60_000);
  const afterStart = epochMs();
  const afterMs = Math.max(drainMs, OPT.clientMs);
  let afterDone = false;
  const [afterSeries, after] = await Promise.all([
    pollLivez(loupe.url, afterStart, () => !afterDone),
    sequentialWhile(chatUrl, () => epochMs() - afterStart < afterMs).finally(() => (afterDone = true)),
  ]);

  // 4. The records.
  await waitLoupeIdle(loupe.url, 60_000);
  const exitCode = await bench.stop(loupe.child, 60_000);
  const rows = loupeSql(db, "select status, coalesce(error_type, '') as error_type, count(*)::int as n from requests group by all order by n desc");
  const recorded = rows.reduce((n, r) => n + Number(r.n), 0);
  const made = burst.sent + during.sent + after.sent;

  const latency = (calls: number[][]): Summary => summarize(calls.map(([, ms]) => ms!));
  const d = latency(duringCalls);
  const a = latency(after.calls);
  const r = { burst, target, atBurstEnd, backlog, drainMs, rate, drainCpu, during: d, after: a, duringSent: during.sent, afterSent: after.sent, bad: during.bad + after.bad, recorded, made, rows, exitCode };
  console.log(report(r, background, during.firstError ?? after.firstError));
  bench.saveResults("ingest", { options: OPT, pinned: canPin, background, ...r, series, afterSeries });
}

function report(
  r: { burst: { sent: number; ok: number; rps: number; latP99: number }; backlog: number; atBurstEnd: LivezSample; drainMs: number; rate: number; drainCpu: { name: string; usPerRecord: number }[]; during: Summary; after: Summary; duringSent: number; afterSent: number; bad: number; recorded: number; made: number; rows: Record<string, unknown>[]; exitCode: number },
  background: { core0: number; core1: number },
  firstError: string | undefined,
): string {
  let out = `\nIngest: a ${OPT.burstS} s burst at ${OPT.connections} connections, then its backlog stored while one call at a time goes through (bun ${Bun.version})\n`;
  out += `background CPU before the run: core0 ${fmt(background.core0, 0)} %, core1 ${fmt(background.core1, 0)} %\n\n`;
  out += `burst: ${r.burst.sent} calls sent, ${r.burst.ok} answered 200, ${fmt(r.burst.rps, 0)} req/s; at its end /livez had ${r.atBurstEnd.stored} stored, ${r.atBurstEnd.queued} queued\n`;
  out += `backlog: ${r.backlog} records stored in ${fmt(r.drainMs, 0)} ms after the burst (polled every ${OPT.pollMs} ms)\n`;
  out += `ingest rate: ${fmt(r.rate, 0)} records/s stored meanwhile (the sequential calls' too) (target ≥ ${RATE_TARGET.toLocaleString("en")}): ${verdict(r.rate >= RATE_TARGET)}\n`;
  const total = r.drainCpu.reduce((sum, t) => sum + t.usPerRecord, 0);
  out += `CPU per record stored during the drain, by thread (sequential calls' CPU included): ${r.drainCpu.map((t) => `${t.name} ${fmt(t.usPerRecord, 1)}`).join(", ")}; all ${fmt(total, 1)} µs (one core's worth: ${fmt(1e6 / total, 0)} records/s)\n\n`;
  out += table(
    ["sequential calls", "n", "p50", "p90", "p99", "max"],
    [
      ["while the backlog drains", r.during],
      ["after (Loupe idle)", r.after],
    ].map(([name, s]) => {
      const x = s as Summary;
      return [name as string, String(x.n), fmt(x.p50), fmt(x.p90), fmt(x.p99), fmt(x.max)];
    }),
  );
  const slack = Math.max(P99_SLACK.ratio * r.after.p99, P99_SLACK.ms);
  const added = r.during.p99 - r.after.p99;
  out += `ms, request start to the whole body read (990 B OpenAI chat answer)\n`;
  out += `p99 while draining − after: ${added >= 0 ? "+" : ""}${fmt(added)} ms (target ≤ +${fmt(slack)} ms: 10 % of after's p99 or 0.1 ms, the larger): ${verdict(added <= slack)}\n`;
  out += `p50 while draining − after: ${fmt(r.during.p50 - r.after.p50)} ms\n`;
  if (r.bad) out += `failed sequential calls: ${r.bad}, first: ${firstError}\n`;
  const all = r.recorded === r.made;
  out += `\nrecords: ${r.recorded} rows for ${r.made} calls made (burst ${r.burst.sent}, those autocannon cut at its end included; sequential ${r.duringSent} + ${r.afterSent} incl. warm-up): ${verdict(all)}; Loupe exited ${r.exitCode}\n`;
  out += `  by status: ${r.rows.map((row) => `${row.status}${row.error_type ? ` ${row.error_type}` : ""}: ${row.n}`).join(", ")}\n`;
  return out;
}

await bench.run(main);
