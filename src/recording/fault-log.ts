/**
 * A fault that repeats (a disk that stays full, a database that stays
 * read-only) is said once when it begins, then at most once a minute with how
 * often it happened meanwhile, and once when it is over: a log line per
 * fault, never one per call or per retry.
 */
export interface FaultLog {
  /** The fault `kind` happened (again). */
  failed(kind: string, message: string): void;
  /** `kind` works again: said once, if it had failed. */
  recovered(kind: string, message: string): void;
  failing(kind: string): boolean;
}

const MINUTE = 60_000;

export function createFaultLog(log: (message: string) => void, options: { everyMs?: number; now?: () => number } = {}): FaultLog {
  const everyMs = options.everyMs ?? MINUTE;
  const now = options.now ?? Date.now;
  const faults = new Map<string, { since: number; count: number; saidAt: number }>();
  return {
    failed(kind, message) {
      const fault = faults.get(kind);
      if (!fault) {
        faults.set(kind, { since: now(), count: 1, saidAt: now() });
        log(message);
        return;
      }
      fault.count++;
      if (now() - fault.saidAt < everyMs) return;
      log(`${message} (still failing: ${fault.count} times since ${new Date(fault.since).toISOString()})`);
      fault.saidAt = now();
    },
    recovered(kind, message) {
      const fault = faults.get(kind);
      if (!fault) return;
      faults.delete(kind);
      log(`${message} (after ${fault.count} failure(s) over ${Math.round((now() - fault.since) / 1000)} s)`);
    },
    failing: (kind) => faults.has(kind),
  };
}
