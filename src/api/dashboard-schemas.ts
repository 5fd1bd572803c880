import { z } from "@hono/zod-openapi";
import { RequestItemSchema } from "./schemas.ts";

/**
 * Schemas of the routes the dashboard needs beyond the analytics: its
 * settings page, its live tail and its login. Secrets never appear: only
 * whether they are set.
 */
export const SettingsSchema = z
  .strictObject({
    gateway: z.strictObject({
      version: z.string(),
      listen: z.string().openapi({ description: "host:port the gateway listens on" }),
      db: z.string(),
      log_body: z.enum(["full", "meta", "none"]),
      max_body_bytes: z.number(),
      max_logged_body_bytes: z.number(),
      upstream_timeout_ms: z.number(),
      drain_timeout_ms: z.number(),
      flush_interval_ms: z.number(),
      flush_batch_rows: z.number(),
      storage_priority: z.enum(["background", "normal"]),
      journal_fsync: z.enum(["never", "interval", "always"]).openapi({ description: "LOUPE_JOURNAL_FSYNC: when the journal's writes reach the device" }),
      retention_days: z.number().nullable(),
      prices_file: z.string().nullable(),
      declared_providers: z.array(z.string()),
    }),
    access: z.strictObject({
      admin_token: z.boolean().openapi({ description: "LOUPE_ADMIN_TOKEN is set" }),
      dashboard_password: z.boolean().openapi({ description: "LOUPE_DASHBOARD_PASSWORD is set" }),
      session_cookie: z.boolean().openapi({ description: "the dashboard signs in with the admin token and a session cookie" }),
      open: z.boolean().openapi({ description: "no credential is needed (loopback, nothing set)" }),
    }),
    trace_url_template: z.string().nullable().openapi({ description: "LOUPE_TRACE_URL_TEMPLATE, e.g. http://jaeger:16686/trace/{trace_id}" }),
    upstreams: z.array(z.strictObject({ provider: z.string(), prefix: z.string(), upstream: z.string(), overridden: z.boolean() })),
    telemetry: z
      .strictObject({
        traces: z.strictObject({ url: z.string(), protocol: z.string() }).nullable(),
        metrics: z.strictObject({ url: z.string(), protocol: z.string(), interval_ms: z.number() }).nullable(),
        service_name: z.string(),
        sampler: z.string(),
        capture_content: z.boolean(),
        export: z.unknown().openapi({ description: "export counters and backlog, as /livez gives them" }),
      })
      .nullable()
      .openapi({ description: "OpenTelemetry export; null when off" }),
    clickhouse: z
      .strictObject({
        url: z.string(),
        database: z.string(),
        user: z.string(),
        required: z.boolean(),
        state: z.unknown().openapi({ description: "connection, rows inserted and backlog, as /livez gives them" }),
      })
      .nullable()
      .openapi({ description: "the shared log (LOUPE_CLICKHOUSE_URL); null when records stay in the DuckDB file alone" }),
    control: z
      .strictObject({ version: z.number().int(), settings: z.unknown() })
      .openapi({ description: "header rules, routing, fallbacks and retry in force; PUT /api/settings replaces them" }),
    storage: z.strictObject({
      in_flight: z.number(),
      internal_errors: z.number(),
      queue: z.unknown().openapi({ description: "the journal writer's counters, as /livez gives them" }),
    }),
  })
  .openapi("Settings");

export const LiveRecordSchema = RequestItemSchema.openapi("LiveRecord");

export const LoginBodySchema = z.object({ token: z.string().min(1) }).openapi("Login");
export const OkSchema = z.strictObject({ ok: z.literal(true) }).openapi("Ok");

/** `PUT /api/settings`: a change of the control settings, and what is in force after it. */
// Strict, as the config file is: a key that is no setting (a typo) is refused, not dropped with nothing changed.
export const ControlSchema = z
  .strictObject({
    version: z.number().int().optional().openapi({ description: "the version this change is based on (from GET /api/settings); a different current version answers 409" }),
    requestHeaderRules: z.array(z.unknown()).optional(),
    responseHeaderRules: z.array(z.unknown()).optional(),
    routing: z.array(z.unknown()).optional(),
    fallbacks: z.array(z.unknown()).optional(),
    retry: z.unknown().optional(),
    timeouts: z.array(z.unknown()).optional(),
  })
  .openapi("ControlSettingsChange");

export const AppliedSchema = z.strictObject({ version: z.number().int(), settings: z.unknown() }).openapi("ControlSettings");
