import type { Bucket } from "./api.ts";

/**
 * The time range every analytics page shows, kept in the URL (`?range=24h`,
 * or `?from=…&to=…` for a custom one) so a reload or a shared link shows the
 * same thing.
 */
export const PRESETS = [
  { id: "1h", label: "Last hour", span: 3_600_000, bucket: "minute" },
  { id: "24h", label: "Last 24 h", span: 86_400_000, bucket: "hour" },
  { id: "7d", label: "Last 7 days", span: 7 * 86_400_000, bucket: "hour" },
  { id: "30d", label: "Last 30 days", span: 30 * 86_400_000, bucket: "day" },
] as const satisfies readonly { id: string; label: string; span: number; bucket: Bucket }[];

export type PresetId = (typeof PRESETS)[number]["id"];

export interface TimeRange {
  id: PresetId | "custom";
  from: string;
  to: string;
  bucket: Bucket;
}

const MINUTE = 60_000;

/** The range the URL names; `now` is rounded up to the next minute so repeated reads ask the same question. */
export function readRange(search: URLSearchParams, now = Date.now()): TimeRange {
  const from = search.get("from");
  const to = search.get("to");
  if (from && to && !Number.isNaN(Date.parse(from)) && !Number.isNaN(Date.parse(to)) && Date.parse(from) < Date.parse(to)) {
    const span = Date.parse(to) - Date.parse(from);
    const bucket: Bucket = span <= 3 * 3_600_000 ? "minute" : span <= 8 * 86_400_000 ? "hour" : "day";
    return { id: "custom", from: new Date(from).toISOString(), to: new Date(to).toISOString(), bucket };
  }
  const preset = PRESETS.find((p) => p.id === search.get("range")) ?? PRESETS[1];
  const end = Math.ceil(now / MINUTE) * MINUTE;
  return { id: preset.id, from: new Date(end - preset.span).toISOString(), to: new Date(end).toISOString(), bucket: preset.bucket };
}

/** The URL parameters that carry a range (to keep it across links). */
export function rangeParams(range: TimeRange): Record<string, string> {
  return range.id === "custom" ? { from: range.from, to: range.to } : { range: range.id };
}
