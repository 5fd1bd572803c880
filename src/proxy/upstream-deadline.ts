/**
 * Deadlines for calls waiting on their upstream's response headers. All have
 * the same length, so they fall due in the order they began: one timer, set
 * for the oldest, serves them all (a timer and a `Promise.race` per call cost
 * more on the hot path).
 */
export interface UpstreamDeadlines {
  /**
   * Settles as `pending` does, unless the timeout passes first: then
   * `onExpire` runs and the promise rejects with `UpstreamTimeoutError`.
   */
  race<T>(pending: Promise<T>, onExpire: () => void): Promise<T>;
}

export class UpstreamTimeoutError extends Error {
  override name = "UpstreamTimeoutError";
}

interface Waiter {
  due: number;
  expire(): void;
}

export function createUpstreamDeadlines(timeoutMs: number): UpstreamDeadlines {
  // Insertion order is the order they fall due.
  const waiting = new Set<Waiter>();
  let timer: ReturnType<typeof setTimeout> | undefined;

  function arm() {
    if (timer !== undefined) return;
    for (const oldest of waiting) {
      timer = setTimeout(expireDue, Math.max(0, oldest.due - performance.now()));
      return;
    }
  }
  function expireDue() {
    timer = undefined;
    const now = performance.now();
    for (const waiter of waiting) {
      if (waiter.due > now) break;
      waiting.delete(waiter);
      waiter.expire();
    }
    arm();
  }

  return {
    race(pending, onExpire) {
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          due: performance.now() + timeoutMs,
          expire() {
            onExpire();
            reject(new UpstreamTimeoutError(`no answer within ${timeoutMs} ms`));
          },
        };
        waiting.add(waiter);
        arm();
        pending.then(
          (value) => {
            waiting.delete(waiter);
            resolve(value);
          },
          (error: unknown) => {
            waiting.delete(waiter);
            reject(error);
          },
        );
      });
    },
  };
}
