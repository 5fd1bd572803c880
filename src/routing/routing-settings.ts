import { z } from "zod";
import { headerRuleSchema } from "./header-rules.ts";
import { matchSchema, modelMatches, type Match } from "./match.ts";
import { retrySchema } from "./retry-policy.ts";

/**
 * The control plane's settings (part 8): from the config file at start, and
 * `PUT /api/settings` while running. Names are the Claude Code proxy's, so
 * its users can carry their settings over.
 */
export const targetSchema = z.strictObject({ provider: z.string().min(1), model: z.string().min(1).optional() });
export const weightedTargetSchema = targetSchema.extend({ weight: z.number().positive() });
export type Target = z.infer<typeof targetSchema>;

export const routingRuleSchema = z.strictObject({
  match: matchSchema,
  to: z.union([targetSchema, z.array(weightedTargetSchema).min(1)]),
});
export type RoutingRule = z.infer<typeof routingRuleSchema>;

export const fallbackSchema = z.strictObject({ match: matchSchema, chain: z.array(targetSchema).min(1) });
export type Fallback = z.infer<typeof fallbackSchema>;

/**
 * Timeouts scoped like rules (the first matching entry applies): the wait
 * for the upstream's response headers (`firstByteMs`; it covers connecting —
 * fetch exposes no separate connect phase), the longest silence between a
 * stream's chunks (`idleMs`), and a total stream deadline (`streamDeadlineS`,
 * else LOUPE_STREAM_DEADLINE_S).
 */
export const timeoutRuleSchema = z.strictObject({
  match: matchSchema.optional(),
  firstByteMs: z.number().int().positive().optional(),
  idleMs: z.number().int().positive().optional(),
  streamDeadlineS: z.number().positive().optional(),
});
export type TimeoutRule = z.infer<typeof timeoutRuleSchema>;

export const routingSettingsSchema = z
  .strictObject({
    requestHeaderRules: z.array(headerRuleSchema).default([]),
    responseHeaderRules: z.array(headerRuleSchema).default([]),
    routing: z.array(routingRuleSchema).default([]),
    fallbacks: z.array(fallbackSchema).default([]),
    timeouts: z.array(timeoutRuleSchema).default([]),
    retry: retrySchema.default({ attempts: 1, backoffMs: 250, maxBackoffMs: 8000, on: [429, 500, 502, 503, 504, "connect", "timeout"] }),
  })
  .superRefine((settings, context) => {
    const loop = findRoutingLoop(settings.routing);
    if (loop) context.addIssue({ code: "custom", path: ["routing", loop[0]!], message: `routing rules form a loop: ${loop.map((i) => `routing[${i}]`).join(" → ")}` });
  });
export type RoutingSettings = z.infer<typeof routingSettingsSchema>;

/** Whether a target (where a rule sends calls) is a call another rule would match. */
function targetMatches(match: Match, target: Target): boolean {
  if (match.provider !== undefined && match.provider !== target.provider) return false;
  if (match.model !== undefined && (target.model === undefined || !modelMatches(match.model, target.model))) return false;
  return true;
}

/**
 * A chain of rules that sends calls back where they came from (A → B → A),
 * as rule indexes, or undefined. Rules are applied once per call, but a loop
 * is always a mistake in the settings, so it is refused when they are loaded.
 */
export function findRoutingLoop(rules: readonly RoutingRule[]): number[] | undefined {
  const targets = (rule: RoutingRule) => (Array.isArray(rule.to) ? rule.to : [rule.to]);
  const next = rules.map((rule, i) => rules.flatMap((other, j) => (j !== i && targets(rule).some((t) => targetMatches(other.match, t)) ? [j] : [])));
  const state = new Map<number, "open" | "done">();
  let found: number[] | undefined;
  const visit = (i: number, path: number[]) => {
    if (found || state.get(i) === "done") return;
    if (state.get(i) === "open") {
      found = [...path.slice(path.indexOf(i)), i];
      return;
    }
    state.set(i, "open");
    for (const j of next[i]!) visit(j, [...path, i]);
    state.set(i, "done");
  };
  for (let i = 0; i < rules.length; i++) visit(i, []);
  return found;
}

/** The settings in force, swapped whole by `PUT /api/settings` (the proxy reads `current` per call). */
export interface RoutingSettingsHolder {
  readonly current: RoutingSettings;
  readonly version: number;
  replace(next: RoutingSettings): number;
}

export function createRoutingSettings(initial: RoutingSettings): RoutingSettingsHolder {
  let current = initial;
  let version = 1;
  return {
    get current() {
      return current;
    },
    get version() {
      return version;
    },
    replace(next) {
      current = next;
      return ++version;
    },
  };
}
