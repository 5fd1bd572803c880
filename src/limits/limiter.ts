import type { Limit, LimitMetric, LimitScope } from "../keys/definitions.ts";

/**
 * The limiter's contract with the proxy. Two backends implement it: in process
 * (memory-limiter.ts, synchronous) and shared through Redis (redis-limiter.ts).
 * create-limiter.ts picks one. Figures for tokens count input + output; usd
 * counts nano-USD.
 */

/** Who and what a call is, as far as limits care; a scope the call lacks matches no limit. */
export interface CallSubjects {
  key?: string | undefined;
  project?: string | undefined;
  user?: string | undefined;
  model?: string | undefined;
}

export interface Limiter {
  /** True when no limit is defined at all: the proxy may skip the limiter without a call. */
  readonly empty: boolean;
  /** Replace the definitions (admin changes). Counters of limits that stay (same scope, subject, metric, window) are kept. */
  use(limits: readonly Limit[]): void;
  /**
   * Admit one call: checks every applicable limit and, when none blocks, counts
   * the call against every applicable `requests` limit, as one atomic step (in
   * process: synchronous code; with Redis: one Lua script). tokens and usd
   * limits block once the usage already settled has reached their amount: a
   * call's own usage is known only after it, so the call that crosses a budget
   * finishes and the next one is refused. Never throws; synchronous in process,
   * a promise with Redis (settled within the Redis command timeout).
   */
  admit(subjects: CallSubjects, now?: number): Admission | Promise<Admission>;
  /**
   * After the call: add its tokens and cost to the tokens and usd limits it
   * matched. A call without a price (`costNano` undefined) adds nothing to its
   * usd limits and is counted in `stats().unpricedSettles` instead: its cost is
   * unknown, not $0. Never throws, never waits.
   */
  settle(admission: Admission, usage: CallUsage, now?: number): void;
  /** The first `usd` limit that applies to a call, if any (read only, counts nothing): a call under one needs a price. */
  usdLimit(subjects: CallSubjects): Limit | undefined;
  /**
   * A limit's current usage, for the admin API: read only, counts nothing.
   * Undefined when the limit is not among the definitions in use. With Redis,
   * the shared figure; while Redis is unreachable, this process's own counts
   * (fail-open, what admits then go by) or undefined (fail-closed). Never throws.
   */
  usage(limit: Limit, now?: number): Promise<LimitUsage | undefined>;
  stats(): LimiterStats;
  close(): Promise<void>;
}

export interface LimitUsage {
  /** What the current window or period has counted, decimal: calls, tokens or nano-USD. */
  used: string;
  /** Seconds from now until `used` next falls, as `Tightest.resetS`; 0 when nothing is counted. */
  resetS: number;
}

export interface CallUsage {
  /** Input + output tokens as the record counts them: input with cache reads and writes, output with reasoning. */
  tokens: number;
  /** undefined: no price is known for the call (the record's cost is NULL). */
  costNano: bigint | undefined;
}

export interface Admission {
  allowed: boolean;
  /** The limit that refused the call (when !allowed because of a limit). */
  blocked?: Blocked;
  /**
   * Set when !allowed because the shared store is unreachable and the policy is
   * fail-closed (`failOpen: false`): the reason, for a 503.
   */
  unavailable?: string;
  /** The tightest applicable limit, for X-RateLimit-*; undefined when no limit applies. When blocked, the blocking one. */
  tightest?: Tightest;
  /** Soft thresholds reached, one line each (`project:acme usd/month 85% (soft 80%)`), for a warning header. */
  warnings: readonly string[];
  /** Whether settle wants the call's usage: some tokens or usd limit applies. False: skip pricing for the limiter. */
  needsUsage: boolean;
  /** The backend's note of what to settle; opaque to the proxy. */
  readonly ticket?: unknown;
}

export interface Blocked {
  scope: LimitScope;
  /** The call's id in that scope that hit the limit: the key id, project, end user or requested model. */
  subject: string;
  /** The limit's own subject, when it differs from `subject` (a model pattern such as `gpt-4o*`). */
  pattern?: string;
  metric: LimitMetric;
  window: Limit["window"];
  /** The limit's amount (a count, or nano-USD), decimal. */
  amount: string;
  /** Usage counted in the window when refused, decimal. */
  used: string;
  /** Seconds until the call would be admitted (Retry-After), at least 1. */
  retryAfterS: number;
}

/**
 * The figures for `X-RateLimit-Limit`, `-Remaining` and `-Reset`. The tightest
 * limit is the one with the smallest share of its amount left (after this call
 * is counted); ties go to `requests`, then to the sooner reset.
 */
export interface Tightest {
  scope: LimitScope;
  metric: LimitMetric;
  /** The amount, decimal (nano-USD for usd). */
  limit: string;
  /** What is left after this call, decimal, never negative. */
  remaining: string;
  /**
   * Seconds from now (a delta, as draft-ietf-httpapi-ratelimit-headers' `reset`,
   * not an epoch) until the remaining figure next rises: a calendar period's
   * end, or the oldest counted usage leaving a sliding window; 0 when nothing is
   * counted.
   */
  resetS: number;
}

export interface LimiterStats {
  backend: "memory" | "redis";
  /** Redis commands that failed or timed out, and calls decided without trying Redis because it was down. */
  redisFailures: number;
  /** Calls admitted on local counts because Redis was unreachable (fail-open). */
  failOpenAdmits: number;
  /** Counters counted locally while Redis was unreachable, waiting to be added to Redis. */
  pendingReconcile: number;
  redisUp: boolean;
  /** Settled calls under a usd limit whose cost was unknown (no price): their USD could not be counted. */
  unpricedSettles: number;
}
