/**
 * Deadlines for calls waiting on their upstream's response headers. All have
 * the same length, so they fall due in the order they began: one timer, set
 * for the oldest, serves them all. A call that is due has its fetch aborted
 * with an `UpstreamTimeoutError`, so the proxy awaits the fetch itself: a
 * promise wrapped around it (a race, or one settled by the timer) cost a
 * tenth of a plain call's throughput in bench/.
 */
export interface UpstreamDeadlines {
  /** Aborts `controller` with an `UpstreamTimeoutError` when the timeout passes, unless the deadline is cleared first. */
  arm(controller: AbortController): UpstreamDeadline;
}

export interface UpstreamDeadline {
  /** The upstream answered (or failed): no timeout any more. */
  clear(): void;
}

export class UpstreamTimeoutError extends Error {
  override name = "UpstreamTimeoutError";
}

export function createUpstreamDeadlines(timeoutMs: number): UpstreamDeadlines {
  // Insertion order is the order they fall due.
  const waiting = new Set<Deadline>();
  let timer: ReturnType<typeof setTimeout> | undefined;

  class Deadline implements UpstreamDeadline {
    readonly due = performance.now() + timeoutMs;
    constructor(readonly controller: AbortController) {}
    clear(): void {
      waiting.delete(this);
    }
  }

  function arm() {
    if (timer !== undefined) return;
    for (const oldest of waiting) {
      timer = setTimeout(expireDue, Math.max(0, oldest.due - performance.now()));
      timer.unref?.(); // a deadline alone never keeps the process running
      return;
    }
  }
  function expireDue() {
    timer = undefined;
    const now = performance.now();
    for (const deadline of waiting) {
      if (deadline.due > now) break;
      waiting.delete(deadline);
      deadline.controller.abort(new UpstreamTimeoutError(`no answer within ${timeoutMs} ms`));
    }
    arm();
  }

  return {
    arm(controller) {
      const deadline = new Deadline(controller);
      waiting.add(deadline);
      arm();
      return deadline;
    },
  };
}

const byLength = new Map<number, UpstreamDeadlines>();
/** Deadlines of another length (a timeout rule's `firstByteMs`): one set per length, made when first asked for. */
export function deadlinesFor(timeoutMs: number): UpstreamDeadlines {
  let deadlines = byLength.get(timeoutMs);
  if (!deadlines) byLength.set(timeoutMs, (deadlines = createUpstreamDeadlines(timeoutMs)));
  return deadlines;
}
