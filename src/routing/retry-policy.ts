import { z } from "zod";

/**
 * When Loupe tries an upstream again (config `retry`, the Claude Code
 * proxy's shape): only before any byte reached the client, on a status or
 * failure the policy names, `attempts` times in all. Waits grow
 * exponentially with full jitter (AWS Architecture Blog, "Exponential Backoff
 * And Jitter"), and an upstream's own `retry-after`/`retry-after-ms` wins when
 * it fits under `maxBackoffMs`; a longer one is the client's to honour, so the
 * answer goes back as it is. `x-should-retry: true|false` (Anthropic's and
 * OpenAI's SDKs read it) overrides the status rule either way.
 */
export const retrySchema = z.strictObject({
  attempts: z.number().int().min(1).max(10).default(1),
  backoffMs: z.number().int().min(0).max(60_000).default(250),
  maxBackoffMs: z.number().int().min(0).max(120_000).default(8_000),
  on: z.array(z.union([z.number().int().min(400).max(599), z.enum(["connect", "timeout"])])).default([429, 500, 502, 503, 504, "connect", "timeout"]),
});
export type RetryPolicy = z.infer<typeof retrySchema>;

export const NO_RETRY: RetryPolicy = Object.freeze({ attempts: 1, backoffMs: 0, maxBackoffMs: 0, on: [] }) as unknown as RetryPolicy;

export type AttemptOutcome = { status: number; retryAfter: string | null; retryAfterMs: string | null; shouldRetry: string | null } | { failure: "connect" | "timeout" };

/** Milliseconds the upstream asked to wait, if it did (`retry-after-ms`, else `retry-after` as seconds or an HTTP date). */
export function requestedWait(outcome: { retryAfter: string | null; retryAfterMs: string | null }, now = Date.now()): number | undefined {
  const ms = Number(outcome.retryAfterMs);
  if (outcome.retryAfterMs !== null && Number.isFinite(ms) && ms >= 0) return ms;
  if (outcome.retryAfter === null) return undefined;
  const seconds = Number(outcome.retryAfter);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(outcome.retryAfter);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * How long to wait before attempt `attempt + 1`, or undefined to stop and
 * answer with this outcome. `attempt` counts from 1; `random` is for tests.
 */
export function nextWait(policy: RetryPolicy, attempt: number, outcome: AttemptOutcome, random: () => number = Math.random): number | undefined {
  if (attempt >= policy.attempts) return undefined;
  if ("failure" in outcome) {
    if (!policy.on.includes(outcome.failure)) return undefined;
  } else {
    if (outcome.shouldRetry === "false") return undefined;
    if (outcome.shouldRetry !== "true" && !policy.on.includes(outcome.status)) return undefined;
    const asked = requestedWait(outcome);
    if (asked !== undefined) return asked <= policy.maxBackoffMs ? asked : undefined;
  }
  const ceiling = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}
