/** Readers for request and response bodies of unknown shape: a wrong type reads as absent, never throws. */
export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function asObject(value: unknown): Json {
  return isObject(value) ? value : {};
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function asNumber(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** A token count: a non-negative safe integer, else undefined (a negative, fractional or overflowing count is no count). */
export function asCount(value: unknown): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** Copies the listed fields that are present (not undefined) from `from` onto `to` under new names. */
export function copyFields(from: Json, to: Json, names: Readonly<Record<string, string>>): void {
  for (const [source, target] of Object.entries(names)) if (from[source] !== undefined) to[target] = from[source];
}

/** Parses a tool call's JSON arguments into the object Messages wants; anything else becomes `{}`. */
export function parseArguments(text: string | undefined): Json {
  if (!text) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) ? parsed : {};
  } catch {
    return {};
  }
}
