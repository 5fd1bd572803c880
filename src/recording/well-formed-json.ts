/**
 * JSON text that DuckDB's JSON reader takes. JSON and JavaScript allow a lone
 * surrogate (`"\ud800"`), which any client (a model name) or upstream (an
 * error message, a usage key) can send; DuckDB refuses the whole line ("no
 * low surrogate in string"), and a record batch it refuses is retried with
 * every record after it held up behind it. Lone surrogates become U+FFFD, as
 * a UTF-8 encoder writes them (Encoding Standard, "UTF-8 encode").
 */
export function stringifyWellFormed(value: unknown): string {
  const text = JSON.stringify(value);
  // JSON.stringify writes a lone surrogate as a `\udXXX` escape, and nothing else so (ES2019 well-formed JSON.stringify).
  return text !== undefined && text.includes("\\ud") ? JSON.stringify(value, wellFormed) : text;
}

function wellFormed(_key: string, value: unknown): unknown {
  if (typeof value === "string") return value.toWellFormed();
  if (typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).some((key) => !key.isWellFormed())) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key.toWellFormed(), item]));
  }
  return value;
}
