/**
 * One stream at a time, timed with performance.now(), against several cases
 * (a framing through a target) interleaved in blocks, so every case sees the
 * same conditions. Run by bench/streams.ts as its own process:
 * `bun bench/stream-client.ts '<job JSON>'`; prints one JSON result on stdout.
 *
 * Per stream:
 *   headers = request start → response headers (fetch resolves);
 *   ttfb    = request start → first byte of the body (the first read that returns bytes);
 *   gaps    = between the arrivals of consecutive upstream chunks: chunk k has
 *             arrived when the bytes read reach its end (the job gives the
 *             chunks' sizes), so a read that carries two chunks counts as a
 *             0 ms gap instead of hiding one;
 *   total   = request start → end of stream.
 */
import { runInBlocks, summarize, type CallCounts, type Summary } from "./timing.ts";

export interface StreamCase {
  name: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The sizes of the chunks the upstream sends, in order. */
  chunkSizes: number[];
}

export interface StreamJob {
  cases: StreamCase[];
  samples: number;
  warmup: number;
  block: number;
  /** Also return every measured stream's figures, in the order sent (BENCH_RAW=1). */
  raw?: boolean;
  /** Compare every body with this (base64 per case name): sanity runs only. */
  expectBodies?: Record<string, string>;
}

export interface StreamCaseResult extends CallCounts {
  headers?: Summary;
  ttfb?: Summary;
  /** TTFB of the first stream of each block only: the proxy's core sat idle (or served other cases) before it. */
  ttfbFirstInBlock?: Summary;
  /** Gaps between consecutive chunks, all streams together. */
  gap?: Summary;
  total?: Summary;
  /** Mean reads per stream (= chunks when nothing was merged on the way). */
  readsPerStream?: number;
  /** Streams where some read carried more than one chunk, or a chunk came in pieces. */
  regrouped?: number;
  /** job.raw: per measured stream, in order: [ms since the client started, position in its block, headers, ttfb, total]. */
  raw?: number[][];
}

/** Where each chunk ends in the body, from the chunks' sizes. */
export function chunkEnds(sizes: number[]): number[] {
  let sum = 0;
  return sizes.map((size) => (sum += size));
}

/** One stream's moments (performance.now()): request start, response headers, first body byte, end. */
export interface StreamTimes {
  t0: number;
  th: number;
  tf: number;
  te: number;
  /** Reads that returned bytes. */
  reads: number;
}

/**
 * Sends one streaming request and reads its body to the end. Chunk k has
 * arrived (`arrived[k]`, filled in) when the bytes read reach `ends[k]`.
 * Throws unless the status is 200 and the body has `ends`' last size (and
 * equals `expectBody` when given).
 */
export async function readStream(url: string, init: RequestInit, body: { ends: number[]; arrived: Float64Array; expectBody?: Buffer | undefined }): Promise<StreamTimes> {
  const { ends, arrived, expectBody } = body;
  const t0 = performance.now();
  const res = await fetch(url, init);
  const th = performance.now();
  const reader = res.body!.getReader();
  let tf = NaN;
  let bytes = 0;
  let k = 0;
  let reads = 0;
  const pieces: Uint8Array[] | undefined = expectBody ? [] : undefined;
  for (;;) {
    const r = await reader.read();
    const t = performance.now();
    if (r.done) break;
    if (!r.value.byteLength) continue;
    if (reads++ === 0) tf = t;
    bytes += r.value.byteLength;
    pieces?.push(r.value);
    while (k < ends.length && bytes >= ends[k]!) arrived[k++] = t;
  }
  const te = performance.now();
  const expectBytes = ends[ends.length - 1] ?? 0;
  if (res.status !== 200 || bytes !== expectBytes) throw new Error(`status ${res.status}, ${bytes} bytes (expected ${expectBytes})`);
  if (expectBody && Buffer.compare(Buffer.concat(pieces!), expectBody) !== 0) throw new Error("body differs from what the upstream sent");
  return { t0, th, tf, te, reads };
}

async function main(job: StreamJob): Promise<Record<string, StreamCaseResult>> {
  const state = job.cases.map((c) => {
    const ends = chunkEnds(c.chunkSizes);
    const gapsPer = Math.max(0, ends.length - 1);
    return {
      c,
      ends,
      expectBody: job.expectBodies?.[c.name] ? Buffer.from(job.expectBodies[c.name]!, "base64") : undefined,
      init: { method: "POST", headers: { "content-type": "application/json", ...c.headers }, body: c.body },
      result: { sent: 0, ok: 0, bad: 0 } as StreamCaseResult,
      headers: new Float64Array(job.samples),
      ttfb: new Float64Array(job.samples),
      ttfbFirst: [] as number[],
      total: new Float64Array(job.samples),
      gaps: new Float64Array(job.samples * gapsPer),
      gapsPer,
      arrived: new Float64Array(ends.length),
      reads: 0,
      regrouped: 0,
      raw: [] as number[][],
      n: 0,
    };
  });

  const clientStart = performance.now();
  await runInBlocks(state, job, async (s, keep, inBlock) => {
    const { t0, th, tf, te, reads } = await readStream(s.c.url, s.init, { ends: s.ends, arrived: s.arrived, expectBody: s.expectBody });
    if (keep) {
      const i = s.n++;
      s.headers[i] = th - t0;
      s.ttfb[i] = tf - t0;
      if (inBlock === 0) s.ttfbFirst.push(tf - t0);
      s.total[i] = te - t0;
      for (let g = 0; g < s.gapsPer; g++) s.gaps[i * s.gapsPer + g] = s.arrived[g + 1]! - s.arrived[g]!;
      s.reads += reads;
      if (reads !== s.ends.length) s.regrouped++;
      if (job.raw) s.raw.push([t0 - clientStart, inBlock, th - t0, tf - t0, te - t0]);
    }
  });

  const out: Record<string, StreamCaseResult> = {};
  for (const s of state) {
    if (s.n > 0) {
      s.result.headers = summarize(s.headers, s.n);
      s.result.ttfb = summarize(s.ttfb, s.n);
      s.result.total = summarize(s.total, s.n);
      if (s.ttfbFirst.length) s.result.ttfbFirstInBlock = summarize(s.ttfbFirst);
      if (s.gapsPer) s.result.gap = summarize(s.gaps, s.n * s.gapsPer);
      s.result.readsPerStream = s.reads / s.n;
      s.result.regrouped = s.regrouped;
      if (job.raw) s.result.raw = s.raw;
    }
    out[s.c.name] = s.result;
  }
  return out;
}

if (import.meta.main) {
  const job = JSON.parse(process.argv[2] ?? "{}") as StreamJob;
  console.log(JSON.stringify(await main(job)));
}
