import { z } from "@hono/zod-openapi";

/**
 * Schemas of the admin routes (part 7): gateway keys, stored provider keys,
 * limits and the audit. A key is in a response once, when it is made or
 * rotated; key hashes and provider secrets never are.
 */
const iso = z.string().openapi({ example: "2026-11-01T12:00:00.000Z" });
const keyId = z.string().regex(/^key_[A-Za-z0-9]{12}$/).openapi({ example: "key_Ab12Cd34Ef56" });

export const KeySchema = z
  .strictObject({
    id: keyId,
    name: z.string().nullable(),
    project: z.string(),
    user: z.string().nullable(),
    providers: z.array(z.string()).nullable().openapi({ description: "providers this key may call; null: any" }),
    models: z.array(z.string()).nullable().openapi({ description: "model patterns (`*` = any run of characters); null: any" }),
    metadata: z.record(z.string(), z.string()).nullable(),
    prefix: z.string().openapi({ description: "the key's first characters, to recognise it", example: "lp_live_Ab12" }),
    created_at: iso,
    expires_at: iso.nullable(),
    revoked_at: iso.nullable(),
    last_used_at: iso.nullable().openapi({ description: "written every ~10 s" }),
    status: z.enum(["active", "revoked", "expired"]),
  })
  .openapi("GatewayKey");

export const KeyListSchema = z.strictObject({ items: z.array(KeySchema) });

export const CreateKeyBodySchema = z
  .strictObject({
    project: z.string().min(1),
    user: z.string().min(1).optional(),
    name: z.string().min(1).optional(),
    expires_in_s: z.number().int().positive().optional().openapi({ description: "seconds from now; absent: never" }),
    providers: z.array(z.string().min(1)).min(1).optional(),
    models: z.array(z.string().min(1)).min(1).optional(),
    metadata: z.record(z.string(), z.string()).optional(),
  })
  .openapi("CreateKey");

export const NewKeySchema = z
  .strictObject({ id: keyId, key: z.string().openapi({ description: "the key: shown this once, only its hash is stored", example: "lp_live_…" }) })
  .openapi("NewKey");

export const ProviderKeySchema = z
  .strictObject({
    id: z.string().openapi({ example: "pk_Ab12Cd34Ef56" }),
    provider: z.string(),
    project: z.string().nullable().openapi({ description: "null: the default for every project without its own" }),
    fingerprint: z.string().openapi({ description: "first 8 hex of SHA-256 of the secret" }),
    created_at: iso,
  })
  .openapi("ProviderKey");

export const ProviderKeyListSchema = z.strictObject({ items: z.array(ProviderKeySchema) });

export const SetProviderKeyBodySchema = z
  .strictObject({
    provider: z.string().min(1),
    project: z.string().min(1).optional(),
    secret: z.string().min(1).openapi({ description: "the provider's API key, or the JSON credentials some providers take (README); stored sealed (AES-256-GCM)" }),
  })
  .openapi("SetProviderKey");

export const LimitScopeSchema = z.enum(["key", "project", "user", "model"]);
export const LimitMetricSchema = z.enum(["requests", "tokens", "usd"]);

export const LimitSchema = z
  .strictObject({
    scope: LimitScopeSchema,
    subject: z.string().min(1).openapi({ description: "the key id, project, end user or model (pattern)" }),
    metric: LimitMetricSchema,
    amount: z.string().regex(/^\d+$/).openapi({ description: "the most allowed: a count, or nano-USD for usd (decimal string)", example: "50" }),
    window: z
      .union([z.strictObject({ seconds: z.number().int().positive() }), z.strictObject({ period: z.enum(["day", "week", "month"]) })])
      .openapi({ description: "a sliding window in seconds, or a calendar period (UTC)" }),
    soft_pct: z.number().min(1).max(100).nullable().openapi({ description: "warn (header) from this percentage on" }),
  })
  .openapi("Limit");

export const LimitUsageSchema = z
  .strictObject({ used: z.string().openapi({ description: "in the limit's unit (nano-USD for usd)" }), reset_s: z.number().openapi({ description: "seconds until the window frees or the period ends" }) })
  .openapi("LimitUsage");

export const LimitWithUsageSchema = LimitSchema.extend({ usage: LimitUsageSchema.nullable().openapi({ description: "null: no limiter wired, or no figure yet" }) });
export const LimitListSchema = z.strictObject({ items: z.array(LimitWithUsageSchema) });

export const ClearLimitQuerySchema = z.object({ scope: LimitScopeSchema, subject: z.string().min(1), metric: LimitMetricSchema.optional() });
export const RemovedSchema = z.strictObject({ removed: z.number().int() });

export const AuditEntrySchema = z
  .strictObject({ at: iso, actor: z.string().openapi({ description: "admin-token, dashboard, cli or local" }), action: z.string(), target: z.string(), detail: z.string().nullable() })
  .openapi("AuditEntry");
export const AuditListSchema = z.strictObject({ items: z.array(AuditEntrySchema) });
export const AuditQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(100) });
