/**
 * Slows down guessing of LOUPE_ADMIN_TOKEN and LOUPE_DASHBOARD_PASSWORD: after
 * `maxFailures` wrong secrets from one client address within `windowMs`, that
 * address gets 429 with Retry-After on every further attempt until `lockoutMs`
 * after the last counted failure (a fixed lockout, not an exponential one: it
 * already caps a guesser at 5 tries a minute, and a fixed wait is one an
 * operator who mistyped can predict). The lockout ends with the counter reset.
 * A right secret resets its address's count; other addresses are never
 * hindered. Counts live in this process (each replica counts its own), and
 * the addresses kept are bounded, oldest dropped first, so that a flood of
 * addresses cannot grow memory without end.
 */
export interface LoginThrottleOptions {
  maxFailures?: number;
  windowMs?: number;
  lockoutMs?: number;
  maxAddresses?: number;
  now?: () => number;
}

export interface LoginThrottle {
  /** Whole seconds until `address` may try again, or 0 when it may now. */
  retryAfterS(address: string): number;
  /** A wrong secret from `address`. */
  failed(address: string): void;
  /** A right secret from `address`: its count starts over. */
  succeeded(address: string): void;
}

interface Failures {
  /** When each counted failure happened, oldest first (at most maxFailures). */
  at: number[];
  lockedUntil: number;
}

export function createLoginThrottle({ maxFailures = 5, windowMs = 60_000, lockoutMs = 60_000, maxAddresses = 10_000, now = Date.now }: LoginThrottleOptions = {}): LoginThrottle {
  const byAddress = new Map<string, Failures>();

  function current(address: string, t: number): Failures | undefined {
    const entry = byAddress.get(address);
    if (!entry) return undefined;
    if (entry.lockedUntil > t) return entry;
    entry.at = entry.at.filter((at) => at > t - windowMs);
    if (entry.lockedUntil > 0 || entry.at.length === 0) {
      // A lockout that has passed leaves a clean slate.
      byAddress.delete(address);
      return undefined;
    }
    return entry;
  }

  return {
    retryAfterS(address) {
      const t = now();
      const entry = current(address, t);
      return entry && entry.lockedUntil > t ? Math.ceil((entry.lockedUntil - t) / 1000) : 0;
    },
    failed(address) {
      const t = now();
      let entry = current(address, t);
      if (!entry) {
        if (byAddress.size >= maxAddresses) byAddress.delete(byAddress.keys().next().value!);
        byAddress.set(address, (entry = { at: [], lockedUntil: 0 }));
      }
      entry.at.push(t);
      if (entry.at.length >= maxFailures) entry.lockedUntil = t + lockoutMs;
    },
    succeeded(address) {
      byAddress.delete(address);
    },
  };
}
