/**
 * One circuit per upstream (its origin): after `threshold` failures in a row
 * (no connection, timeout, 429 or 5xx) the circuit opens and calls skip that
 * upstream for `openMs` — straight to a fallback, or a 503 — instead of
 * waiting on it; then one call is let through to try it (half-open), and a
 * success closes it again. Counts are per gateway, in memory.
 */
export interface CircuitBreaker {
  /** Whether calls may go to this upstream now. */
  allows(origin: string, now?: number): boolean;
  record(origin: string, ok: boolean, now?: number): void;
  state(origin: string): "closed" | "open" | "half-open";
}

export function createCircuitBreaker(options: { threshold?: number; openMs?: number } = {}): CircuitBreaker {
  const threshold = options.threshold ?? 5;
  const openMs = options.openMs ?? 30_000;
  const circuits = new Map<string, { failures: number; openUntil: number; probing: boolean }>();
  return {
    allows(origin, now = Date.now()) {
      const circuit = circuits.get(origin);
      if (!circuit || circuit.failures < threshold) return true;
      if (now < circuit.openUntil) return false;
      if (circuit.probing) return false;
      circuit.probing = true; // one call tries the upstream again
      return true;
    },
    record(origin, ok, now = Date.now()) {
      let circuit = circuits.get(origin);
      if (ok) {
        if (circuit) circuits.delete(origin);
        return;
      }
      if (!circuit) circuits.set(origin, (circuit = { failures: 0, openUntil: 0, probing: false }));
      circuit.failures++;
      circuit.probing = false;
      if (circuit.failures >= threshold) circuit.openUntil = now + openMs;
    },
    state(origin) {
      const circuit = circuits.get(origin);
      if (!circuit || circuit.failures < threshold) return "closed";
      return circuit.probing || Date.now() >= circuit.openUntil ? "half-open" : "open";
    },
  };
}
