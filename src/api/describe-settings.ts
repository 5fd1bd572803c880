import type { z } from "@hono/zod-openapi";
import type { SettingsSchema } from "./dashboard-schemas.ts";
import type { Config } from "../config.ts";
import type { RouteDescription } from "../providers/registry.ts";
import { urlWithoutCredentials } from "../http/url-without-credentials.ts";

export interface SettingsSources {
  config: Config;
  version: string;
  routes: RouteDescription[];
  state: { inflight: number; internalErrors: number };
  writerStats(): unknown;
  telemetryStats?: (() => Promise<unknown>) | undefined;
  clickhouseStats?: (() => Promise<unknown>) | undefined;
  control: { version: number; settings: unknown };
}

/** The effective configuration for `GET /api/settings`: every setting a user can check, no secret (OTLP headers, tokens, passwords). */
export async function describeSettings(sources: SettingsSources): Promise<z.infer<typeof SettingsSchema>> {
  const { config } = sources;
  const telemetry = config.telemetry;
  const upstreams = config.upstreams as Readonly<Record<string, string | undefined>>;
  return {
    gateway: {
      version: sources.version,
      listen: `${config.server.host}:${config.server.port}`,
      db: config.db,
      log_body: config.logBody,
      max_body_bytes: config.limits.maxBodyBytes,
      max_logged_body_bytes: config.limits.maxLoggedBodyBytes,
      upstream_timeout_ms: config.limits.upstreamTimeoutMs,
      drain_timeout_ms: config.limits.drainTimeoutMs,
      flush_interval_ms: config.flush.intervalMs,
      flush_batch_rows: config.flush.batchRows,
      storage_priority: config.storagePriority,
      journal_fsync: config.journalFsync,
      retention_days: config.retentionDays ?? null,
      prices_file: config.pricesFile ?? null,
      declared_providers: config.providers.map(({ id }) => id),
    },
    access: {
      admin_token: Boolean(config.adminToken),
      dashboard_password: Boolean(config.dashboardPassword),
      session_cookie: Boolean(config.adminToken),
      open: !config.adminToken && !config.dashboardPassword,
    },
    trace_url_template: config.traceUrlTemplate ?? null,
    upstreams: sources.routes.map((route) => {
      const override = upstreams[route.provider];
      return { provider: route.provider, prefix: route.prefix, upstream: urlWithoutCredentials(override ?? route.upstream), overridden: override !== undefined };
    }),
    telemetry: telemetry
      ? {
          traces: telemetry.traces ? { url: urlWithoutCredentials(telemetry.traces.url), protocol: telemetry.traces.protocol } : null,
          metrics: telemetry.metrics ? { url: urlWithoutCredentials(telemetry.metrics.url), protocol: telemetry.metrics.protocol, interval_ms: telemetry.metrics.intervalMs } : null,
          service_name: telemetry.serviceName,
          sampler: telemetry.sampler.kind === "traceidratio" || telemetry.sampler.kind === "parentbased_traceidratio" ? `${telemetry.sampler.kind} ${telemetry.sampler.ratio}` : telemetry.sampler.kind,
          capture_content: telemetry.captureContent,
          export: (await sources.telemetryStats?.()) ?? null,
        }
      : null,
    clickhouse: config.clickhouse
      ? {
          url: urlWithoutCredentials(config.clickhouse.url),
          database: config.clickhouse.database,
          user: config.clickhouse.user ?? "default",
          required: config.clickhouse.required,
          state: (await sources.clickhouseStats?.()) ?? null,
        }
      : null,
    control: sources.control,
    storage: { in_flight: sources.state.inflight, internal_errors: sources.state.internalErrors, queue: sources.writerStats() },
  };
}
