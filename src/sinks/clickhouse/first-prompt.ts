import type { Row } from "../analytics.ts";

/**
 * A session's `first_prompt` as DuckDB finds it (duckdb-analytics.ts):
 * `arg_min(coalesce(json_extract_string(request_body, '$.messages[0].content'),
 * …'$.contents[0].parts[0].text', …'$.input'), started_at)` over main-turn
 * calls, so the earliest such call whose body has one. ClickHouse 18.16 has no
 * JSON paths, so the bodies are read here, earliest first, a page at a time
 * (`page(offset)`, `size` rows), until one has a prompt: usually the first.
 */
export async function firstPrompt(page: (offset: number) => Promise<Row[]>, size: number): Promise<string | null> {
  for (let offset = 0; ; offset += size) {
    const bodies = await page(offset);
    for (const row of bodies) {
      const prompt = promptOf(row.request_body as string);
      if (prompt !== null) return prompt;
    }
    if (bodies.length < size) return null;
  }
}

const PATHS: readonly (readonly (string | number)[])[] = [
  ["messages", 0, "content"],
  ["contents", 0, "parts", 0, "text"],
  ["input"],
];

/** The first path that holds a value, as json_extract_string gives it: a string as it is, anything else as JSON text, JSON null as none. */
export function promptOf(body: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    // A body cut off at the logging limit: DuckDB's json_extract_string fails on it; here it has no prompt.
    return null;
  }
  for (const path of PATHS) {
    let value = parsed;
    for (const step of path) {
      const ok = typeof step === "number" ? Array.isArray(value) : value !== null && typeof value === "object" && !Array.isArray(value);
      value = ok ? (value as Record<string | number, unknown>)[step] : undefined;
    }
    if (value === undefined || value === null) continue;
    return typeof value === "string" ? value : JSON.stringify(value);
  }
  return null;
}
