import type { CompiledLimit } from "./limit-book.ts";
import type { Admission, Blocked, CallSubjects, LimitUsage, Tightest } from "./limiter.ts";
import { windowLabel, type UsageFigures } from "./windows.ts";

/** Turning what the counters read into an Admission: the same for both backends. */

export const NO_LIMITS: Admission = Object.freeze({ allowed: true, warnings: Object.freeze([]) as readonly string[], needsUsage: false });

const NO_WARNINGS: readonly string[] = Object.freeze([]);

/** When a limit's usage next falls and when it falls below the amount, as the backend knows them. */
export interface Timing {
  fallsAt(index: number, limit: CompiledLimit, now: number): number | undefined;
  freeAt(index: number, limit: CompiledLimit, now: number): number;
}

/** The settle ticket: the tokens and usd limits a call matched. */
export type UsageTicket = readonly CompiledLimit[];

/**
 * `used[i]` is limit i's usage after this call was counted (when admitted);
 * `blocked` the index of the limit that refused it, or -1.
 */
export function buildAdmission(limits: readonly CompiledLimit[], used: ArrayLike<number>, blocked: number, subjects: CallSubjects, now: number, timing: Timing): Admission {
  let needsUsage = false;
  let tightest = blocked;
  let tightestShare = Infinity;
  let warnings = NO_WARNINGS;
  for (let i = 0; i < limits.length; i++) {
    const limit = limits[i]!;
    const u = used[i]!;
    if (limit.metric !== "requests") needsUsage = true;
    if (blocked < 0) {
      const share = limit.amount > 0 ? Math.max(0, limit.amount - u) / limit.amount : 0;
      if (share < tightestShare || (share === tightestShare && limit.metric === "requests" && limits[tightest]!.metric !== "requests")) {
        tightest = i;
        tightestShare = share;
      }
    }
    const soft = limit.def.soft_pct;
    if (soft !== null && limit.amount > 0 && u * 100 >= soft * limit.amount) {
      if (warnings === NO_WARNINGS) warnings = [];
      (warnings as string[]).push(`${limit.scope}:${limit.def.subject} ${limit.metric}/${windowLabel(limit.def.window)} ${Math.floor((u * 100) / limit.amount)}% (soft ${soft}%)`);
    }
  }
  const admission: { -readonly [K in keyof Admission]: Admission[K] } = { allowed: blocked < 0, warnings, needsUsage };
  if (needsUsage) admission.ticket = limits.filter((limit) => limit.metric !== "requests") satisfies UsageTicket;
  if (tightest >= 0) admission.tightest = tightestOf(tightest, limits[tightest]!, used[tightest]!, now, timing);
  if (blocked >= 0) admission.blocked = blockedBy(blocked, limits[blocked]!, used[blocked]!, subjects, now, timing);
  return admission;
}

function tightestOf(index: number, limit: CompiledLimit, used: number, now: number, timing: Timing): Tightest {
  const fallsAt = timing.fallsAt(index, limit, now);
  return {
    scope: limit.scope,
    metric: limit.metric,
    limit: limit.def.amount,
    remaining: decimal(Math.max(0, limit.amount - used)),
    resetS: resetSeconds(fallsAt, now),
  };
}

/** Seconds from `now` until `fallsAt`, rounded up; 0 when nothing is counted. */
function resetSeconds(fallsAt: number | undefined, now: number): number {
  return fallsAt === undefined ? 0 : Math.max(0, Math.ceil((fallsAt - now) / 1000));
}

/** A limit's figures as the admin API shows them. */
export function limitUsageOf(figures: UsageFigures, now: number): LimitUsage {
  return { used: decimal(figures.used), resetS: resetSeconds(figures.fallsAt, now) };
}

function blockedBy(index: number, limit: CompiledLimit, used: number, subjects: CallSubjects, now: number, timing: Timing): Blocked {
  const subject = subjects[limit.scope] ?? limit.def.subject;
  const blocked: Blocked = {
    scope: limit.scope,
    subject,
    metric: limit.metric,
    window: limit.def.window,
    amount: limit.def.amount,
    used: decimal(used),
    retryAfterS: Math.max(1, Math.ceil((timing.freeAt(index, limit, now) - now) / 1000)),
  };
  if (subject !== limit.def.subject) blocked.pattern = limit.def.subject;
  return blocked;
}

/** An integral figure as a decimal string, without exponent notation past 1e21. */
export function decimal(value: number): string {
  return value < 1e21 ? String(Math.round(value)) : BigInt(Math.round(value)).toString();
}
