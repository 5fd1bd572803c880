import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { CommandTimeoutError, createCommandDeadlines, type CommandDeadlines } from "../../src/limits/command-deadlines.ts";

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

const never = () => new Promise<never>(() => {});

describe("command deadlines", () => {
  test("an answer in time passes through, value or error, and nothing is left open", async () => {
    const guard = deadlines(50);
    expect(await guard.guard(Promise.resolve(7))).toBe(7);
    const refused = new Error("NOSCRIPT No matching script");
    expect(await outcome(guard.guard(Promise.reject(refused)), 0)).toMatchObject({ error: refused });
    expect(guard.open).toBe(0);
  });

  test("no answer: rejected with CommandTimeoutError once the time is up, not before", async () => {
    const guard = deadlines(60);
    const started = performance.now();
    const result = await outcome(guard.guard(never()), started);
    expect(result.error).toBeInstanceOf(CommandTimeoutError);
    expect(result.ms).toBeGreaterThanOrEqual(60);
    expect(result.ms).toBeLessThan(60 + 40);
    expect(guard.open).toBe(0);
  });

  test("each command gets its own full time: one sent later times out later", async () => {
    const guard = deadlines(80);
    const started = performance.now();
    const first = outcome(guard.guard(never()), started);
    await Bun.sleep(40);
    const second = outcome(guard.guard(never()), started);
    const answered = guard.guard(Bun.sleep(60).then(() => "late but in time"));
    const [a, b] = await Promise.all([first, second]);
    expect(a.ms).toBeGreaterThanOrEqual(80);
    expect(a.ms).toBeLessThan(80 + 30);
    expect(b.ms).toBeGreaterThanOrEqual(40 + 80);
    expect(b.ms).toBeLessThan(40 + 80 + 30);
    expect(await answered).toBe("late but in time");
  });

  test("one timer for many commands, not one each", async () => {
    const guard = deadlines(40);
    const timers = spyOn(globalThis, "setTimeout");
    try {
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < 1000; i++) pending.push(guard.guard(i % 2 ? Promise.resolve(i) : never()).catch((error: unknown) => error));
      await Bun.sleep(1);
      expect(guard.open).toBe(500);
      const results = await Promise.all(pending);
      expect(results.filter((result) => result instanceof CommandTimeoutError)).toHaveLength(500);
      // The first deadline, a millisecond for the sockets, and the same again for those sent a moment later.
      expect(timers.mock.calls.length).toBeLessThan(10);
    } finally {
      timers.mockRestore();
    }
  });

  test("an answer after the time is up changes nothing and is not reported as unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const guard = deadlines(20);
      const late = Bun.sleep(60).then(() => {
        throw new Error("connection closed");
      });
      const result = await outcome(guard.guard(late), performance.now());
      expect(result.error).toBeInstanceOf(CommandTimeoutError);
      await Bun.sleep(80);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
