import { headerText, type HeaderObject } from "../http/headers.ts";
import type { RateLimitSnapshot } from "./contract.ts";

export interface RateLimitHeaderNames {
  /** Every header whose (lower-case) name starts with one of these is a rate-limit figure. */
  prefixes: readonly string[];
  /** The header naming the organization the limits belong to, if the provider sends one. */
  organization?: string | undefined;
}

/**
 * A `rateLimits` hook from header names: the figures are taken generically by
 * prefix, so headers a provider adds later (new windows, new claims) are kept
 * without a code change. A loop over the response's few header names, run
 * only for providers that have the hook.
 */
export function readRateLimitHeaders(names: RateLimitHeaderNames): (headers: HeaderObject) => RateLimitSnapshot | undefined {
  const { prefixes, organization } = names;
  return (all) => {
    let found: Record<string, string> | undefined;
    for (const name in all) {
      for (const prefix of prefixes) {
        if (!name.startsWith(prefix)) continue;
        (found ??= {})[name] = headerText(all[name])!;
        break;
      }
    }
    if (!found) return undefined;
    const org = organization === undefined ? null : headerText(all[organization]);
    return org ? { organization: org, headers: found } : { headers: found };
  };
}
