import type { QueryResult } from "../sinks/duckdb/duckdb-store.ts";

const cell = (value: unknown): string =>
  value === null || value === undefined ? "NULL" : typeof value === "object" ? JSON.stringify(value) : String(value);

/** A plain aligned text table, as `duckdb` prints for people. */
export function formatTable({ columns, rows }: QueryResult): string {
  const text = rows.map((row) => row.map(cell));
  const widths = columns.map((c, i) => Math.max(c.length, ...text.map((r) => r[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join(" │ ").trimEnd();
  return [line(columns), widths.map((w) => "─".repeat(w)).join("─┼─"), ...text.map(line), `(${rows.length} row${rows.length === 1 ? "" : "s"})`].join("\n");
}

/** RFC 4180 CSV. */
export function formatCsv({ columns, rows }: QueryResult): string {
  const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const value = (v: unknown) => (v === null || v === undefined ? "" : quote(typeof v === "object" ? JSON.stringify(v) : String(v)));
  return [columns.map(quote).join(","), ...rows.map((row) => row.map(value).join(","))].join("\r\n") + "\r\n";
}

export function formatJson({ columns, rows }: QueryResult): string {
  return JSON.stringify(rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]]))), null, 2);
}
