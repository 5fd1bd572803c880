/**
 * Values as DuckDB renders them as text, made in JS from what ClickHouse
 * returns, so the two stores answer the analytics API with the same strings:
 * instants (`started_at::VARCHAR` of a TIMESTAMPTZ in UTC), bucket starts
 * (a TIMESTAMP) and doubles (the sort value in a cursor). Checked against
 * DuckDB 1.5 in tests/unit/clickhouse-analytics.test.ts.
 */

const US_PER_SECOND = 1_000_000;

/** `YYYY-MM-DD HH:MM:SS` of a whole second (µs since the epoch, UTC). */
function secondText(us: number): string {
  return new Date(Math.floor(us / US_PER_SECOND) * 1000).toISOString().slice(0, 19).replace("T", " ");
}

/** µs since the epoch → DuckDB's TIMESTAMPTZ text in UTC: `2026-12-01 11:58:00.12+00` (the fraction without trailing zeros, none when 0). */
export function timestamptzText(us: number): string {
  const micros = us - Math.floor(us / US_PER_SECOND) * US_PER_SECOND;
  const fraction = micros === 0 ? "" : `.${String(micros).padStart(6, "0").replace(/0+$/, "")}`;
  return `${secondText(us)}${fraction}+00`;
}

/** µs since the epoch, a whole second → DuckDB's TIMESTAMP text: `2026-12-01 11:00:00`. */
export const timestampText = (us: number) => secondText(us);

/**
 * A DOUBLE as DuckDB prints it: the shortest digits that read back, positional
 * from 1e-4 to below 1e16 with at least one decimal (`5.0`), else with an
 * exponent of at least two digits (`1e-05`, `2.5e+20`).
 */
export function doubleText(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mantissa, exponentText] = x.toExponential().split("e") as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) return `${mantissa}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  const text = String(x);
  return text.includes(".") ? text : `${text}.0`;
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * An instant as the API and cursors give it (ISO 8601, a date, or DuckDB's
 * TIMESTAMPTZ text) → µs since the epoch, as DuckDB casts it to TIMESTAMPTZ
 * with TimeZone UTC: no zone means UTC, digits past the µs are cut. Undefined
 * when it is not one.
 */
export function parseInstantMicros(text: string): number | undefined {
  const m = INSTANT.exec(text.trim());
  if (!m) return undefined;
  const [, year, month, day, hour = "0", minute = "0", second = "0", fraction = "", zone = "Z"] = m;
  const ms = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  const check = new Date(ms);
  // Date.UTC rolls 2026-02-31 over into March: refuse what is not a real date and time.
  if (Number.isNaN(ms) || check.getUTCDate() !== Number(day) || check.getUTCHours() !== Number(hour) || check.getUTCSeconds() !== Number(second)) return undefined;
  let offsetMinutes = 0;
  if (!/^(Z|UTC)$/i.test(zone)) {
    const digits = zone.replace(":", "");
    offsetMinutes = (zone.startsWith("-") ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || "0"));
  }
  return (ms - offsetMinutes * 60_000) * 1000 + Number(fraction.slice(0, 6).padEnd(6, "0"));
}
