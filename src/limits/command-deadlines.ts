/**
 * A time limit on Redis commands, for Bun's Redis client, which has none of
 * its own. Every command gets the same limit, so deadlines come in the order
 * commands are sent: one queue, and one timer armed for the oldest deadline
 * still open, whatever the number in flight. (A setTimeout and clearTimeout per
 * command measured the same in isolation, about 0.3 µs a command either way,
 * a tenth of what the client itself spends on an admit.) A command past its
 * deadline fails a millisecond later, once the event loop has read the
 * sockets: an answer that came while the loop was held up is not failed.
 */
export interface CommandDeadlines {
  /** `pending`, or a rejection with CommandTimeoutError once `ms` have passed without it settling. */
  guard<T>(pending: Promise<T>): Promise<T>;
  /** Commands guarded and not yet settled or timed out. */
  readonly open: number;
  /** Stops the timer; commands still open are left to settle by themselves. */
  stop(): void;
}

export class CommandTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = "CommandTimeoutError";
  }
}

interface Open {
  deadline: number;
  reject: ((error: Error) => void) | undefined;
}

export function createCommandDeadlines(ms: number): CommandDeadlines {
  const queue: Open[] = [];
  let head = 0;
  let open = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The sweep found a command past its deadline and let the event loop read the sockets once before failing it. */
  let readFirst = false;

  function arm(delay: number): void {
    timer = setTimeout(sweep, delay);
    (timer as { unref?: () => void }).unref?.();
  }

  function sweep(): void {
    timer = undefined;
    const now = performance.now();
    while (head < queue.length && queue[head]!.reject === undefined) head++;
    const oldest = queue[head];
    // After the event loop was held up (a long GC, a busy CPU), due timers run before the sockets are read:
    // answers that came in meanwhile would be failed unread. One millisecond's wait lets the loop read them.
    if (oldest !== undefined && oldest.deadline <= now && !readFirst) {
      readFirst = true;
      return arm(1);
    }
    readFirst = false;
    while (head < queue.length) {
      const entry = queue[head]!;
      if (entry.reject !== undefined) {
        if (entry.deadline > now) break;
        const reject = entry.reject;
        entry.reject = undefined;
        open--;
        reject(new CommandTimeoutError(ms));
      }
      head++;
    }
    // Drop the settled front of the queue once it is most of it (amortised O(1) per command).
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    } else if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    // +1: a timer may fire a fraction of a millisecond early.
    if (head < queue.length) arm(Math.max(0, queue[head]!.deadline - now) + 1);
  }

  return {
    guard<T>(pending: Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const now = performance.now();
        const entry: Open = { deadline: now + ms, reject };
        queue.push(entry);
        open++;
        if (timer === undefined) arm(ms + 1);
        pending.then(
          (value) => {
            if (entry.reject === undefined) return;
            entry.reject = undefined;
            open--;
            resolve(value);
          },
          (error: unknown) => {
            if (entry.reject === undefined) return;
            entry.reject = undefined;
            open--;
            reject(error);
          },
        );
      });
    },
    get open() {
      return open;
    },
    stop() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
