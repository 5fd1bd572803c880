import type { Limit } from "../keys/definitions.ts";
import { buildAdmission, limitUsageOf, NO_LIMITS, type Timing, type UsageTicket } from "./admission.ts";
import { compileLimits, type CompiledLimit } from "./limit-book.ts";
import type { Admission, CallSubjects, CallUsage, Limiter } from "./limiter.ts";

/**
 * Limits counted in this process: plain synchronous code, so one admit's
 * check-and-count cannot interleave with another's and the count is exact.
 */
export function createMemoryLimiter(limits: readonly Limit[] = []): Limiter {
  let compiled = compileLimits(limits);
  let unpricedSettles = 0;
  return {
    get empty() {
      return compiled.book.size === 0;
    },
    use(next) {
      compiled = compileLimits(next, compiled.all);
    },
    admit(subjects, now = Date.now()) {
      const applicable = compiled.book.applicable(subjects);
      return applicable.length === 0 ? NO_LIMITS : admitLocally(applicable, subjects, now);
    },
    settle(admission, usage, now = Date.now()) {
      if (unpricedUnderUsd(admission, usage)) unpricedSettles++;
      settleLocally(admission, usage, now);
    },
    usdLimit: (subjects) => (compiled.book.hasUsd ? firstUsdLimit(compiled.book.applicable(subjects)) : undefined),
    async usage(def, now = Date.now()) {
      const limit = compiled.book.find(def);
      return limit && limitUsageOf(limit.local.peek(now), now);
    },
    stats: () => ({ backend: "memory", redisFailures: 0, failOpenAdmits: 0, pendingReconcile: 0, redisUp: false, unpricedSettles }),
    close: async () => {},
  };
}

const LOCAL_TIMING: Timing = {
  fallsAt: (_index, limit, now) => limit.local.fallsAt(now),
  freeAt: (_index, limit, now) => limit.local.freeAt(now, limit.amount),
};

/** Checks every limit on local counts and, when none has reached its amount, counts the call against the `requests` ones. */
export function admitLocally(limits: readonly CompiledLimit[], subjects: CallSubjects, now: number): Admission {
  const used = new Array<number>(limits.length);
  let blocked = -1;
  for (let i = 0; i < limits.length; i++) {
    const limit = limits[i]!;
    used[i] = limit.local.used(now);
    if (blocked < 0 && used[i]! >= limit.amount) blocked = i;
  }
  if (blocked < 0) {
    for (let i = 0; i < limits.length; i++) {
      const limit = limits[i]!;
      if (limit.metric === "requests") {
        limit.local.add(now, 1);
        used[i]! += 1;
      }
    }
  }
  return buildAdmission(limits, used, blocked, subjects, now, LOCAL_TIMING);
}

/** The tokens and usd limits an admission matched (none for a foreign or empty admission). */
export function ticketOf(admission: Admission): UsageTicket {
  return admission.needsUsage && Array.isArray(admission.ticket) ? (admission.ticket as UsageTicket) : [];
}

/** The first usd limit among those a call matched. */
export function firstUsdLimit(limits: readonly CompiledLimit[]): Limit | undefined {
  return limits.find((limit) => limit.metric === "usd")?.def;
}

/** Whether a settled call had no price although a usd limit wanted its cost. */
export function unpricedUnderUsd(admission: Admission, usage: CallUsage): boolean {
  return usage.costNano === undefined && ticketOf(admission).some((limit) => limit.metric === "usd");
}

/** What a call adds to a limit of this metric: a whole number, or 0 for nothing (or nonsense) to add. */
export function usageFor(limit: CompiledLimit, usage: CallUsage): number {
  const amount = limit.metric === "tokens" ? Math.round(usage.tokens) : Number(usage.costNano);
  return amount > 0 && Number.isFinite(amount) ? amount : 0;
}

export function settleLocally(admission: Admission, usage: CallUsage, now: number): void {
  for (const limit of ticketOf(admission)) {
    const amount = usageFor(limit, usage);
    if (amount > 0) limit.local.add(now, amount);
  }
}
