/**
 * Many streams at once: `streams` identical streaming requests started
 * together against one URL, each timed like bench/stream-client.ts's (headers,
 * TTFB, the gaps between chunks, total) and its body compared with the
 * upstream's. Run by bench/slow-streams.ts as its own process, with
 * BUN_CONFIG_MAX_HTTP_REQUESTS above `streams` (Bun's fetch runs 256 at a
 * time otherwise): `bun bench/slow-stream-client.ts '<job JSON>'`; prints one
 * JSON result on stdout.
 */
import { chunkEnds, readStream } from "./stream-client.ts";
import { summarize, type CallCounts, type Summary } from "./timing.ts";

export interface SlowStreamJob {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The sizes of the chunks the upstream sends, in order. */
  chunkSizes: number[];
  /** The whole body the upstream sends, base64: every stream's is compared with it. */
  expectBody: string;
  /** Streams opened together and measured. */
  streams: number;
  /** Streams opened together first, not measured (connections, JIT). */
  warmup: number;
  /** Spread the measured streams' starts evenly over this many ms (0: all at once). */
  rampMs: number;
}

export interface SlowStreamResult extends CallCounts {
  /** Failed streams by error message. */
  errors: Record<string, number>;
  headers?: Summary;
  ttfb?: Summary;
  /** Gaps between consecutive chunks, all streams together. */
  gap?: Summary;
  total?: Summary;
  /** First request start to last request start: how long the client took to send them all. */
  openSpreadMs: number;
  /** First request start to last stream's end. */
  wallMs: number;
  /** This process's CPU (all threads) over the measured streams, % of one core: near 100, the client is the limit. */
  cpuPct: number;
}

async function openAll(job: SlowStreamJob, count: number, ends: number[], expectBody: Buffer, rampMs = 0) {
  const init = { method: "POST", headers: { "content-type": "application/json", ...job.headers }, body: job.body };
  const arrived = Array.from({ length: count }, () => new Float64Array(ends.length));
  const open = async (a: Float64Array, i: number) => {
    if (rampMs > 0) await Bun.sleep((i * rampMs) / count);
    return readStream(job.url, init, { ends, arrived: a, expectBody });
  };
  const settled = await Promise.allSettled(arrived.map(open));
  return settled.map((s, i) => ({ settled: s, arrived: arrived[i]! }));
}

async function main(job: SlowStreamJob): Promise<SlowStreamResult> {
  const ends = chunkEnds(job.chunkSizes);
  const expectBody = Buffer.from(job.expectBody, "base64");
  if (job.warmup > 0) await openAll(job, job.warmup, ends, expectBody);

  const cpu0 = process.cpuUsage();
  const streams = await openAll(job, job.streams, ends, expectBody, job.rampMs);
  const cpu = process.cpuUsage(cpu0);

  const result: SlowStreamResult = { sent: job.streams, ok: 0, bad: 0, errors: {}, openSpreadMs: NaN, wallMs: NaN, cpuPct: NaN };
  const gapsPer = Math.max(0, ends.length - 1);
  const headers: number[] = [];
  const ttfb: number[] = [];
  const total: number[] = [];
  const gaps: number[] = [];
  let firstStart = Infinity;
  let lastStart = -Infinity;
  let lastEnd = -Infinity;
  for (const { settled, arrived } of streams) {
    if (settled.status === "rejected") {
      const message = (settled.reason as Error).message;
      result.bad++;
      result.firstError ??= message;
      result.errors[message] = (result.errors[message] ?? 0) + 1;
      continue;
    }
    const { t0, th, tf, te } = settled.value;
    result.ok++;
    [firstStart, lastStart, lastEnd] = [Math.min(firstStart, t0), Math.max(lastStart, t0), Math.max(lastEnd, te)];
    headers.push(th - t0);
    ttfb.push(tf - t0);
    total.push(te - t0);
    for (let g = 0; g < gapsPer; g++) gaps.push(arrived[g + 1]! - arrived[g]!);
  }
  if (result.ok > 0) {
    result.headers = summarize(headers);
    result.ttfb = summarize(ttfb);
    result.total = summarize(total);
    if (gaps.length) result.gap = summarize(gaps);
    result.openSpreadMs = lastStart - firstStart;
    result.wallMs = lastEnd - firstStart;
    result.cpuPct = (100 * (cpu.user + cpu.system)) / 1000 / result.wallMs;
  }
  return result;
}

if (import.meta.main) {
  const job = JSON.parse(process.argv[2] ?? "{}") as SlowStreamJob;
  console.log(JSON.stringify(await main(job)));
}
