/**
 * One call at a time, timed with performance.now(), against several targets
 * interleaved in blocks (so every target sees the same conditions). Run by
 * bench/proxy.ts as its own process: `bun bench/seq-client.ts '<job JSON>'`;
 * prints one JSON result on stdout.
 *
 * mode "json":   latency = request start → whole body read.
 * mode "stream": headers = request start → response headers;
 *                ttfb    = request start → first body chunk (the first SSE event);
 *                total   = request start → end of stream.
 */
import { runInBlocks, summarize, type CallCounts, type Summary } from "./timing.ts";

export interface SeqTarget {
  name: string;
  url: string;
  headers: Record<string, string>;
}

export interface SeqJob {
  mode: "json" | "stream";
  targets: SeqTarget[];
  body: string;
  samples: number;
  warmup: number;
  block: number;
  /** Expected response body size; a different size counts as a bad call. */
  expectBytes?: number;
  /** Stop measuring this long after the warm-up, even short of `samples` (bench/ingest.ts). */
  maxMs?: number;
  /** Also return every measured call as [start, ms since the Unix epoch; its latency or TTFB, ms] (bench/ingest.ts). */
  raw?: boolean;
}

export interface SeqTargetResult extends CallCounts {
  latency?: Summary;
  headers?: Summary;
  ttfb?: Summary;
  total?: Summary;
  /** job.raw: per measured call, in order: [start, ms since the Unix epoch; latency (json) or TTFB (stream), ms]. */
  raw?: number[][];
}

async function main(job: SeqJob): Promise<Record<string, SeqTargetResult>> {
  const state = job.targets.map((t) => ({
    target: t,
    init: { method: "POST", headers: { "content-type": "application/json", ...t.headers }, body: job.body },
    result: { sent: 0, ok: 0, bad: 0 } as SeqTargetResult,
    a: new Float64Array(job.samples), // json: latency; stream: ttfb
    b: new Float64Array(job.samples), // stream: headers
    c: new Float64Array(job.samples), // stream: total
    raw: [] as number[][],
    n: 0,
  }));

  await runInBlocks(state, job, async (s, keep) => {
    const t0 = performance.now();
    const res = await fetch(s.target.url, s.init);
    if (job.mode === "json") {
      const bytes = (await res.arrayBuffer()).byteLength;
      const t1 = performance.now();
      if (res.status !== 200 || (job.expectBytes !== undefined && bytes !== job.expectBytes)) throw new Error(`status ${res.status}, ${bytes} bytes`);
      if (keep) s.a[s.n++] = t1 - t0;
      if (keep && job.raw) s.raw.push([performance.timeOrigin + t0, t1 - t0]);
    } else {
      const th = performance.now();
      const reader = res.body!.getReader();
      let first = await reader.read();
      const tf = performance.now();
      let bytes = first.value?.byteLength ?? 0;
      while (!first.done) {
        first = await reader.read();
        bytes += first.value?.byteLength ?? 0;
      }
      const te = performance.now();
      if (res.status !== 200 || (job.expectBytes !== undefined && bytes !== job.expectBytes)) throw new Error(`status ${res.status}, ${bytes} bytes`);
      if (keep) {
        s.a[s.n] = tf - t0;
        s.b[s.n] = th - t0;
        s.c[s.n] = te - t0;
        s.n++;
        if (job.raw) s.raw.push([performance.timeOrigin + t0, tf - t0]);
      }
    }
  });

  const out: Record<string, SeqTargetResult> = {};
  for (const s of state) {
    if (s.n > 0) {
      if (job.mode === "json") s.result.latency = summarize(s.a, s.n);
      else {
        s.result.ttfb = summarize(s.a, s.n);
        s.result.headers = summarize(s.b, s.n);
        s.result.total = summarize(s.c, s.n);
      }
      if (job.raw) s.result.raw = s.raw;
    }
    out[s.target.name] = s.result;
  }
  return out;
}

if (import.meta.main) {
  const job = JSON.parse(process.argv[2] ?? "{}") as SeqJob;
  console.log(JSON.stringify(await main(job)));
}
