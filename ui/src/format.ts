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

/** A span of time for people: `850 ms`, `42 s`, `3 min 5 s`, `2 h 45 min`. */
export function duration(milliseconds: number): string {
  if (milliseconds < 1000) return ms(milliseconds);
  const seconds = Math.round(milliseconds / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/**
 * The cost of a group of calls (a model, a user, a range): the priced calls'
 * exact sum, and how many calls had no price, which are in no sum. A group
 * whose calls were all unpriced has no cost to show, not $0.
 */
export function groupCost(group: { cost_usd: string; requests: number; unpriced_requests: number }): string {
  if (group.unpriced_requests === 0) return usd(group.cost_usd);
  if (/^0\.0+$/.test(group.cost_usd) && group.unpriced_requests === group.requests) return "unpriced";
  return `${usd(group.cost_usd)} + ${count(group.unpriced_requests)} unpriced`;
}
