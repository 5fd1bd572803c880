/**
 * The opaque cursors of the analytics API's pages: base64url of `[value, id]`,
 * the last row's sort value as the store renders it and its id. DuckDB and
 * ClickHouse issue and read the same form.
 */
export const encodeCursor = (value: unknown, id: unknown) => Buffer.from(JSON.stringify([value, id])).toString("base64url");

export class InvalidCursorError extends Error {
  override name = "InvalidCursorError";
}

export function decodeCursor(cursor: string): [string, string] {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === "string" && typeof parsed[1] === "string") return [parsed[0], parsed[1]];
  } catch {
    // fall through
  }
  throw new InvalidCursorError("cursor is not one this API issued");
}
