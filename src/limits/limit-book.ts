import type { Limit, LimitMetric, LimitScope } from "../keys/definitions.ts";
import { matchesPattern } from "../model-pattern.ts";
import type { CallSubjects } from "./limiter.ts";
import { PeriodCounter, SlidingCounter } from "./local-counter.ts";
import { windowLabel } from "./windows.ts";

/**
 * The definitions compiled for the hot path: one entry per distinct limit
 * (scope, subject, metric, window — a later definition of the same one
 * replaces its amount), looked up by the call's ids. A model limit whose
 * subject has `*` matches every model it fits and counts them together (a
 * budget for `claude-*` is one budget).
 */
export interface CompiledLimit {
  readonly def: Limit;
  readonly scope: LimitScope;
  readonly metric: LimitMetric;
  readonly amount: number;
  readonly pattern: boolean;
  /** `project:acme:requests:60s`: what names the limit's counters, here and in Redis. */
  readonly name: string;
  /** This process's count: the whole count in process, the fallback while Redis is unreachable. */
  readonly local: SlidingCounter | PeriodCounter;
}

export interface LimitBook {
  readonly size: number;
  /** Whether any limit counts usd: when none does, calls need no price check before they go. */
  readonly hasUsd: boolean;
  /** The limits that apply to a call, in scope order (key, project, user, model). */
  applicable(subjects: CallSubjects): CompiledLimit[];
  /** The compiled limit a definition names (same scope, subject, metric and window; any amount). */
  find(def: Limit): CompiledLimit | undefined;
}

/** `project:acme:requests:60s`: a limit's counter name. A model pattern names one counter for every model it fits. */
function limitName(def: Limit): string {
  return `${def.scope}:${encodeURIComponent(def.subject)}:${def.metric}:${windowLabel(def.window)}`;
}

const MODEL_CACHE_MAX = 1024;

/** Compiles `limits`; counters of limits already in `previous` carry over. */
export function compileLimits(limits: readonly Limit[], previous?: readonly CompiledLimit[]): { book: LimitBook; all: CompiledLimit[] } {
  const kept = new Map(previous?.map((limit) => [limit.name, limit.local]));
  const byName = new Map<string, CompiledLimit>();
  for (const def of limits) {
    const name = limitName(def);
    byName.set(name, {
      def,
      scope: def.scope,
      metric: def.metric,
      amount: Number(def.amount),
      pattern: def.scope === "model" && def.subject.includes("*"),
      name,
      local: kept.get(name) ?? ("seconds" in def.window ? new SlidingCounter(def.window.seconds) : new PeriodCounter(def.window.period)),
    });
  }
  const all = [...byName.values()];
  const exact: Record<LimitScope, Map<string, CompiledLimit[]>> = { key: new Map(), project: new Map(), user: new Map(), model: new Map() };
  const patterns: CompiledLimit[] = [];
  for (const limit of all) {
    if (limit.pattern) patterns.push(limit);
    else {
      const list = exact[limit.scope].get(limit.def.subject);
      if (list) list.push(limit);
      else exact[limit.scope].set(limit.def.subject, [limit]);
    }
  }
  const models = new Map<string, CompiledLimit[]>();
  const modelLimits = (model: string): CompiledLimit[] => {
    let list = models.get(model);
    if (list === undefined) {
      list = [...(exact.model.get(model) ?? []), ...patterns.filter((limit) => matchesPattern(limit.def.subject, model))];
      if (models.size >= MODEL_CACHE_MAX) models.clear();
      models.set(model, list);
    }
    return list;
  };
  const book: LimitBook = {
    size: all.length,
    hasUsd: all.some((limit) => limit.metric === "usd"),
    applicable(subjects) {
      const found: CompiledLimit[] = [];
      if (subjects.key !== undefined) pushAll(found, exact.key.get(subjects.key));
      if (subjects.project !== undefined) pushAll(found, exact.project.get(subjects.project));
      if (subjects.user !== undefined) pushAll(found, exact.user.get(subjects.user));
      if (subjects.model !== undefined) pushAll(found, modelLimits(subjects.model));
      return found;
    },
    find: (def) => byName.get(limitName(def)),
  };
  return { book, all };
}

function pushAll(into: CompiledLimit[], from: readonly CompiledLimit[] | undefined): void {
  if (from) for (const item of from) into.push(item);
}
