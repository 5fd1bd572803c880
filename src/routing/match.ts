import { z } from "zod";
import { headerText, type HeaderObject } from "../http/headers.ts";
import { matchesPattern } from "../keys/definitions.ts";

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

export function matches(match: Match | undefined, call: MatchContext): boolean {
  if (!match) return true;
  if (match.provider !== undefined && match.provider !== call.provider) return false;
  if (match.model !== undefined && (call.model === undefined || !modelMatches(match.model, call.model))) return false;
  if (match.key !== undefined && match.key !== call.key) return false;
  if (match.project !== undefined && match.project !== call.project) return false;
  if (match.user !== undefined && match.user !== call.user) return false;
  if (match.header !== undefined) {
    const eq = match.header.indexOf("=");
    const name = (eq < 0 ? match.header : match.header.slice(0, eq)).trim().toLowerCase();
    const value = headerText(call.headers[name]);
    if (value === null) return false;
    if (eq >= 0 && value !== match.header.slice(eq + 1).trim()) return false;
  }
  return true;
}
