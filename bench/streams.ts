#!/usr/bin/env bun
/**
 * Stream time-to-first-byte and the gaps between chunks, through Loupe, through
 * a bare pass-through proxy and straight to the upstream, for three framings:
 * Anthropic SSE, Ollama NDJSON and the Bedrock binary event stream.
 * `bun bench/streams.ts` (about a minute). See bench/README.md, "Streams bench".
 *
 * Layout (all loopback): the proxy under test (bare, Loupe) is pinned to core 0;
 * the mock upstream and the client share core 1.
 */
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { EVENTSTREAM_CHUNKS, NDJSON_CHUNKS, SSE_CHUNKS } from "./mock-upstream.ts";
import type { StreamCase, StreamCaseResult, StreamJob } from "./stream-client.ts";
import { BenchRun, backgroundCpu, canPin, coreBusyPct, coreStealPct, coreTimes, envPairs, fetchJson, fmt, loupeSql, num, runClient, table, waitLoupeIdle } from "./harness.ts";

const OPT = {
  samples: Math.max(1, num("BENCH_STREAM_SAMPLES", 300)),
  warmup: num("BENCH_STREAM_WARMUP", 50),
  block: Math.max(1, num("BENCH_STREAM_BLOCK", 25)),
  gapMs: num("BENCH_STREAM_GAP_MS", 1),
};
const TARGET_MS = 1;
/** Keep every stream's timings in the results file (bench/results/streams-*.json), not only the percentiles. */
const RAW = process.env.BENCH_RAW === "1";
/** Extra environment for Loupe (space-separated K=V), for experiments: e.g. LOUPE_FLUSH_INTERVAL_MS=60000. */
const LOUPE_EXTRA_ENV = envPairs("BENCH_LOUPE_ENV");
const bench = new BenchRun("streams", "loupe-streams-");
const log = bench.log;

// ── the three framings ───────────────────────────────────────────────────────
type TargetName = "direct" | "bare" | "loupe";
const TARGETS: TargetName[] = ["direct", "bare", "loupe"];

interface Framing {
  id: "anthropic" | "ollama" | "bedrock";
  title: string;
  /** The path at the upstream (direct and bare); Loupe's is `/<provider><path>`. */
  path: string;
  headers: Record<string, string>;
  body: string;
  chunks: Uint8Array[];
  /** `provider` in Loupe's records. */
  provider: string;
}

const BEDROCK_MODEL = "us.amazon.nova-lite-v1:0";
const FRAMINGS: Framing[] = [
  {
    id: "anthropic",
    title: "Anthropic SSE (text/event-stream), POST /anthropic/v1/messages",
    path: "/v1/messages",
    headers: { "x-api-key": "sk-ant-bench-0000000000", "anthropic-version": "2023-06-01", "user-agent": "loupe-bench/1" },
    body: JSON.stringify({
      model: "claude-sonnet-4-5-20250929",
      max_tokens: 1024,
      stream: true,
      system: [{ type: "text", text: "Summarise documents faithfully.", cache_control: { type: "ephemeral" } }],
      messages: [{ role: "user", content: "Summarise the cached document in one sentence." }],
    }),
    chunks: SSE_CHUNKS,
    provider: "anthropic",
  },
  {
    id: "ollama",
    title: "Ollama NDJSON (application/x-ndjson), POST /ollama/api/chat",
    path: "/api/chat",
    headers: { "user-agent": "loupe-bench/1" },
    body: JSON.stringify({ model: "llama3.2", messages: [{ role: "user", content: "why is the sky blue?" }], stream: true }),
    chunks: NDJSON_CHUNKS,
    provider: "ollama",
  },
  {
    id: "bedrock",
    title: `Bedrock event stream (application/vnd.amazon.eventstream), POST /bedrock/model/${encodeURIComponent(BEDROCK_MODEL)}/converse-stream`,
    path: `/model/${encodeURIComponent(BEDROCK_MODEL)}/converse-stream`,
    // A Bedrock API key: forwarded as is, no SigV4 (src/providers/bedrock/sigv4.ts).
    headers: { authorization: "Bearer x", "user-agent": "loupe-bench/1" },
    body: JSON.stringify({ messages: [{ role: "user", content: [{ text: "Hello" }] }], inferenceConfig: { maxTokens: 512 } }),
    chunks: EVENTSTREAM_CHUNKS,
    provider: "bedrock",
  },
];

// The event stream is cut at its messages' length prefixes: each piece must be one whole message.
{
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const types = EVENTSTREAM_CHUNKS.map((m) => {
    const decoded = codec.decode(m); // checks both CRCs and the lengths
    return decoded.headers[":event-type"]?.value;
  });
  if (types.some((t) => typeof t !== "string")) throw new Error(`event stream: a message without :event-type (${types.join(", ")})`);
}

// ── main ─────────────────────────────────────────────────────────────────────
const caseName = (f: Framing, t: TargetName) => `${f.id}/${t}`;
/** Streams sent to Loupe, by provider (sanity, warm-up and measured). */
const sentToLoupe: Record<string, number> = {};

interface Records {
  exitCode: number;
  rows: Record<string, unknown>[];
}

async function streamClient(cases: StreamCase[], job: Omit<StreamJob, "cases">): Promise<Record<string, StreamCaseResult>> {
  const result = await runClient<Record<string, StreamCaseResult>>("stream-client.ts", { cases, ...job } satisfies StreamJob);
  for (const f of FRAMINGS) sentToLoupe[f.provider] = (sentToLoupe[f.provider] ?? 0) + (result[caseName(f, "loupe")]?.sent ?? 0);
  return result;
}

async function main() {
  const started = performance.now();
  if (!canPin) log("WARNING: not pinning (taskset unavailable, fewer than 2 cores, or BENCH_NO_PIN=1): numbers are noisier");
  log(`options ${JSON.stringify(OPT)}; chunks per stream: ${FRAMINGS.map((f) => `${f.id} ${f.chunks.length}`).join(", ")}`);

  const background = await backgroundCpu(log);
  const { child: mock, url: mockUrl } = await bench.startMock(OPT.gapMs);
  const { child: bare, url: bareUrl } = await bench.startBare(mockUrl);

  const db = join(bench.dir, "streams.duckdb");
  const loupe = await bench.startLoupe("loupe", db, {
    LOUPE_ANTHROPIC_BASE_URL: mockUrl,
    LOUPE_OLLAMA_BASE_URL: mockUrl,
    LOUPE_BEDROCK_BASE_URL: mockUrl,
    ...LOUPE_EXTRA_ENV,
  });
  log(`mock ${mockUrl} (pid ${mock.proc.pid}), bare ${bareUrl} (pid ${bare.proc.pid}), loupe ${loupe.url} (pid ${loupe.pid}), dir ${bench.dir}`);

  const base: Record<TargetName, string> = { direct: mockUrl, bare: bareUrl, loupe: loupe.url };
  const cases: StreamCase[] = FRAMINGS.flatMap((f) =>
    TARGETS.map((t) => ({
      name: caseName(f, t),
      // bare forwards the path as it is: it gets the upstream's path, like direct.
      url: `${base[t]}${t === "loupe" ? `/${f.provider}` : ""}${f.path}`,
      headers: { ...f.headers, "x-bench-target": `${t}/${f.id}` },
      body: f.body,
      chunkSizes: f.chunks.map((c) => c.byteLength),
    })),
  );

  // Sanity: 3 streams per case, each body compared byte for byte with what the mock sends.
  const expectBodies = Object.fromEntries(
    FRAMINGS.flatMap((f) => TARGETS.map((t) => [caseName(f, t), Buffer.concat(f.chunks).toString("base64")] as const)),
  );
  const sanity = await streamClient(cases, { samples: 3, warmup: 0, block: 3, expectBodies });
  for (const c of cases) if (sanity[c.name]?.ok !== 3) throw new Error(`${c.name} does not stream right: ${sanity[c.name]?.firstError}`);

  log(`measuring: ${OPT.samples} streams per framing × target after ${OPT.warmup} warm-up each, blocks of ${OPT.block} rotating over ${cases.length} cases`);
  const run0 = coreTimes();
  const res = await streamClient(cases, { samples: OPT.samples, warmup: OPT.warmup, block: OPT.block, raw: RAW });
  const run1 = coreTimes();
  const during = {
    core0: coreBusyPct(run0, run1, "cpu0"),
    core1: coreBusyPct(run0, run1, "cpu1"),
    steal0: coreStealPct(run0, run1, "cpu0"),
    steal1: coreStealPct(run0, run1, "cpu1"),
  };
  for (const c of cases) if (res[c.name]?.bad) log(`WARNING ${c.name}: ${res[c.name]!.bad} bad stream(s), first: ${res[c.name]!.firstError}`);

  // Records: let Loupe store what is queued, stop it, count its rows.
  const livez = await waitLoupeIdle(loupe.url, LOUPE_EXTRA_ENV.LOUPE_FLUSH_INTERVAL_MS ? 0 : 15_000);
  const upstreamSeen = await fetchJson<Record<string, number>>(`${mockUrl}/_stats`);
  const exitCode = await bench.stop(loupe.child, 60_000);
  const rows = loupeSql(
    db,
    `select provider, count(*)::int as n, count(*) filter (where status = 200 and error_type is null)::int as ok,
            count(*) filter (where streamed)::int as streamed,
            count(*) filter (where input_tokens is not null and output_tokens is not null)::int as with_usage,
            string_agg(distinct coalesce(error_type, '-'), ',') as errors,
            round(median(ttfb_ms), 3) as ttfb_ms_p50
     from requests group by all order by all`,
  );
  const records: Records = { exitCode, rows };

  const totalS = (performance.now() - started) / 1000;
  const report = render({ res, records, upstreamSeen, background, during, livez, totalS });
  process.stdout.write(report);

  bench.saveResults("streams", { options: OPT, pinned: canPin, background, during, results: res, sentToLoupe, records, upstreamSeen });
}

// ── report ───────────────────────────────────────────────────────────────────
const signed = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(3)}` : "—");
const verdict = (v: number) => (!Number.isFinite(v) ? "—" : v <= TARGET_MS ? "PASS" : "MISS");

function render(r: {
  res: Record<string, StreamCaseResult>;
  records: Records;
  upstreamSeen: Record<string, number>;
  background: { core0: number; core1: number };
  during: { core0: number; core1: number; steal0: number; steal1: number };
  livez: any;
  totalS: number;
}): string {
  let out = "\n";
  out += `Loupe streams bench — bun ${Bun.version}, ${availableParallelism()} cores, ${canPin ? "proxy (bare, Loupe) pinned to core 0, mock + client on core 1" : "NOT pinned"}\n`;
  out += `background CPU before the run (other processes): core0 ${fmt(r.background.core0, 0)}%, core1 ${fmt(r.background.core1, 0)}%\n`;
  if (Object.keys(LOUPE_EXTRA_ENV).length) out += `BENCH_LOUPE_ENV: ${Object.entries(LOUPE_EXTRA_ENV).map(([k, v]) => `${k}=${v}`).join(" ")}\n`;
  out += `during the measured streams: core0 ${fmt(r.during.core0, 0)}% busy, core1 ${fmt(r.during.core1, 0)}%; steal (the hypervisor running others) core0 ${fmt(r.during.steal0, 1)}%, core1 ${fmt(r.during.steal1, 1)}%\n`;
  out += `(${OPT.samples} streams per framing × target, one at a time, after ${OPT.warmup} warm-up; blocks of ${OPT.block} rotating over the 9 cases; the mock sends a chunk at once, then one every ${OPT.gapMs} ms; took ${r.totalS.toFixed(0)}s)\n`;
  out += `(ms. headers = request start → response headers; TTFB = → first body byte; gap = between consecutive upstream chunks at the client;
 1st of block = TTFB of the first stream of each block, after the proxy's core served other cases or sat idle)\n\n`;

  const summary: string[] = [];
  for (const f of FRAMINGS) {
    const R = (t: TargetName) => r.res[caseName(f, t)];
    out += `${f.title}: ${f.chunks.length} chunks (${f.chunks.reduce((a, c) => a + c.byteLength, 0)} B), ${f.chunks.length - 1} gap(s) per stream\n`;
    out += table(
      ["target", "n", "headers p50", "TTFB p50", "TTFB p99", "gap p50", "gap p99", "total p50", "total p99", "reads/stream", "bad", "TTFB p50, 1st of block"],
      TARGETS.map((t) => {
        const x = R(t);
        return [t, String(x?.ttfb?.n ?? 0), fmt(x?.headers?.p50), fmt(x?.ttfb?.p50), fmt(x?.ttfb?.p99), fmt(x?.gap?.p50), fmt(x?.gap?.p99), fmt(x?.total?.p50), fmt(x?.total?.p99), fmt(x?.readsPerStream, 2), String(x?.bad ?? 0), `${fmt(x?.ttfbFirstInBlock?.p50)} (n=${x?.ttfbFirstInBlock?.n ?? 0})`];
      }),
    );
    const d = (t: TargetName, k: "ttfb" | "gap", p: "p50" | "p99") => (R("loupe")?.[k]?.[p] ?? NaN) - (R(t)?.[k]?.[p] ?? NaN);
    out += `  added TTFB p50: Loupe − direct ${signed(d("direct", "ttfb", "p50"))} ms (≤ 1 ms: ${verdict(d("direct", "ttfb", "p50"))});  Loupe − bare ${signed(d("bare", "ttfb", "p50"))} ms (${verdict(d("bare", "ttfb", "p50"))})\n`;
    out += `  added TTFB p99: Loupe − direct ${signed(d("direct", "ttfb", "p99"))} ms (≤ 1 ms: ${verdict(d("direct", "ttfb", "p99"))});  Loupe − bare ${signed(d("bare", "ttfb", "p99"))} ms (${verdict(d("bare", "ttfb", "p99"))})\n`;
    out += `  added gap: p50 Loupe − direct ${signed(d("direct", "gap", "p50"))} ms, Loupe − bare ${signed(d("bare", "gap", "p50"))} ms;  p99 Loupe − direct ${signed(d("direct", "gap", "p99"))} ms, Loupe − bare ${signed(d("bare", "gap", "p99"))} ms\n`;
    const regrouped = TARGETS.map((t) => [t, R(t)?.regrouped ?? 0] as const).filter(([, n]) => n > 0);
    if (regrouped.length) out += `  (streams whose chunks arrived merged or split: ${regrouped.map(([t, n]) => `${t} ${n}`).join(", ")})\n`;
    out += "\n";
    summary.push(`${f.id.padEnd(9)} TTFB p50 ${signed(d("direct", "ttfb", "p50"))} ms ${verdict(d("direct", "ttfb", "p50"))}, p99 ${signed(d("direct", "ttfb", "p99"))} ms ${verdict(d("direct", "ttfb", "p99"))}`);
  }
  out += `Summary, Loupe − direct (target: TTFB within ${TARGET_MS} ms of direct)\n${summary.map((s) => `  ${s}\n`).join("")}\n`;

  out += `Records (Loupe stopped with SIGTERM, exit code ${r.records.exitCode}; rows counted with \`loupe sql --json\`)\n`;
  const rows = new Map(r.records.rows.map((row) => [String(row.provider), row]));
  out += table(
    ["provider", "streams sent", "upstream saw", "rows", "200, no error", "streamed", "with usage", "errors", "ttfb_ms p50", "verdict"],
    FRAMINGS.map((f) => {
      const row = rows.get(f.provider);
      const sent = sentToLoupe[f.provider] ?? 0;
      const n = Number(row?.n ?? 0);
      const all = (v: unknown) => Number(v ?? 0) === sent;
      const ok = all(row?.n) && all(row?.ok) && all(row?.streamed) && all(row?.with_usage);
      return [f.provider, String(sent), String(r.upstreamSeen[`loupe/${f.id}`] ?? 0), String(n), String(row?.ok ?? 0), String(row?.streamed ?? 0), String(row?.with_usage ?? 0), String(row?.errors ?? "—"), fmt(Number(row?.ttfb_ms_p50)), ok ? "PASS: every call, with usage" : "MISS"];
    }),
  );
  out += `  (ttfb_ms: Loupe's own record, its request start → the upstream's first byte)\n`;
  const others = r.records.rows.filter((row) => !FRAMINGS.some((f) => f.provider === row.provider));
  if (others.length) out += `  other rows: ${JSON.stringify(others)}\n`;
  if (r.livez?.internal_errors) out += `  Loupe internal errors (/livez): ${r.livez.internal_errors}\n`;
  return out + "\n";
}

await bench.run(main);
