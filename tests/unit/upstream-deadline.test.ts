import { expect, test } from "bun:test";
import { createUpstreamDeadlines, UpstreamTimeoutError } from "../../src/proxy/upstream-deadline.ts";

test("one timer serves every call's deadline: answers in time pass, late ones expire once, in order", async () => {
  const deadlines = createUpstreamDeadlines(60);
  const expired: string[] = [];
  const never = new Promise<string>(() => {});
  const started = performance.now();
  const fast = deadlines.race(Bun.sleep(10).then(() => "fast"), () => expired.push("fast"));
  const slow1 = deadlines.race(never, () => expired.push("slow1"));
  await Bun.sleep(20);
  const slow2 = deadlines.race(never, () => expired.push("slow2"));
  const failing = deadlines.race(Promise.reject(new Error("refused")), () => expired.push("failing"));

  expect(await fast).toBe("fast");
  await expect(failing).rejects.toThrow("refused");
  await expect(slow1).rejects.toBeInstanceOf(UpstreamTimeoutError);
  const first = performance.now() - started;
  expect(expired).toEqual(["slow1"]);
  await expect(slow2).rejects.toBeInstanceOf(UpstreamTimeoutError);
  const second = performance.now() - started;
  expect(expired).toEqual(["slow1", "slow2"]);
  // Each waited its own 60 ms, from when it began.
  expect(first).toBeGreaterThanOrEqual(59);
  expect(second).toBeGreaterThanOrEqual(79);
  expect(second - first).toBeGreaterThan(10);
});
