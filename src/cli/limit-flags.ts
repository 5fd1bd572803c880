import { ConfigError } from "../config.ts";
import { parseWindow, type Limit, type LimitScope } from "../keys/definitions.ts";

/**
 * `loupe limits set SCOPE ID [--requests N/WINDOW] [--tokens N/WINDOW]
 * [--usd X/WINDOW] [--budget-usd X/day|week|month] [--soft PCT]` → limits.
 * Dollar amounts become nano-USD exactly (digits, never a float).
 */
const SCOPES: readonly LimitScope[] = ["key", "project", "user", "model"];
const PERIODS = ["day", "week", "month"] as const;

export function parseScope(text: string | undefined): LimitScope {
  if (!text || !(SCOPES as readonly string[]).includes(text)) throw new ConfigError(`SCOPE must be one of ${SCOPES.join(", ")} (got ${text ?? "nothing"})`);
  return text as LimitScope;
}

/** `12.5` dollars → `"12500000000"` nano-USD; at most 9 decimals. */
export function dollarsToNano(text: string): string | undefined {
  const match = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text.trim().replace(/^\$/, ""));
  if (!match) return undefined;
  return (BigInt(match[1]!) * 1_000_000_000n + BigInt((match[2] ?? "").padEnd(9, "0"))).toString();
}

function split(flag: string, value: string): [string, string] {
  const slash = value.lastIndexOf("/");
  if (slash < 0) throw new ConfigError(`--${flag} takes AMOUNT/WINDOW, e.g. --${flag} ${flag.includes("usd") ? "5" : "50"}/${flag === "budget-usd" ? "month" : "1m"} (got ${value})`);
  return [value.slice(0, slash), value.slice(slash + 1)];
}

function sliding(flag: string, window: string): { seconds: number } {
  const seconds = parseWindow(window);
  if (seconds === undefined) throw new ConfigError(`--${flag}: "${window}" is not a window (like 1m, 1h, 1d, 30d)`);
  return { seconds };
}

function count(flag: string, text: string): string {
  if (!/^\d+$/.test(text) || BigInt(text) === 0n) throw new ConfigError(`--${flag}: "${text}" is not a positive whole number`);
  return BigInt(text).toString();
}

function dollars(flag: string, text: string): string {
  const nano = dollarsToNano(text);
  if (nano === undefined || nano === "0") throw new ConfigError(`--${flag}: "${text}" is not a positive dollar amount (up to 9 decimals)`);
  return nano;
}

export function parseLimitFlags(scope: LimitScope, subject: string, values: Readonly<Record<string, string | boolean | undefined>>): Limit[] {
  let soft: number | null = null;
  if (typeof values.soft === "string") {
    soft = Number(values.soft.replace(/%$/, ""));
    if (!Number.isFinite(soft) || soft < 1 || soft > 100) throw new ConfigError(`--soft takes a percentage from 1 to 100 (got ${values.soft})`);
  }
  const base = { scope, subject, soft_pct: soft };
  const limits: Limit[] = [];
  if (typeof values.requests === "string") {
    const [n, w] = split("requests", values.requests);
    limits.push({ ...base, metric: "requests", amount: count("requests", n), window: sliding("requests", w) });
  }
  if (typeof values.tokens === "string") {
    const [n, w] = split("tokens", values.tokens);
    limits.push({ ...base, metric: "tokens", amount: count("tokens", n), window: sliding("tokens", w) });
  }
  if (typeof values.usd === "string") {
    const [x, w] = split("usd", values.usd);
    limits.push({ ...base, metric: "usd", amount: dollars("usd", x), window: sliding("usd", w) });
  }
  if (typeof values["budget-usd"] === "string") {
    const [x, period] = split("budget-usd", values["budget-usd"]);
    if (!(PERIODS as readonly string[]).includes(period)) throw new ConfigError(`--budget-usd: the period is day, week or month (UTC), not "${period}"`);
    limits.push({ ...base, metric: "usd", amount: dollars("budget-usd", x), window: { period: period as (typeof PERIODS)[number] } });
  }
  if (limits.length === 0) throw new ConfigError("give at least one of --requests N/WINDOW, --tokens N/WINDOW, --usd X/WINDOW, --budget-usd X/day|week|month");
  return limits;
}

/** A limit as a person reads it: `50 requests / 1m`, `$20 / month`. */
export function describeLimit(limit: Limit): string {
  const amount = limit.metric === "usd" ? `$${formatNano(limit.amount)}` : `${limit.amount} ${limit.metric}`;
  const window = "period" in limit.window ? limit.window.period : describeSeconds(limit.window.seconds);
  return `${amount} / ${window}${limit.soft_pct !== null ? ` (warn at ${limit.soft_pct}%)` : ""}`;
}

export function formatNano(nano: string): string {
  const n = BigInt(nano);
  const whole = n / 1_000_000_000n;
  const frac = (n % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : whole.toString();
}

function describeSeconds(s: number): string {
  for (const [unit, n] of [["w", 604_800], ["d", 86_400], ["h", 3600], ["m", 60]] as const) if (s % n === 0) return `${s / n}${unit}`;
  return `${s}s`;
}
