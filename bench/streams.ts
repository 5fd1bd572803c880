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
import type { Subprocess } from "bun";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { EVENTSTREAM_CHUNKS, NDJSON_CHUNKS, SSE_CHUNKS } from "./mock-upstream.ts";
import type { StreamCase, StreamCaseResult, StreamJob } from "./stream-client.ts";
import { START_ENVIRONMENT } from "../src/runtime/fetch-concurrency.ts";

const ROOT = join(import.meta.dir, "..");
const BUN = process.execPath;
const num = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number`);
  return v;
};
const OPT = {
  samples: Math.max(1, num("BENCH_STREAM_SAMPLES", 300)),
  warmup: num("BENCH_STREAM_WARMUP", 50),
  block: Math.max(1, num("BENCH_STREAM_BLOCK", 25)),
  gapMs: num("BENCH_STREAM_GAP_MS", 1),
};
const TARGET_MS = 1;
const KEEP = process.env.BENCH_KEEP === "1";
/** Keep every stream's timings in the results file (bench/results/streams-*.json), not only the percentiles. */
const RAW = process.env.BENCH_RAW === "1";
const LOUPE_MAIN = process.env.BENCH_LOUPE_MAIN ?? join(ROOT, "main.ts");
/** Extra environment for Loupe (space-separated K=V), for experiments: e.g. LOUPE_FLUSH_INTERVAL_MS=60000. */
const LOUPE_EXTRA_ENV: Record<string, string> = Object.fromEntries(
  (process.env.BENCH_LOUPE_ENV ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .map((kv) => {
      const eq = kv.indexOf("=");
      if (eq <= 0) throw new Error(`BENCH_LOUPE_ENV: "${kv}" is not K=V`);
      return [kv.slice(0, eq), kv.slice(eq + 1)];
    }),
);
const canPin = Bun.which("taskset") !== null && process.env.BENCH_NO_PIN !== "1" && availableParallelism() >= 2;
const pin = (core: number): string[] => (canPin ? ["taskset", "-c", String(core)] : []);
const log = (msg: string) => process.stderr.write(`[streams] ${msg}\n`);

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

// ── processes ────────────────────────────────────────────────────────────────
interface Child {
  name: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  firstLine: Promise<string>;
  stdout(): string;
  stderr(): string;
}

function spawn(name: string, cmd: string[], env: Record<string, string>): Child {
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
  firstLine.catch(() => {});
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

const baseEnv = (): Record<string, string> => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? tmpdir() });

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Per core, from /proc/stat: busy and total ticks, and steal (time the hypervisor gave this VM's core to others). */
function coreTimes(): Map<string, { busy: number; total: number; steal: number }> {
  const out = new Map<string, { busy: number; total: number; steal: number }>();
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^(cpu\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2]!.trim().split(/\s+/).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    out.set(m[1]!, { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total, steal: v[7] ?? 0 });
  }
  return out;
}
function coreBusyPct(before: ReturnType<typeof coreTimes>, after: ReturnType<typeof coreTimes>, core: string): number {
  const a = before.get(core);
  const b = after.get(core);
  if (!a || !b || b.total === a.total) return NaN;
  return (100 * (b.busy - a.busy)) / (b.total - a.total);
}
function coreStealPct(before: ReturnType<typeof coreTimes>, after: ReturnType<typeof coreTimes>, core: string): number {
  const a = before.get(core);
  const b = after.get(core);
  if (!a || !b || b.total === a.total) return NaN;
  return (100 * (b.steal - a.steal)) / (b.total - a.total);
}

// ── main ─────────────────────────────────────────────────────────────────────
const dir = mkdtempSync(join(tmpdir(), "loupe-streams-"));
const children: Child[] = [];
const stopped = new Set<string>();
const caseName = (f: Framing, t: TargetName) => `${f.id}/${t}`;
/** Streams sent to Loupe, by provider (sanity, warm-up and measured). */
const sentToLoupe: Record<string, number> = {};

interface Records {
  exitCode: number;
  rows: Record<string, unknown>[];
}

async function runClient(cases: StreamCase[], job: Omit<StreamJob, "cases">): Promise<Record<string, StreamCaseResult>> {
  const full: StreamJob = { cases, ...job };
  const client = spawn("stream-client", [...pin(1), BUN, join(import.meta.dir, "stream-client.ts"), JSON.stringify(full)], baseEnv());
  const code = await client.proc.exited;
  const text = client.stdout().trim();
  if (code !== 0 || !text.startsWith("{")) throw new Error(`stream-client failed (${code}):\n${client.stderr().slice(-2000)}`);
  const result = JSON.parse(text) as Record<string, StreamCaseResult>;
  for (const f of FRAMINGS) sentToLoupe[f.provider] = (sentToLoupe[f.provider] ?? 0) + (result[caseName(f, "loupe")]?.sent ?? 0);
  return result;
}

async function main() {
  const started = performance.now();
  if (!canPin) log("WARNING: not pinning (taskset unavailable, fewer than 2 cores, or BENCH_NO_PIN=1): numbers are noisier");
  log(`options ${JSON.stringify(OPT)}; chunks per stream: ${FRAMINGS.map((f) => `${f.id} ${f.chunks.length}`).join(", ")}`);

  const idle0 = coreTimes();
  await Bun.sleep(1000);
  const idle1 = coreTimes();
  const background = { core0: coreBusyPct(idle0, idle1, "cpu0"), core1: coreBusyPct(idle0, idle1, "cpu1") };
  if (background.core0 > 10 || background.core1 > 10)
    log(`WARNING: the machine is busy before the bench starts (core0 ${background.core0.toFixed(0)}%, core1 ${background.core1.toFixed(0)}%): expect noisy numbers`);

  const mock = spawn("mock", [...pin(1), BUN, join(import.meta.dir, "mock-upstream.ts")], { ...baseEnv(), BENCH_STREAM_GAP_MS: String(OPT.gapMs) });
  children.push(mock);
  const mockUrl = (JSON.parse(await withTimeout(mock.firstLine, 15_000, "mock start")) as { url: string }).url;

  const bare = spawn("bare", [...pin(0), BUN, join(import.meta.dir, "bare-proxy.ts")], { ...baseEnv(), UPSTREAM: mockUrl, PORT: "0" });
  children.push(bare);
  const bareUrl = (JSON.parse(await withTimeout(bare.firstLine, 15_000, "bare proxy start")) as { url: string }).url;

  const db = join(dir, "streams.duckdb");
  const loupe = spawn("loupe", [...pin(0), BUN, LOUPE_MAIN, "serve"], {
    ...baseEnv(),
    LOUPE_PORT: "0",
    LOUPE_DB: db,
    LOUPE_QUIET: "true",
    LOUPE_ANTHROPIC_BASE_URL: mockUrl,
    LOUPE_OLLAMA_BASE_URL: mockUrl,
    LOUPE_BEDROCK_BASE_URL: mockUrl,
    // As bench/proxy.ts: what Loupe would set by re-executing itself at start-up.
    ...START_ENVIRONMENT,
    ...(process.env.LOUPE_STORAGE_PRIORITY ? { LOUPE_STORAGE_PRIORITY: process.env.LOUPE_STORAGE_PRIORITY } : {}),
    ...LOUPE_EXTRA_ENV,
  });
  children.push(loupe);
  const discovery = `${db}.loupe.json`;
  const deadline = Date.now() + 30_000;
  while (!existsSync(discovery)) {
    if (loupe.proc.exitCode !== null || Date.now() > deadline) throw new Error(`loupe did not start (exit code ${loupe.proc.exitCode}):\n${loupe.stderr()}${loupe.stdout()}`);
    await Bun.sleep(20);
  }
  const loupeInfo = JSON.parse(readFileSync(discovery, "utf8")) as { pid: number; url: string };
  log(`mock ${mockUrl} (pid ${mock.proc.pid}), bare ${bareUrl} (pid ${bare.proc.pid}), loupe ${loupeInfo.url} (pid ${loupeInfo.pid}), dir ${dir}`);

  const base: Record<TargetName, string> = { direct: mockUrl, bare: bareUrl, loupe: loupeInfo.url };
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
  const sanity = await runClient(cases, { samples: 3, warmup: 0, block: 3, expectBodies });
  for (const c of cases) if (sanity[c.name]?.ok !== 3) throw new Error(`${c.name} does not stream right: ${sanity[c.name]?.firstError}`);

  log(`measuring: ${OPT.samples} streams per framing × target after ${OPT.warmup} warm-up each, blocks of ${OPT.block} rotating over ${cases.length} cases`);
  const run0 = coreTimes();
  const res = await runClient(cases, { samples: OPT.samples, warmup: OPT.warmup, block: OPT.block, raw: RAW });
  const run1 = coreTimes();
  const during = {
    core0: coreBusyPct(run0, run1, "cpu0"),
    core1: coreBusyPct(run0, run1, "cpu1"),
    steal0: coreStealPct(run0, run1, "cpu0"),
    steal1: coreStealPct(run0, run1, "cpu1"),
  };
  for (const c of cases) if (res[c.name]?.bad) log(`WARNING ${c.name}: ${res[c.name]!.bad} bad stream(s), first: ${res[c.name]!.firstError}`);

  // Records: let Loupe store what is queued, stop it, count its rows.
  const until = Date.now() + (LOUPE_EXTRA_ENV.LOUPE_FLUSH_INTERVAL_MS ? 0 : 15_000);
  let livez: any;
  while (Date.now() < until) {
    livez = await (await fetch(`${loupeInfo.url}/livez`)).json().catch(() => undefined);
    if (!livez || (livez.records?.queued ?? 0) === 0) break;
    await Bun.sleep(50);
  }
  const upstreamSeen = (await (await fetch(`${mockUrl}/_stats`)).json()) as Record<string, number>;
  loupe.proc.kill("SIGTERM");
  const exitCode = await withTimeout(loupe.proc.exited, 60_000, "loupe shutdown");
  stopped.add("loupe");
  const sql = Bun.spawnSync(
    [
      BUN,
      LOUPE_MAIN,
      "sql",
      "--json",
      `select provider, count(*)::int as n, count(*) filter (where status = 200 and error_type is null)::int as ok,
              count(*) filter (where streamed)::int as streamed,
              count(*) filter (where input_tokens is not null and output_tokens is not null)::int as with_usage,
              string_agg(distinct coalesce(error_type, '-'), ',') as errors,
              round(median(ttfb_ms), 3) as ttfb_ms_p50
       from requests group by all order by all`,
    ],
    { cwd: ROOT, env: { ...baseEnv(), LOUPE_DB: db } },
  );
  if (sql.exitCode !== 0) throw new Error(`loupe sql failed: ${sql.stderr.toString()}`);
  const records: Records = { exitCode, rows: JSON.parse(sql.stdout.toString()) };

  const totalS = (performance.now() - started) / 1000;
  const report = render({ res, records, upstreamSeen, background, during, livez, totalS });
  process.stdout.write(report);

  const resultsDir = join(import.meta.dir, "results");
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `streams-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify({ options: OPT, pinned: canPin, background, during, results: res, sentToLoupe, records, upstreamSeen }, null, 2));
  log(`raw results: ${file}`);
}

// ── report ───────────────────────────────────────────────────────────────────
const fmt = (v: number | undefined, digits = 3) => (v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits));
const signed = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(3)}` : "—");
const verdict = (v: number) => (!Number.isFinite(v) ? "—" : v <= TARGET_MS ? "PASS" : "MISS");
const table = (head: string[], rows: string[][]): string => {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => "  " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), "  " + widths.map((w) => "─".repeat(w)).join("  "), ...rows.map(line)].join("\n") + "\n";
};

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

async function cleanup() {
  for (const c of children) {
    if (c.proc.exitCode !== null || stopped.has(c.name)) continue;
    c.proc.kill("SIGTERM");
    await withTimeout(c.proc.exited, 10_000, `${c.name} exit`).catch(() => c.proc.kill("SIGKILL"));
  }
  if (!KEEP) rmSync(dir, { recursive: true, force: true });
  else log(`kept ${dir}`);
}

process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));
try {
  await main();
  await cleanup();
} catch (error) {
  log(`FAILED: ${(error as Error).stack ?? error}`);
  for (const c of children) if (c.stderr().trim()) log(`${c.name} stderr:\n${c.stderr().slice(-3000)}`);
  await cleanup();
  process.exit(1);
}
