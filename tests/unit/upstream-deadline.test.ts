import { expect, test } from "bun:test";
import { createUpstreamDeadlines, UpstreamTimeoutError } from "../../src/proxy/upstream-deadline.ts";

test("one timer serves every call's deadline: cleared ones never fire, due ones abort once, each after its own timeout", async () => {
  const deadlines = createUpstreamDeadlines(60);
  const started = performance.now();
  const abortedAt = new Map<string, number>();
  const controller = (name: string) => {
    const c = new AbortController();
    c.signal.addEventListener("abort", () => abortedAt.set(name, performance.now() - started));
    return c;
  };
  const answered = controller("answered");
  const slow1 = controller("slow1");
  deadlines.arm(slow1);
  deadlines.arm(answered).clear();
  await Bun.sleep(20);
  const slow2 = controller("slow2");
  deadlines.arm(slow2);
  await Bun.sleep(120);

  expect([...abortedAt.keys()]).toEqual(["slow1", "slow2"]);
  expect(slow1.signal.reason).toBeInstanceOf(UpstreamTimeoutError);
  expect(slow2.signal.reason).toBeInstanceOf(UpstreamTimeoutError);
  expect(answered.signal.aborted).toBe(false);
  // Each waited its own 60 ms, from when it began.
  expect(abortedAt.get("slow1")!).toBeGreaterThanOrEqual(59);
  expect(abortedAt.get("slow2")!).toBeGreaterThanOrEqual(79);
  expect(abortedAt.get("slow2")! - abortedAt.get("slow1")!).toBeGreaterThan(10);
});
