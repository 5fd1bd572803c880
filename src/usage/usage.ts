/**
 * One normalized usage per call. `undefined` means "the provider did not
 * report it" and is stored as NULL; it is never confused with 0.
 *
 * Conventions (DESIGN.md, "usage facts"):
 * - `inputTokens` counts every input token, cache reads and writes included.
 * - `outputTokens` counts every output token, reasoning included.
 * - `cacheWriteTokens` is the total; `cacheWrite1hTokens` the part written
 *   with a 1-hour TTL (the rest is 5-minute).
 */
export interface Usage {
  inputTokens?: number | undefined;
  cacheReadTokens?: number | undefined;
  cacheWriteTokens?: number | undefined;
  cacheWrite1hTokens?: number | undefined;
  outputTokens?: number | undefined;
  reasoningTokens?: number | undefined;
  /** Cost the provider itself reported, in USD (OpenRouter `usage.cost`). */
  providerCostUsd?: number | undefined;
}

/**
 * Reads a count: a non-negative safe integer, or undefined for anything else.
 * A fraction or a number past 2^53 is no count a provider meant; it would
 * break the integer cost arithmetic (`BigInt(1.5)` throws) or overflow the
 * record's BIGINT column, and one record DuckDB refuses holds up its batch.
 */
export function readCount(value: unknown): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/**
 * Reads a charge a provider reports in USD: finite, non-negative, and small
 * enough that its nano-USD is a safe integer (about $9M): the cost
 * arithmetic stays exact and the record's DECIMAL(38,9) holds it. Anything
 * else is undefined (not reported), and the call is priced from its tokens.
 */
export function readUsd(value: unknown): number | undefined {
  return typeof value === "number" && value >= 0 && Number.isSafeInteger(Math.round(value * 1e9)) ? value : undefined;
}

/** Adds counts, keeping "not reported" when every part is unreported (or when the sum is no safe integer). */
export function sumCounts(...parts: (number | undefined)[]): number | undefined {
  let total: number | undefined;
  for (const part of parts) if (part !== undefined) total = (total ?? 0) + part;
  return total === undefined || Number.isSafeInteger(total) ? total : undefined;
}

/** Overwrites the fields `next` reports; keeps the rest (cumulative stream usage). */
export function mergeUsage(previous: Usage | undefined, next: Usage): Usage {
  const merged: Usage = { ...previous };
  for (const [key, value] of Object.entries(next) as [keyof Usage, number | undefined][]) {
    if (value !== undefined) merged[key] = value;
  }
  return merged;
}

export function isEmptyUsage(usage: Usage | undefined): boolean {
  return usage === undefined || Object.values(usage).every((v) => v === undefined);
}

export function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Copies the listed request fields that hold numbers, strings or string lists, renamed. */
export function pickParams(
  source: Record<string, unknown> | undefined,
  names: Record<string, string>,
): Record<string, string | number | string[]> | undefined {
  if (!source) return undefined;
  // Runs on every call: no per-call arrays (for…in over the table; the object only when something is found).
  let out: Record<string, string | number | string[]> | undefined;
  for (const from in names) {
    const value = source[from];
    if (value === undefined) continue;
    if (typeof value === "number" || typeof value === "string") (out ??= {})[names[from]!] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === "string")) (out ??= {})[names[from]!] = value as string[];
  }
  return out;
}
