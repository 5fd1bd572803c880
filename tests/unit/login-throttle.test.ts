import { describe, expect, test } from "bun:test";
import { createLoginThrottle } from "../../src/dashboard/login-throttle.ts";

/** The throttle on a clock the test moves. */
function throttled(options: Parameters<typeof createLoginThrottle>[0] = {}) {
  let t = 1_000_000;
  const throttle = createLoginThrottle({ ...options, now: () => t });
  return { throttle, advance: (ms: number) => void (t += ms) };
}

describe("login throttle", () => {
  test("5 failures within a minute lock the address for a minute from the 5th; other addresses are free", () => {
    const { throttle, advance } = throttled();
    for (let i = 0; i < 4; i++) {
      throttle.failed("a");
      expect(throttle.retryAfterS("a")).toBe(0);
      advance(1_000);
    }
    throttle.failed("a");
    expect(throttle.retryAfterS("a")).toBe(60);
    expect(throttle.retryAfterS("b")).toBe(0);
    advance(59_500);
    expect(throttle.retryAfterS("a")).toBe(1);
  });

  test("the counter resets when the lockout passes: one more failure then is no lockout", () => {
    const { throttle, advance } = throttled();
    for (let i = 0; i < 5; i++) throttle.failed("a");
    advance(60_000);
    expect(throttle.retryAfterS("a")).toBe(0);
    throttle.failed("a");
    expect(throttle.retryAfterS("a")).toBe(0);
  });

  test("failures older than the window do not count; a success starts the count over", () => {
    const { throttle, advance } = throttled();
    for (let i = 0; i < 4; i++) throttle.failed("a");
    advance(61_000);
    throttle.failed("a");
    expect(throttle.retryAfterS("a")).toBe(0);
    for (let i = 0; i < 3; i++) throttle.failed("a");
    throttle.succeeded("a");
    for (let i = 0; i < 4; i++) throttle.failed("a");
    expect(throttle.retryAfterS("a")).toBe(0);
    throttle.failed("a");
    expect(throttle.retryAfterS("a")).toBe(60);
  });

  test("the addresses kept are bounded: the oldest is forgotten first", () => {
    const { throttle } = throttled({ maxAddresses: 2, maxFailures: 1 });
    throttle.failed("a");
    throttle.failed("b");
    throttle.failed("c");
    expect([throttle.retryAfterS("a"), throttle.retryAfterS("b"), throttle.retryAfterS("c")]).toEqual([0, 60, 60]);
  });
});
