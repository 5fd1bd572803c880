import { z } from "zod";

/**
 * What an operator defines to control access (part 7): gateway keys, stored
 * provider keys and limits. These definitions live in the DuckDB file (tables
 * `gateway_keys`, `provider_keys`, `limits`, with `admin_audit` beside them)
 * and, with LOUPE_REDIS_URL, in Redis too, so every gateway sharing it sees
 * the same ones. The request thread reads them from memory only (access-book.ts).
 * Times are ISO strings (UTC); ids are short and safe to show, secrets never are.
 */

/** A key's id (`key_…`): what the `key_id` column, the API and a 429 body name. */
export const keyIdSchema = z.string().regex(/^key_[A-Za-z0-9]{12}$/, "a key id looks like key_XXXXXXXXXXXX");

export const gatewayKeySchema = z.strictObject({
  id: keyIdSchema,
  name: z.string().nullable(),
  project: z.string().min(1),
  /** The end user calls with this key are attributed to (unless the call names one with x-loupe-user). */
  user: z.string().nullable(),
  /** Providers this key may call (ids); null: any. */
  providers: z.array(z.string()).nullable(),
  /** Model patterns this key may call (`*` matches any run of characters); null: any. */
  models: z.array(z.string()).nullable(),
  metadata: z.record(z.string(), z.string()).nullable(),
  /** HMAC-SHA256 of the key with a pepper from LOUPE_SECRET, hex; the key itself is never stored. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  /** The key's first characters (`lp_live_ab12…`), to recognise it in lists. */
  prefix: z.string(),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
});
export type GatewayKey = z.infer<typeof gatewayKeySchema>;

export const providerKeySchema = z.strictObject({
  id: z.string().regex(/^pk_[A-Za-z0-9]{12}$/),
  provider: z.string().min(1),
  /** null: the default for every project without its own. */
  project: z.string().nullable(),
  /** AES-256-GCM ciphertext of the secret (base64url of iv ‖ ciphertext ‖ tag), under a key derived from LOUPE_SECRET. */
  sealed: z.string(),
  /** First 8 hex of SHA-256 of the secret: tells two secrets apart without revealing either. */
  fingerprint: z.string(),
  created_at: z.string(),
});
export type ProviderKey = z.infer<typeof providerKeySchema>;

export const limitScopeSchema = z.enum(["key", "project", "user", "model"]);
export type LimitScope = z.infer<typeof limitScopeSchema>;

/** What a limit counts: calls, tokens (input + output) or USD (exact, in nano-USD). */
export const limitMetricSchema = z.enum(["requests", "tokens", "usd"]);
export type LimitMetric = z.infer<typeof limitMetricSchema>;

export const limitSchema = z.strictObject({
  scope: limitScopeSchema,
  /** The key id, project, end user or model (a model limit matches the requested model; `*` patterns allowed). */
  subject: z.string().min(1),
  metric: limitMetricSchema,
  /**
   * The most allowed: a count for requests and tokens, nano-USD (as a decimal
   * string: it can pass 2^53) for usd.
   */
  amount: z.string().regex(/^\d+$/),
  /** A sliding window in seconds (`--requests 50/1m`), or a calendar period in UTC (`--budget-usd 20/month`). */
  window: z.union([z.strictObject({ seconds: z.number().int().positive() }), z.strictObject({ period: z.enum(["day", "week", "month"]) })]),
  /** Budgets: warn (header) from this percentage of the amount on; null: no warning. */
  soft_pct: z.number().min(1).max(100).nullable(),
});
export type Limit = z.infer<typeof limitSchema>;

/** Everything the access checks read, as one snapshot. */
export interface AccessDefinitions {
  keys: GatewayKey[];
  providerKeys: ProviderKey[];
  limits: Limit[];
}

export const EMPTY_DEFINITIONS: AccessDefinitions = Object.freeze({ keys: [], providerKeys: [], limits: [] }) as AccessDefinitions;

/** One admin action, for the `admin_audit` table. */
export interface AuditEntry {
  at: string;
  /** Who: `admin-token`, `dashboard`, `cli`, … */
  actor: string;
  /** What: `keys.create`, `keys.revoke`, `provider-keys.set`, `limits.set`, … */
  action: string;
  /** The id it acted on. */
  target: string;
  /** More, without secrets. */
  detail: string | null;
}

/** `1m`, `1h`, `1d`, `30d`, `90s`, `2w` → seconds. */
export function parseWindow(text: string): number | undefined {
  const match = /^(\d+)(s|m|h|d|w)$/.exec(text.trim());
  if (!match) return undefined;
  const n = Number(match[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[match[2] as "s" | "m" | "h" | "d" | "w"];
  return n > 0 ? n * unit : undefined;
}
