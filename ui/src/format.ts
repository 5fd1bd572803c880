/**
 * How figures are shown. Money stays the API's exact decimal string (no float
 * on the way), only trimmed: the screen and `/api` never disagree by a rounding.
 */
export function usd(value: string | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const negative = value.startsWith("-");
  const [whole = "0", fraction = ""] = value.replace(/^-/, "").split(".");
  let kept = fraction.replace(/0+$/, "");
  if (kept.length < 2) kept = kept.padEnd(2, "0");
  return `${negative ? "-" : ""}$${groupDigits(whole)}.${kept}`;
}

const groupDigits = (digits: string) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

export function count(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : groupDigits(String(Math.round(value)));
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return value < 10 ? `${value.toFixed(1)} ms` : `${groupDigits(String(Math.round(value)))} ms`;
}

export function percent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? "—" : `${(ratio * 100).toFixed(1)}%`;
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value < 1024) return `${value} B`;
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(1)} KiB`;
  return `${(value / 1024 / 1024).toFixed(1)} MiB`;
}

/** The API's timestamps (`2026-11-24 13:21:33.092+00`, or ISO) as a Date. */
export function parseTime(value: string): Date {
  const iso = value.replace(" ", "T").replace(/\+00$/, "Z").replace(/([+-]\d\d)$/, "$1:00");
  return new Date(iso);
}

/** UTC, to the second, as the records and SQL show it. */
export function time(value: string | null | undefined): string {
  if (!value) return "—";
  const date = parseTime(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString().slice(0, 19).replace("T", " ");
}

export function shortId(id: string | null | undefined, length = 8): string {
  if (!id) return "—";
  return id.length > length + 1 ? `${id.slice(0, length)}…` : id;
}
