/**
 * Rate-limit header values as the API gives them, and the plan meters read
 * from their names. No provider is named here: a meter is any header named
 * `…-<window>-utilization`, `…-<window>-status` or `…-<window>-reset`, where
 * the window is a length such as `5h` or `7d` (a Claude subscription's
 * unified 5-hour and 7-day windows are sent so).
 */
export type Figure = number | string;

export interface Meter {
  /** The fraction of the window used (0..1), as the provider reports it. */
  utilization: number | null;
  status: string | null;
  /** As sent: Unix seconds, or a date. */
  reset: Figure | null;
  /** `reset` as an ISO instant, when it is one (Unix seconds or a date). */
  reset_at: string | null;
}

const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;
const WINDOW = /-(\d+[mhdw])-(utilization|status|reset)$/;

/** A header value as a number where it is one (`"0.42"`, `"1000"`), else as sent (`"allowed"`, `"6m0s"`, a date). */
export const readFigure = (value: string): Figure => (NUMBER.test(value.trim()) ? Number(value) : value);

export function readFigures(headers: Record<string, string>): Record<string, Figure> {
  const out: Record<string, Figure> = {};
  for (const name of Object.keys(headers).sort()) out[name] = readFigure(headers[name]!);
  return out;
}

function instant(reset: Figure): string | null {
  // Unix seconds (a time after 2001, before 2286), or a date the provider wrote (RFC 3339).
  const ms = typeof reset === "number" ? (reset >= 1e9 && reset < 1e10 ? reset * 1000 : NaN) : Date.parse(reset);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** The windows the headers report, by window (`5h`, `7d`). */
export function readMeters(headers: Record<string, string>): Record<string, Meter> {
  const meters: Record<string, Meter> = {};
  for (const [name, value] of Object.entries(headers)) {
    const match = WINDOW.exec(name);
    if (!match) continue;
    const meter = (meters[match[1]!] ??= { utilization: null, status: null, reset: null, reset_at: null });
    const figure = readFigure(value);
    if (match[2] === "utilization") meter.utilization = typeof figure === "number" ? figure : null;
    else if (match[2] === "status") meter.status = value;
    else (meter.reset = figure), (meter.reset_at = instant(figure));
  }
  return meters;
}
