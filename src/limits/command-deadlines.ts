/**
 * A time limit on Redis commands, for Bun's Redis client, which has none of
 * its own. Every command gets the same limit, so deadlines come in the order
 * commands are sent: one queue, and one timer armed for the oldest deadline.
 * A command's promise is failed at its deadline whether or not it was
 * answered: failing a settled promise does nothing, so an answer needs no
 * bookkeeping here. (A setTimeout and clearTimeout per command measured about
 * the same, 0.3 µs a command; a tenth of what the client spends on an admit.)
 *
 * A command past its deadline fails a millisecond later, once the event loop
 * has read the sockets: after the loop was held up (a long GC, a starved CPU)
 * due timers run before pending reads, and answers already there would be
 * failed unread.
 */
export interface CommandDeadlines {
  /** A command's promise and what settles it; unsettled `ms` after this call, it fails with CommandTimeoutError. */
  start<T>(): PromiseWithResolvers<T>;
  /** Stops the timer; commands still open are left to settle by themselves. */
  stop(): void;
}

export class CommandTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = "CommandTimeoutError";
  }
}

interface Deadline {
  at: number;
  fail(error: Error): void;
}

export function createCommandDeadlines(ms: number): CommandDeadlines {
  let queue: Deadline[] = [];
  let head = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The sweep found a deadline passed and let the event loop read the sockets once before failing anything. */
  let readFirst = false;

  function arm(delay: number): void {
    timer = setTimeout(sweep, delay);
    (timer as { unref?: () => void }).unref?.();
  }

  function sweep(): void {
    timer = undefined;
    const now = performance.now();
    if (!readFirst && head < queue.length && queue[head]!.at <= now) {
      readFirst = true;
      return arm(1);
    }
    readFirst = false;
    // One error for the whole sweep: most of these commands were answered long ago, and failing them does nothing.
    let error: Error | undefined;
    while (head < queue.length && queue[head]!.at <= now) queue[head++]!.fail((error ??= new CommandTimeoutError(ms)));
    if (head === queue.length) {
      queue = [];
      head = 0;
      return;
    }
    // Drop the swept front once it is most of the queue (amortised O(1) per command).
    if (head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    // +1: a timer may fire a fraction of a millisecond early.
    arm(queue[head]!.at - now + 1);
  }

  return {
    start<T>() {
      const command = Promise.withResolvers<T>();
      queue.push({ at: performance.now() + ms, fail: command.reject });
      if (timer === undefined) arm(ms + 1);
      return command;
    },
    stop() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
