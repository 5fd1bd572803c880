/**
 * What the two one-call-at-a-time clients share (bench/seq-client.ts,
 * bench/stream-client.ts): the percentile summary and the loop that runs the
 * calls in rotating blocks. Kept apart from bench/harness.ts so a client
 * process loads only what it times with.
 */

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Percentiles by nearest rank over the first `count` values. */
export function summarize(values: ArrayLike<number>, count = values.length): Summary {
  const sorted = Float64Array.from({ length: count }, (_, i) => values[i]!).sort();
  const at = (p: number) => sorted[Math.min(count - 1, Math.max(0, Math.ceil(p * count) - 1))] ?? NaN;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { n: count, p50: at(0.5), p90: at(0.9), p99: at(0.99), mean: sum / count, min: sorted[0] ?? NaN, max: sorted[count - 1] ?? NaN };
}

/** Calls counted per target or case: every one sent, then ok or bad. */
export interface CallCounts {
  sent: number;
  ok: number;
  bad: number;
  firstError?: string;
}

/** A target or case being measured: `n` calls kept so far. */
export interface Measured {
  result: CallCounts;
  n: number;
}

/**
 * One call, timed and (when `keep`) stored by `call`; it throws when the call
 * went wrong. `inBlock` is the call's position in its block, -1 in warm-up.
 */
export type TimedCall<S> = (s: S, keep: boolean, inBlock: number) => Promise<void>;

/** A target that failed this often is given up on, so one broken target does not hold the run. */
const MAX_BAD = 50;

/**
 * `warmup` calls per target, then blocks of `block` calls that rotate their
 * order every round (A B C, B C A, C A B, …), so every target sees the same
 * conditions, until each has `samples` kept calls, or `maxMs` after the
 * warm-up when it is given.
 */
export async function runInBlocks<S extends Measured>(state: S[], job: { samples: number; warmup: number; block: number; maxMs?: number | undefined }, call: TimedCall<S>): Promise<void> {
  const once = async (s: S, keep: boolean, inBlock: number) => {
    s.result.sent++;
    try {
      await call(s, keep, inBlock);
      s.result.ok++;
    } catch (error) {
      s.result.bad++;
      s.result.firstError ??= (error as Error).message;
    }
  };
  let deadline = Infinity;
  const wanted = (s: S) => s.n < job.samples && s.result.bad < MAX_BAD && performance.now() < deadline;

  for (const s of state) for (let i = 0; i < job.warmup; i++) await once(s, false, -1);
  if (job.maxMs !== undefined) deadline = performance.now() + job.maxMs;
  for (let round = 0; state.some(wanted); round++) {
    for (let k = 0; k < state.length; k++) {
      const s = state[(round + k) % state.length]!;
      for (let i = 0; i < job.block && wanted(s); i++) await once(s, true, i);
    }
  }
}
