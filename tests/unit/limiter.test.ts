import { describe, expect, test } from "bun:test";
import type { Limit } from "../../src/keys/definitions.ts";
import type { Admission } from "../../src/limits/limiter.ts";
import { createMemoryLimiter } from "../../src/limits/memory-limiter.ts";
import { periodBounds } from "../../src/limits/windows.ts";

function limit(fields: Partial<Limit> & Pick<Limit, "scope" | "subject">): Limit {
  return { metric: "requests", amount: "50", window: { seconds: 60 }, soft_pct: null, ...fields };
}

const at = (iso: string) => Date.parse(iso);
const T0 = at("2026-03-04T12:00:00Z");

/** Admits synchronously (the in-process backend never returns a promise). */
function admitNow(limiter: ReturnType<typeof createMemoryLimiter>, subjects: Parameters<typeof limiter.admit>[0], now: number): Admission {
  const admission = limiter.admit(subjects, now);
  if (admission instanceof Promise) throw new Error("the in-process limiter answered with a promise");
  return admission;
}

describe("in-process limiter: no limits", () => {
  test("empty, and every call is admitted with nothing to report or settle", () => {
    const limiter = createMemoryLimiter();
    expect(limiter.empty).toBe(true);
    expect(admitNow(limiter, { key: "key_a", model: "gpt-4o" }, T0)).toEqual({ allowed: true, warnings: [], needsUsage: false });
  });

  test("limits for other subjects do not apply", () => {
    const limiter = createMemoryLimiter([limit({ scope: "project", subject: "acme" })]);
    expect(limiter.empty).toBe(false);
    const admission = admitNow(limiter, { project: "other", user: "acme" }, T0);
    expect(admission.tightest).toBeUndefined();
    expect(admission.needsUsage).toBe(false);
  });
});

describe("sliding windows", () => {
  test("50 per minute: the 51st call is refused, with the scope, id and Retry-After", () => {
    const limiter = createMemoryLimiter([limit({ scope: "key", subject: "key_a" })]);
    for (let i = 0; i < 50; i++) expect(admitNow(limiter, { key: "key_a" }, T0 + i).allowed).toBe(true);
    const refused = admitNow(limiter, { key: "key_a" }, T0 + 100);
    expect(refused.allowed).toBe(false);
    expect(refused.blocked).toEqual({ scope: "key", subject: "key_a", metric: "requests", window: { seconds: 60 }, amount: "50", used: "50", retryAfterS: 61 });
    expect(refused.tightest).toMatchObject({ limit: "50", remaining: "0", scope: "key", metric: "requests" });
  });

  test("a refused call is not counted", () => {
    const limiter = createMemoryLimiter([limit({ scope: "key", subject: "key_a", amount: "1" })]);
    expect(admitNow(limiter, { key: "key_a" }, T0).allowed).toBe(true);
    for (let i = 0; i < 5; i++) expect(admitNow(limiter, { key: "key_a" }, T0 + 1000 * i).allowed).toBe(false);
    expect(admitNow(limiter, { key: "key_a" }, T0 + 61_000).allowed).toBe(true);
  });

  test("usage leaves the window one sub-bucket (1/60 of it) after the window, never before", () => {
    const limiter = createMemoryLimiter([limit({ scope: "key", subject: "key_a", amount: "2" })]);
    admitNow(limiter, { key: "key_a" }, T0);
    admitNow(limiter, { key: "key_a" }, T0 + 30_000);
    expect(admitNow(limiter, { key: "key_a" }, T0 + 60_000).allowed).toBe(false);
    expect(admitNow(limiter, { key: "key_a" }, T0 + 60_999).allowed).toBe(false);
    expect(admitNow(limiter, { key: "key_a" }, T0 + 61_000).allowed).toBe(true);
    expect(admitNow(limiter, { key: "key_a" }, T0 + 61_001).allowed).toBe(false);
  });

  test("no 60-second stretch ever holds more admitted calls than the amount (random arrivals)", () => {
    const limiter = createMemoryLimiter([limit({ scope: "user", subject: "u", amount: "7" })]);
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const admitted: number[] = [];
    let now = T0;
    for (let i = 0; i < 3000; i++) {
      now += Math.floor(random() * 4000);
      if (admitNow(limiter, { user: "u" }, now).allowed) admitted.push(now);
    }
    let worst = 0;
    for (let first = 0, last = 0; last < admitted.length; last++) {
      while (admitted[last]! - admitted[first]! >= 60_000) first++;
      worst = Math.max(worst, last - first + 1);
    }
    expect(worst).toBe(7);
    expect(admitted.length).toBeGreaterThan(300);
  });

  test("a one-day window counts in 24-minute sub-buckets", () => {
    const limiter = createMemoryLimiter([limit({ scope: "key", subject: "key_a", amount: "1", window: { seconds: 86_400 } })]);
    admitNow(limiter, { key: "key_a" }, T0);
    const refused = admitNow(limiter, { key: "key_a" }, T0 + 3_600_000);
    expect(refused.blocked?.retryAfterS).toBe(86_400 + 1440 - 3600);
    expect(admitNow(limiter, { key: "key_a" }, T0 + 86_400_000 + 1_440_000).allowed).toBe(true);
  });

  test("200 concurrent admits against 50 per minute: exactly 50 pass", async () => {
    const limiter = createMemoryLimiter([limit({ scope: "key", subject: "key_a" })]);
    const results = await Promise.all(Array.from({ length: 200 }, async () => (await limiter.admit({ key: "key_a" })).allowed));
    expect(results.filter(Boolean).length).toBe(50);
  });
});

describe("calendar budgets (UTC)", () => {
  test("periods: a UTC day, an ISO week from Monday, a month", () => {
    const wednesday = at("2026-03-04T15:30:00Z");
    expect(periodBounds("day", wednesday)).toEqual({ start: at("2026-03-04T00:00:00Z"), end: at("2026-03-05T00:00:00Z"), label: "2026-03-04" });
    expect(periodBounds("week", wednesday)).toEqual({ start: at("2026-03-02T00:00:00Z"), end: at("2026-03-09T00:00:00Z"), label: "2026-03-02" });
    expect(periodBounds("week", at("2026-03-08T23:59:59.999Z")).start).toBe(at("2026-03-02T00:00:00Z"));
    expect(periodBounds("week", at("2026-03-09T00:00:00Z")).start).toBe(at("2026-03-09T00:00:00Z"));
    expect(periodBounds("month", wednesday)).toEqual({ start: at("2026-03-01T00:00:00Z"), end: at("2026-04-01T00:00:00Z"), label: "2026-03-01" });
    expect(periodBounds("month", at("2028-02-29T23:00:00Z")).end).toBe(at("2028-03-01T00:00:00Z"));
    expect(periodBounds("month", at("2026-12-31T23:59:59.999Z")).end).toBe(at("2027-01-01T00:00:00Z"));
  });

  test("a daily budget resets at midnight UTC, not a moment before", () => {
    const limiter = createMemoryLimiter([limit({ scope: "project", subject: "acme", amount: "2", window: { period: "day" } })]);
    admitNow(limiter, { project: "acme" }, at("2026-03-04T08:00:00Z"));
    admitNow(limiter, { project: "acme" }, at("2026-03-04T20:00:00Z"));
    const refused = admitNow(limiter, { project: "acme" }, at("2026-03-04T23:59:59.500Z"));
    expect(refused.blocked).toMatchObject({ scope: "project", subject: "acme", window: { period: "day" }, retryAfterS: 1 });
    expect(admitNow(limiter, { project: "acme" }, at("2026-03-05T00:00:00Z")).allowed).toBe(true);
  });

  test("a weekly budget runs Monday to Sunday", () => {
    const limiter = createMemoryLimiter([limit({ scope: "user", subject: "ann", amount: "1", window: { period: "week" } })]);
    expect(admitNow(limiter, { user: "ann" }, at("2026-03-02T00:00:00Z")).allowed).toBe(true);
    expect(admitNow(limiter, { user: "ann" }, at("2026-03-08T23:59:59Z")).allowed).toBe(false);
    expect(admitNow(limiter, { user: "ann" }, at("2026-03-09T00:00:00Z")).allowed).toBe(true);
  });

  test("a monthly budget: Retry-After runs to the first of next month", () => {
    const limiter = createMemoryLimiter([limit({ scope: "key", subject: "key_a", amount: "1", window: { period: "month" } })]);
    admitNow(limiter, { key: "key_a" }, at("2026-02-10T00:00:00Z"));
    expect(admitNow(limiter, { key: "key_a" }, at("2026-02-28T00:00:00Z")).blocked?.retryAfterS).toBe(86_400);
    expect(admitNow(limiter, { key: "key_a" }, at("2026-03-01T00:00:00Z")).allowed).toBe(true);
  });
});

describe("model limits", () => {
  test("a pattern matches the models it fits and counts them together; the 429 names the model and the pattern", () => {
    const limiter = createMemoryLimiter([limit({ scope: "model", subject: "gpt-4o*", amount: "2" })]);
    expect(admitNow(limiter, { model: "gpt-4.1" }, T0).tightest).toBeUndefined();
    expect(admitNow(limiter, { model: "gpt-4o" }, T0).allowed).toBe(true);
    expect(admitNow(limiter, { model: "gpt-4o-mini" }, T0).allowed).toBe(true);
    expect(admitNow(limiter, { model: "gpt-4o-mini" }, T0).blocked).toMatchObject({ scope: "model", subject: "gpt-4o-mini", pattern: "gpt-4o*" });
    expect(admitNow(limiter, { model: "gpt-4.1" }, T0).allowed).toBe(true);
  });

  test("an exact model limit and a pattern both apply", () => {
    const limiter = createMemoryLimiter([limit({ scope: "model", subject: "claude-*", amount: "10" }), limit({ scope: "model", subject: "claude-opus-4", amount: "1" })]);
    expect(admitNow(limiter, { model: "claude-opus-4" }, T0).allowed).toBe(true);
    const refused = admitNow(limiter, { model: "claude-opus-4" }, T0);
    expect(refused.blocked).toMatchObject({ subject: "claude-opus-4", amount: "1" });
    expect(refused.blocked?.pattern).toBeUndefined();
    expect(admitNow(limiter, { model: "claude-haiku-4" }, T0).tightest).toMatchObject({ limit: "10", remaining: "8" });
  });
});

describe("headers and warnings", () => {
  test("the tightest limit is the one with the smallest share left", () => {
    const limiter = createMemoryLimiter([
      limit({ scope: "key", subject: "key_a", amount: "100" }),
      limit({ scope: "project", subject: "acme", amount: "10", window: { seconds: 3600 } }),
      limit({ scope: "user", subject: "ann", metric: "tokens", amount: "1000", window: { period: "day" } }),
    ]);
    const subjects = { key: "key_a", project: "acme", user: "ann" };
    const first = admitNow(limiter, subjects, T0);
    // The project's 10/h has 9 left (90%); the key's 99 of 100; the tokens budget all of it.
    expect(first.tightest).toEqual({ scope: "project", metric: "requests", limit: "10", remaining: "9", resetS: 3660 });
    limiter.settle(first, { tokens: 950, costNano: 0n }, T0 + 1000);
    expect(admitNow(limiter, subjects, T0 + 2000).tightest).toEqual({ scope: "user", metric: "tokens", limit: "1000", remaining: "50", resetS: at("2026-03-05T00:00:00Z") / 1000 - (T0 + 2000) / 1000 });
  });

  test("on a tie the requests limit gives the headers", () => {
    const limiter = createMemoryLimiter([limit({ scope: "key", subject: "key_a", metric: "tokens", amount: "10" }), limit({ scope: "project", subject: "acme", amount: "1" })]);
    limiter.settle(admitNow(limiter, { key: "key_a" }, T0), { tokens: 10, costNano: 0n }, T0);
    expect(admitNow(limiter, { key: "key_a", project: "acme" }, T0).blocked).toMatchObject({ scope: "key", metric: "tokens" });
    const fresh = createMemoryLimiter([limit({ scope: "key", subject: "key_a", metric: "tokens", amount: "2" }), limit({ scope: "project", subject: "acme", amount: "2" })]);
    const admission = admitNow(fresh, { key: "key_a", project: "acme" }, T0);
    fresh.settle(admission, { tokens: 1, costNano: 0n }, T0);
    expect(admitNow(fresh, { key: "key_a", project: "acme" }, T0).tightest).toMatchObject({ scope: "project", metric: "requests", remaining: "0" });
  });

  test("soft thresholds warn from their percentage on", () => {
    const limiter = createMemoryLimiter([limit({ scope: "project", subject: "acme", metric: "usd", amount: "1000000000", window: { period: "month" }, soft_pct: 80 })]);
    const first = admitNow(limiter, { project: "acme" }, T0);
    expect(first.warnings).toEqual([]);
    limiter.settle(first, { tokens: 0, costNano: 799_999_999n }, T0);
    expect(admitNow(limiter, { project: "acme" }, T0).warnings).toEqual([]);
    limiter.settle(first, { tokens: 0, costNano: 50_000_001n }, T0);
    expect(admitNow(limiter, { project: "acme" }, T0).warnings).toEqual(["project:acme usd/month 85% (soft 80%)"]);
  });

  test("a requests limit warns counting the call being admitted", () => {
    const limiter = createMemoryLimiter([limit({ scope: "key", subject: "key_a", amount: "4", soft_pct: 50 })]);
    expect(admitNow(limiter, { key: "key_a" }, T0).warnings).toEqual([]);
    expect(admitNow(limiter, { key: "key_a" }, T0).warnings).toEqual(["key:key_a requests/60s 50% (soft 50%)"]);
  });
});

describe("settling usage", () => {
  test("needsUsage only when a tokens or usd limit applies", () => {
    const limiter = createMemoryLimiter([limit({ scope: "key", subject: "key_a" }), limit({ scope: "model", subject: "gpt-*", metric: "tokens", amount: "100" })]);
    expect(admitNow(limiter, { key: "key_a", model: "claude-x" }, T0).needsUsage).toBe(false);
    expect(admitNow(limiter, { key: "key_a", model: "gpt-4o" }, T0).needsUsage).toBe(true);
  });

  test("tokens add up; the budget blocks once reached, until the window moves on", () => {
    const limiter = createMemoryLimiter([limit({ scope: "key", subject: "key_a", metric: "tokens", amount: "1000", window: { seconds: 3600 } })]);
    limiter.settle(admitNow(limiter, { key: "key_a" }, T0), { tokens: 600, costNano: 5n }, T0);
    limiter.settle(admitNow(limiter, { key: "key_a" }, T0 + 60_000), { tokens: 399, costNano: 5n }, T0 + 60_000);
    const third = admitNow(limiter, { key: "key_a" }, T0 + 120_000);
    expect(third.tightest).toMatchObject({ remaining: "1" });
    limiter.settle(third, { tokens: 1, costNano: 5n }, T0 + 120_000);
    const refused = admitNow(limiter, { key: "key_a" }, T0 + 180_000);
    expect(refused.blocked).toMatchObject({ metric: "tokens", used: "1000", amount: "1000" });
    // The first 600 leave after an hour and a sub-bucket (60 s): then 400 are counted.
    expect(refused.blocked?.retryAfterS).toBe(3600 + 60 - 180);
    expect(admitNow(limiter, { key: "key_a" }, T0 + 3_660_000).tightest).toMatchObject({ remaining: "600" });
  });

  test("usd in exact nano-USD", () => {
    const limiter = createMemoryLimiter([limit({ scope: "project", subject: "acme", metric: "usd", amount: "3000000001", window: { period: "day" } })]);
    for (let i = 0; i < 3; i++) limiter.settle(admitNow(limiter, { project: "acme" }, T0), { tokens: 0, costNano: 1_000_000_000n }, T0);
    const fourth = admitNow(limiter, { project: "acme" }, T0);
    expect(fourth.allowed).toBe(true);
    expect(fourth.tightest).toMatchObject({ metric: "usd", limit: "3000000001", remaining: "1" });
    limiter.settle(fourth, { tokens: 0, costNano: 1n }, T0);
    expect(admitNow(limiter, { project: "acme" }, T0).blocked).toMatchObject({ metric: "usd", used: "3000000001" });
  });

  test("a stream that pushes a budget over finishes; the next call is refused", () => {
    const limiter = createMemoryLimiter([limit({ scope: "user", subject: "ann", metric: "usd", amount: "1000000000", window: { period: "day" } })]);
    const stream = admitNow(limiter, { user: "ann" }, T0);
    expect(stream.allowed).toBe(true);
    limiter.settle(stream, { tokens: 90_000, costNano: 1_500_000_000n }, T0 + 30_000);
    const next = admitNow(limiter, { user: "ann" }, T0 + 31_000);
    expect(next.allowed).toBe(false);
    expect(next.blocked).toMatchObject({ scope: "user", subject: "ann", metric: "usd", used: "1500000000", retryAfterS: 12 * 3600 - 31 });
    expect(next.tightest).toMatchObject({ remaining: "0" });
  });

  test("usage that is not a positive figure adds nothing; fractional tokens round", () => {
    const limiter = createMemoryLimiter([limit({ scope: "key", subject: "key_a", metric: "tokens", amount: "10" }), limit({ scope: "key", subject: "key_a", metric: "usd", amount: "10" })]);
    const admission = admitNow(limiter, { key: "key_a" }, T0);
    limiter.settle(admission, { tokens: Number.NaN, costNano: -5n }, T0);
    limiter.settle(admission, { tokens: -3, costNano: 0n }, T0);
    limiter.settle(admission, { tokens: 2.6, costNano: 4n }, T0);
    expect(admitNow(limiter, { key: "key_a" }, T0).tightest).toMatchObject({ metric: "usd", remaining: "6" });
    limiter.settle(admission, { tokens: 5, costNano: 0n }, T0);
    expect(admitNow(limiter, { key: "key_a" }, T0).tightest).toMatchObject({ metric: "tokens", remaining: "2" });
  });

  test("settling an admission without tokens or usd limits does nothing", () => {
    const limiter = createMemoryLimiter([limit({ scope: "key", subject: "key_a", amount: "2" })]);
    limiter.settle(admitNow(limiter, { key: "key_a" }, T0), { tokens: 10, costNano: 10n }, T0);
    expect(admitNow(limiter, { key: "key_a" }, T0).tightest).toMatchObject({ remaining: "0" });
  });
});

describe("usage for the admin API", () => {
  test("a sliding window: the calls counted now, and seconds until the oldest leaves; reading moves nothing", async () => {
    const def = limit({ scope: "key", subject: "key_a" });
    const limiter = createMemoryLimiter([def]);
    for (let i = 0; i < 3; i++) admitNow(limiter, { key: "key_a" }, T0 + 1000 * i);
    expect(await limiter.usage(def, T0 + 2500)).toEqual({ used: "3", resetS: 59 });
    // A read far ahead leaves the ring where it was: the same read again gives the same figures.
    expect(await limiter.usage(def, T0 + 3_600_000)).toEqual({ used: "0", resetS: 0 });
    expect(await limiter.usage(def, T0 + 2500)).toEqual({ used: "3", resetS: 59 });
    admitNow(limiter, { key: "key_a" }, T0 + 2600);
    expect(await limiter.usage(def, T0 + 2700)).toEqual({ used: "4", resetS: 59 });
    // The first call leaves a window and a sub-bucket after it was counted.
    expect(await limiter.usage(def, T0 + 60_999)).toEqual({ used: "4", resetS: 1 });
    expect(await limiter.usage(def, T0 + 61_000)).toEqual({ used: "3", resetS: 1 });
    expect(await limiter.usage(def, T0 + 62_000)).toEqual({ used: "2", resetS: 1 });
    expect(await limiter.usage(def, T0 + 63_000)).toEqual({ used: "0", resetS: 0 });
  });

  test("tokens and exact nano-USD after settles; a day's budget drops to zero at midnight UTC", async () => {
    const tokens = limit({ scope: "project", subject: "acme", metric: "tokens", amount: "100000", window: { seconds: 3600 } });
    const usd = limit({ scope: "project", subject: "acme", metric: "usd", amount: "9000000000", window: { period: "day" } });
    const limiter = createMemoryLimiter([tokens, usd]);
    limiter.settle(admitNow(limiter, { project: "acme" }, T0), { tokens: 600, costNano: 1_000_000_001n }, T0);
    limiter.settle(admitNow(limiter, { project: "acme" }, T0 + 60_000), { tokens: 399, costNano: 2_500_000_000n }, T0 + 60_000);
    expect(await limiter.usage(tokens, T0 + 60_000)).toEqual({ used: "999", resetS: 3600 });
    expect(await limiter.usage(usd, T0 + 60_000)).toEqual({ used: "3500000001", resetS: 12 * 3600 - 60 });
    expect(await limiter.usage(tokens, T0 + 3_660_000)).toEqual({ used: "399", resetS: 60 });
    expect(await limiter.usage(usd, at("2026-03-05T00:00:00Z"))).toEqual({ used: "0", resetS: 0 });
    expect(await limiter.usage(usd, at("2026-03-04T23:59:59Z"))).toEqual({ used: "3500000001", resetS: 1 });
  });

  test("a model pattern has one figure for every model it fits; an undefined limit has none; the amount does not matter", async () => {
    const pattern = limit({ scope: "model", subject: "gpt-4o*", amount: "10" });
    const exact = limit({ scope: "model", subject: "gpt-4o-mini", amount: "10" });
    const limiter = createMemoryLimiter([pattern, exact]);
    admitNow(limiter, { model: "gpt-4o" }, T0);
    admitNow(limiter, { model: "gpt-4o-mini" }, T0);
    admitNow(limiter, { model: "gpt-4o-mini" }, T0);
    expect((await limiter.usage(pattern, T0))?.used).toBe("3");
    expect((await limiter.usage(exact, T0))?.used).toBe("2");
    expect((await limiter.usage({ ...pattern, amount: "99" }, T0))?.used).toBe("3");
    expect(await limiter.usage(limit({ scope: "model", subject: "gpt-4o" }), T0)).toBeUndefined();
    expect(await limiter.usage({ ...pattern, window: { seconds: 3600 } }, T0)).toBeUndefined();
  });
});

describe("changing definitions", () => {
  test("counters of limits that stay are kept; a changed amount applies at once; a removed limit no longer applies", () => {
    const limiter = createMemoryLimiter([limit({ scope: "key", subject: "key_a", amount: "5" }), limit({ scope: "project", subject: "acme", amount: "5" })]);
    for (let i = 0; i < 3; i++) admitNow(limiter, { key: "key_a", project: "acme" }, T0);
    limiter.use([limit({ scope: "key", subject: "key_a", amount: "4" })]);
    expect(admitNow(limiter, { key: "key_a", project: "acme" }, T0).tightest).toEqual({ scope: "key", metric: "requests", limit: "4", remaining: "0", resetS: 61 });
    expect(admitNow(limiter, { key: "key_a", project: "acme" }, T0).allowed).toBe(false);
    limiter.use([]);
    expect(limiter.empty).toBe(true);
  });
});
