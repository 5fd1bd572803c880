import type { Limit } from "../keys/definitions.ts";

/**
 * Window arithmetic, pure. Times are epoch milliseconds; every period is UTC.
 *
 * A sliding window of W seconds is cut into sub-buckets of `bucketMs`
 * (W/60, at least 1 ms), and a limit counts the `span` = ⌈W/bucketMs⌉ + 1 most
 * recent ones: the current (partial) bucket and the whole ones before it. The
 * counted time is therefore at least W and less than W + bucketMs long, so any
 * W-second stretch ending now lies inside it: a limit never lets more than its
 * amount through in any W seconds. The price is that usage is forgotten up to
 * one sub-bucket (1/60 of the window) late — a blocked caller may wait that
 * much longer than a per-call log would make it.
 */

const SUB_BUCKETS = 60;
const DAY_MS = 86_400_000;

export interface SlidingShape {
  bucketMs: number;
  /** Sub-buckets counted: the current one and the ones before it. */
  span: number;
}

export function slidingShape(seconds: number): SlidingShape {
  const windowMs = seconds * 1000;
  const bucketMs = Math.max(1, Math.ceil(windowMs / SUB_BUCKETS));
  return { bucketMs, span: Math.ceil(windowMs / bucketMs) + 1 };
}

/** When bucket `index` stops being counted. */
export function bucketLeavesAt(index: number, shape: SlidingShape): number {
  return (index + shape.span) * shape.bucketMs;
}

/** A limit's usage at one moment, and when it next falls (undefined: nothing counted). */
export interface UsageFigures {
  used: number;
  fallsAt: number | undefined;
}

/**
 * What a sliding window counts in bucket `current`: the sum of the `span`
 * buckets ending there, falling when the oldest non-empty one leaves.
 * `countAt(index)` reads a bucket (0 when absent), from a ring or a Redis hash.
 */
export function slidingFigures(shape: SlidingShape, current: number, countAt: (index: number) => number): UsageFigures {
  let used = 0;
  let fallsAt: number | undefined;
  for (let index = current - shape.span + 1; index <= current; index++) {
    const count = countAt(index);
    if (count > 0 && fallsAt === undefined) fallsAt = bucketLeavesAt(index, shape);
    used += count;
  }
  return { used, fallsAt };
}

/** A calendar period's usage: it falls (to zero) when the period ends. */
export function periodFigures(bounds: PeriodBounds, used: number): UsageFigures {
  return { used, fallsAt: used > 0 ? bounds.end : undefined };
}

export type Period = "day" | "week" | "month";

export interface PeriodBounds {
  start: number;
  end: number;
  /** `2026-03-01`: the period's first day, for counter names. */
  label: string;
}

/** The UTC calendar period holding `now`: a day, an ISO week (from Monday), a month. */
export function periodBounds(period: Period, now: number): PeriodBounds {
  const day = Math.floor(now / DAY_MS);
  let start: number;
  let end: number;
  if (period === "day") {
    start = day * DAY_MS;
    end = start + DAY_MS;
  } else if (period === "week") {
    // 1970-01-01 was a Thursday: (day + 3) mod 7 is the days since Monday.
    start = (day - ((day + 3) % 7)) * DAY_MS;
    end = start + 7 * DAY_MS;
  } else {
    const date = new Date(now);
    start = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
    end = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
  }
  return { start, end, label: new Date(start).toISOString().slice(0, 10) };
}

/** `60s`, `day`, `week`, `month`: a window as one word, for counter names and warnings. */
export function windowLabel(window: Limit["window"]): string {
  return "seconds" in window ? `${window.seconds}s` : window.period;
}
