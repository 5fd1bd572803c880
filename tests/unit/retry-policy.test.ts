import { describe, expect, test } from "bun:test";
import { nextWait, requestedWait, retrySchema } from "../../src/routing/retry-policy.ts";

const policy = retrySchema.parse({ attempts: 3, backoffMs: 100, maxBackoffMs: 1000 });
const status = (code: number, headers: { retryAfter?: string; retryAfterMs?: string; shouldRetry?: string } = {}) => ({
  status: code,
  retryAfter: headers.retryAfter ?? null,
  retryAfterMs: headers.retryAfterMs ?? null,
  shouldRetry: headers.shouldRetry ?? null,
});

describe("the retry policy", () => {
  test("retries the statuses and failures it names, attempts times in all", () => {
    expect(nextWait(policy, 1, status(429), () => 0.5)).toBe(50);
    expect(nextWait(policy, 2, status(503), () => 0.5)).toBe(100); // the ceiling doubles
    expect(nextWait(policy, 3, status(503))).toBeUndefined(); // the last attempt
    expect(nextWait(policy, 1, status(400))).toBeUndefined();
    expect(nextWait(policy, 1, status(501))).toBeUndefined();
    expect(nextWait(policy, 1, { failure: "connect" }, () => 0)).toBe(0);
    expect(nextWait(retrySchema.parse({ attempts: 3, on: [429] }), 1, { failure: "timeout" })).toBeUndefined();
    expect(nextWait(retrySchema.parse({}), 1, status(429))).toBeUndefined(); // default: one attempt, no retry
  });

  test("full jitter stays under the capped ceiling", () => {
    for (let attempt = 1; attempt < 3; attempt++) {
      for (const r of [0, 0.3, 0.999]) expect(nextWait(policy, attempt, status(500), () => r)!).toBeLessThan(Math.min(1000, 100 * 2 ** (attempt - 1)));
    }
  });

  test("the upstream's own wait wins when it fits; a longer one goes back to the client", () => {
    expect(nextWait(policy, 1, status(429, { retryAfter: "0.4" }))).toBe(400);
    expect(nextWait(policy, 1, status(429, { retryAfterMs: "120" }))).toBe(120);
    expect(nextWait(policy, 1, status(429, { retryAfter: "30" }))).toBeUndefined();
    expect(requestedWait({ retryAfter: new Date(Date.parse("2026-01-01T00:00:10Z")).toUTCString(), retryAfterMs: null }, Date.parse("2026-01-01T00:00:00Z"))).toBe(10_000);
  });

  test("x-should-retry overrides the status rule", () => {
    expect(nextWait(policy, 1, status(429, { shouldRetry: "false" }))).toBeUndefined();
    expect(nextWait(policy, 1, status(409, { shouldRetry: "true" }), () => 0)).toBe(0);
  });

  test("a malformed policy is refused with the field named", () => {
    const result = retrySchema.safeParse({ attempts: 0, on: [200] });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path.join("."))).toEqual(["attempts", "on.0"]);
  });
});
