import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { CommandTimeoutError, createCommandDeadlines, type CommandDeadlines } from "../../src/limits/command-deadlines.ts";

/** How late a timer may fire on a loaded machine (other test suites beside this one). */
const SLACK_MS = 200;

const made: CommandDeadlines[] = [];
afterEach(() => {
  for (const deadlines of made.splice(0)) deadlines.stop();
});

function deadlines(ms: number): CommandDeadlines {
  const created = createCommandDeadlines(ms);
  made.push(created);
  return created;
}

/** When `pending` settles, in ms after `started`, and how. */
async function outcome(pending: Promise<unknown>, started: number): Promise<{ ms: number; value?: unknown; error?: unknown }> {
  try {
    const value = await pending;
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

describe("command deadlines", () => {
  test("an answer in time passes through, value or error", async () => {
    const guard = deadlines(50);
    const answered = guard.start<number>();
    answered.resolve(7);
    expect(await answered.promise).toBe(7);
    const refused = guard.start<number>();
    const error = new Error("NOSCRIPT No matching script");
    refused.reject(error);
    expect(await outcome(refused.promise, 0)).toMatchObject({ error });
    // The deadline passing later changes neither.
    await Bun.sleep(80);
    expect(await answered.promise).toBe(7);
  });

  test("no answer: failed with CommandTimeoutError once the time is up, not before", async () => {
    const guard = deadlines(60);
    const started = performance.now();
    const result = await outcome(guard.start().promise, started);
    expect(result.error).toBeInstanceOf(CommandTimeoutError);
    expect(result.ms).toBeGreaterThanOrEqual(60);
    expect(result.ms).toBeLessThan(60 + SLACK_MS);
  });

  test("each command gets its own full time: one started later times out later", async () => {
    const guard = deadlines(80);
    const started = performance.now();
    const first = outcome(guard.start().promise, started);
    await Bun.sleep(40);
    const second = outcome(guard.start().promise, started);
    const answered = guard.start<string>();
    setTimeout(() => answered.resolve("late but in time"), 60);
    const [a, b] = await Promise.all([first, second]);
    expect(a.ms).toBeGreaterThanOrEqual(80);
    expect(a.ms).toBeLessThan(80 + SLACK_MS);
    expect(b.ms).toBeGreaterThanOrEqual(40 + 80);
    expect(b.ms).toBeGreaterThanOrEqual(a.ms);
    expect(b.ms).toBeLessThan(40 + 80 + SLACK_MS);
    expect(await answered.promise).toBe("late but in time");
  });

  test("one timer for many commands, not one each", async () => {
    const guard = deadlines(40);
    const timers = spyOn(globalThis, "setTimeout");
    try {
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < 1000; i++) {
        const command = guard.start<number>();
        if (i % 2) command.resolve(i);
        pending.push(command.promise.catch((error: unknown) => error));
      }
      const results = await Promise.all(pending);
      expect(results.filter((result) => result instanceof CommandTimeoutError)).toHaveLength(500);
      expect(results.filter((result) => typeof result === "number")).toHaveLength(500);
      // The first deadline, a millisecond for the sockets, and the same again for those started a moment later.
      expect(timers.mock.calls.length).toBeLessThan(10);
    } finally {
      timers.mockRestore();
    }
  });

  test("an answer after the time is up changes nothing and nothing is reported as unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const guard = deadlines(20);
      const late = guard.start<string>();
      const result = outcome(late.promise, performance.now());
      // Answered ones are failed at their deadline too, which must do nothing.
      const answered = guard.start<string>();
      answered.resolve("early");
      await Bun.sleep(60);
      late.reject(new Error("connection closed"));
      late.resolve("too late");
      expect((await result).error).toBeInstanceOf(CommandTimeoutError);
      expect(await answered.promise).toBe("early");
      await Bun.sleep(20);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
