import { z } from "zod";
import { matches, matchSchema, type MatchContext } from "./match.ts";

/**
 * Header rules (the Claude Code proxy's `requestHeaderRules` and
 * `responseHeaderRules`): `block` removes a header, `set` gives it a value,
 * `replace` swaps `find` for `value` inside it. A rule can never touch
 * Loupe's own `x-loupe-*` headers, and request rules run before a stored
 * provider key is put in, so no rule can read or move one.
 */
export const headerRuleSchema = z
  .strictObject({
    header: z
      .string()
      .min(1)
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "not a header name")
      .refine((name) => !name.toLowerCase().startsWith("x-loupe-"), "x-loupe-* headers are Loupe's own and cannot be ruled"),
    action: z.enum(["block", "set", "replace"]),
    value: z.string().optional(),
    find: z.string().min(1).optional(),
    enabled: z.boolean().default(true),
    match: matchSchema.optional(),
  })
  .superRefine((rule, context) => {
    if ((rule.action === "set" || rule.action === "replace") && rule.value === undefined) context.addIssue({ code: "custom", path: ["value"], message: `${rule.action} needs a value` });
    if (rule.action === "replace" && rule.find === undefined) context.addIssue({ code: "custom", path: ["find"], message: "replace needs find" });
  });
export type HeaderRule = z.infer<typeof headerRuleSchema>;

/** Applies the rules that match the call, in order, to a plain header record (lower-case names). */
export function applyHeaderRules(rules: readonly HeaderRule[], headers: Record<string, string>, call: MatchContext): void {
  for (const rule of rules) {
    if (!rule.enabled || !matches(rule.match, call)) continue;
    const name = rule.header.toLowerCase();
    if (rule.action === "block") delete headers[name];
    else if (rule.action === "set") headers[name] = rule.value!;
    else if (headers[name] !== undefined) headers[name] = headers[name]!.replaceAll(rule.find!, rule.value!);
  }
}

/** The same on a response's Headers. */
export function applyResponseHeaderRules(rules: readonly HeaderRule[], headers: Headers, call: MatchContext): void {
  for (const rule of rules) {
    if (!rule.enabled || !matches(rule.match, call)) continue;
    const name = rule.header.toLowerCase();
    if (rule.action === "block") headers.delete(name);
    else if (rule.action === "set") headers.set(name, rule.value!);
    else {
      const current = headers.get(name);
      if (current !== null) headers.set(name, current.replaceAll(rule.find!, rule.value!));
    }
  }
}
