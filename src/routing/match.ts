import { z } from "zod";
import { headerText, type HeaderObject } from "../http/headers.ts";
import { matchesPattern } from "../model-pattern.ts";

/**
 * Which calls a rule applies to (routing, fallbacks, header rules): every
 * field given must hold. `model` is a glob (`claude-*`) or, between slashes,
 * a regular expression (`/^gpt-4o(-mini)?$/`); `header` is a header name
 * (present) or `name=value` (exactly that value).
 */
export const matchSchema = z.strictObject({
  provider: z.string().min(1).optional(),
  model: z
    .string()
    .min(1)
    .refine((model) => !isRegex(model) || compiles(model.slice(1, -1)), "not a valid regular expression")
    .optional(),
  header: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  project: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
});
export type Match = z.infer<typeof matchSchema>;

/** What a rule can look at of a call. */
export interface MatchContext {
  provider: string;
  model: string | undefined;
  headers: HeaderObject;
  key: string | undefined;
  project: string | undefined;
  user: string | undefined;
}

const isRegex = (pattern: string) => pattern.length > 2 && pattern.startsWith("/") && pattern.endsWith("/");
function compiles(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

const regexes = new Map<string, RegExp>();
/** Whether a model name matches a rule's model pattern. */
export function modelMatches(pattern: string, model: string): boolean {
  if (!isRegex(pattern)) return matchesPattern(pattern, model);
  let regex = regexes.get(pattern);
  if (!regex) regexes.set(pattern, (regex = new RegExp(pattern.slice(1, -1))));
  return regex.test(model);
}

type Test = (call: MatchContext) => boolean;
const ALWAYS: Test = () => true;
/** Each match compiled once (its patterns split, its header name lowered): rules are matched on every call. */
const compiled = new WeakMap<Match, Test>();

export function matches(match: Match | undefined, call: MatchContext): boolean {
  if (!match) return true;
  let test = compiled.get(match);
  if (test === undefined) compiled.set(match, (test = compile(match)));
  return test(call);
}

function compile(match: Match): Test {
  const tests: Test[] = [];
  const { provider, model, key, project, user, header } = match;
  if (provider !== undefined) tests.push((call) => call.provider === provider);
  if (model !== undefined) {
    const matchesModel = modelTest(model);
    tests.push((call) => call.model !== undefined && matchesModel(call.model));
  }
  if (key !== undefined) tests.push((call) => call.key === key);
  if (project !== undefined) tests.push((call) => call.project === project);
  if (user !== undefined) tests.push((call) => call.user === user);
  if (header !== undefined) {
    const eq = header.indexOf("=");
    const name = (eq < 0 ? header : header.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : header.slice(eq + 1).trim();
    tests.push((call) => {
      const sent = headerText(call.headers[name]);
      return sent !== null && (value === undefined || sent === value);
    });
  }
  if (tests.length === 0) return ALWAYS;
  if (tests.length === 1) return tests[0]!;
  return (call) => {
    for (const test of tests) if (!test(call)) return false;
    return true;
  };
}

/** modelMatches for one pattern, decided once: exact, glob or regular expression. */
function modelTest(pattern: string): (model: string) => boolean {
  if (isRegex(pattern)) {
    const regex = new RegExp(pattern.slice(1, -1));
    return (model) => regex.test(model);
  }
  if (!pattern.includes("*")) return (model) => model === pattern;
  return (model) => matchesPattern(pattern, model);
}
