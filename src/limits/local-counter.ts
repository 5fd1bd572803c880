import { bucketLeavesAt, periodBounds, periodFigures, slidingFigures, slidingShape, type PeriodBounds, type Period, type SlidingShape, type UsageFigures } from "./windows.ts";

/**
 * One limit's usage in this process: a ring of sub-bucket counts for a sliding
 * window, one figure for a calendar period. Memory is fixed per limit (at most
 * 61 numbers): old buckets are overwritten, a past period is dropped. Figures
 * are doubles, exact up to 2^53 (≈ $9M in nano-USD per window), as in Redis's Lua.
 */
export interface LocalCounter {
  used(now: number): number;
  add(now: number, amount: number): void;
  /** When the usage next falls (the oldest counted usage leaves, or the period ends); undefined when nothing is counted. */
  fallsAt(now: number): number | undefined;
  /** When the usage falls below `amount`: when a blocked call would be admitted. */
  freeAt(now: number, amount: number): number;
  /** The usage and when it next falls, read without moving the counter (for the admin API: any `now` leaves the counts as they are). */
  peek(now: number): UsageFigures;
}

export class SlidingCounter implements LocalCounter {
  readonly shape: SlidingShape;
  private readonly counts: Float64Array;
  private total = 0;
  /** The bucket index the ring was last advanced to. */
  private last = -Infinity;

  constructor(seconds: number) {
    this.shape = slidingShape(seconds);
    this.counts = new Float64Array(this.shape.span);
  }

  /**
   * Moves the ring to `now`'s bucket, dropping buckets that left the window, and
   * returns that bucket's index. A time before the last bucket (a late settle
   * carrying an old `now`) counts as the last bucket.
   */
  private advance(now: number): number {
    const current = Math.floor(now / this.shape.bucketMs);
    if (current <= this.last) return this.last;
    const span = this.shape.span;
    if (current - this.last >= span) {
      this.counts.fill(0);
      this.total = 0;
    } else {
      for (let index = this.last + 1; index <= current; index++) {
        const slot = index % span;
        this.total -= this.counts[slot]!;
        this.counts[slot] = 0;
      }
    }
    this.last = current;
    return current;
  }

  used(now: number): number {
    this.advance(now);
    return this.total;
  }

  add(now: number, amount: number): void {
    const current = this.advance(now);
    this.counts[current % this.shape.span]! += amount;
    this.total += amount;
  }

  fallsAt(now: number): number | undefined {
    const current = this.advance(now);
    return slidingFigures(this.shape, current, (index) => this.counts[index % this.shape.span]!).fallsAt;
  }

  peek(now: number): UsageFigures {
    const { bucketMs, span } = this.shape;
    const last = this.last;
    // As advance() would see it: buckets after the last one are empty, those a span before it are gone.
    const current = Math.max(Math.floor(now / bucketMs), last);
    return slidingFigures(this.shape, current, (index) => (index <= last && index > last - span ? this.counts[index % span]! : 0));
  }

  freeAt(now: number, amount: number): number {
    const current = this.advance(now);
    const span = this.shape.span;
    let left = this.total;
    for (let index = current - span + 1; index <= current; index++) {
      left -= this.counts[index % span]!;
      if (left < amount) return bucketLeavesAt(index, this.shape);
    }
    return bucketLeavesAt(current, this.shape);
  }
}

export class PeriodCounter implements LocalCounter {
  private bounds: PeriodBounds | undefined;
  private total = 0;

  constructor(readonly period: Period) {}

  /** The period holding `now`, computed once per period; a time before it (a clock step back) counts in it. */
  boundsAt(now: number): PeriodBounds {
    if (this.bounds === undefined || now >= this.bounds.end) {
      this.bounds = periodBounds(this.period, now);
      this.total = 0;
    }
    return this.bounds;
  }

  used(now: number): number {
    this.boundsAt(now);
    return this.total;
  }

  add(now: number, amount: number): void {
    this.boundsAt(now);
    this.total += amount;
  }

  fallsAt(now: number): number | undefined {
    return periodFigures(this.boundsAt(now), this.total).fallsAt;
  }

  peek(now: number): UsageFigures {
    const bounds = this.bounds;
    return bounds !== undefined && now < bounds.end ? periodFigures(bounds, this.total) : periodFigures(periodBounds(this.period, now), 0);
  }

  freeAt(now: number): number {
    return this.boundsAt(now).end;
  }
}
