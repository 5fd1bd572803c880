import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { z } from "zod";
import type { Provider } from "./providers/contract.ts";
import { declaredProviderSchema, type DeclaredProvider } from "./providers/declare-provider.ts";
import { checkDeclaredIds, providers, type ProviderId } from "./providers/registry.ts";
import { routingSettingsSchema, type RoutingSettings } from "./routing/routing-settings.ts";
import { readTelemetryConfig, TelemetryConfigError, type TelemetryConfig } from "./telemetry/otel-config.ts";

/**
 * The one place that reads the environment. Every setting has one camelCase
 * key; it comes from a flag (`--max-body-bytes`), else `LOUPE_MAX_BODY_BYTES`,
 * else the optional JSON config file (`--config` / `LOUPE_CONFIG`), else the
 * default. Upstream base URLs follow the provider registry:
 * `LOUPE_<PROVIDER>_BASE_URL`; so do a provider's own settings (its `settings`
 * fragment): `region` of `bedrock` is `bedrockRegion`, `LOUPE_BEDROCK_REGION`.
 * The config file alone may declare more providers (`providers: [{ id,
 * baseUrl, dialect, pricingId? }]`); their base URLs follow the same rule.
 */
const logBodyMode = z.enum(["full", "meta", "none"]);
export type LogBodyMode = z.infer<typeof logBodyMode>;
/** When the journal's writes reach the device (recording/journal-sync.ts); the name is part of the contract. */
const journalFsyncMode = z.enum(["never", "interval", "always"]);
export type JournalFsync = z.infer<typeof journalFsyncMode>;

const count = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);
const httpUrl = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ""));

/** A provider setting's key in the flat settings: `<id><Name>` (`bedrockRegion`). */
const providerSettingKey = (id: string, name: string) => `${id}${name.charAt(0).toUpperCase()}${name.slice(1)}`;

/** Every provider's settings fragment, flattened under its keys, with where each goes back to. */
export function collectProviderSettings(list: readonly Pick<Provider, "id" | "settings">[]) {
  const shape: Record<string, z.ZodType> = {};
  const owners: { key: string; id: string; name: string }[] = [];
  for (const { id, settings } of list) {
    for (const [name, schema] of Object.entries(settings?.shape ?? {})) {
      const key = providerSettingKey(id, name);
      shape[key] = schema as z.ZodType;
      owners.push({ key, id, name });
    }
  }
  return { shape, owners };
}

const baseSettings = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.coerce.number().int().min(0).max(65535).default(8787),
  db: z.string().min(1).default("./loupe.duckdb"),
  logBody: logBodyMode.default("meta"),
  maxBodyBytes: count(32 * 1024 * 1024),
  maxLoggedBodyBytes: count(1024 * 1024),
  upstreamTimeoutMs: count(600_000),
  drainTimeoutMs: count(30_000),
  // Off unless set: a stream still open this many seconds after its call began is ended (Spanlens's 290 s).
  streamDeadlineS: z.coerce.number().positive().optional(),
  flushIntervalMs: count(200),
  flushBatchRows: count(5_000).pipe(z.number().min(1)),
  storagePriority: z.enum(["background", "normal"]).default("background"),
  journalFsync: journalFsyncMode.default("never"),
  pricesFile: z.string().min(1).optional(),
  adminToken: z.string().min(1).optional(),
  dashboardPassword: z.string().min(1).optional(),
  // Wrong admin tokens or dashboard passwords one client address may send a minute before it waits a minute; 0: no limit.
  adminAuthFailures: count(5),
  // Part 7: gateway keys, stored provider keys, limits.
  secret: z.string().min(1).optional(),
  requireKey: z.stringbool().optional(),
  redisUrl: z.url({ protocol: /^rediss?$/ }).optional(),
  redisFailOpen: z.stringbool().default(true),
  // Part 9: the shared log in ClickHouse (sinks/clickhouse/).
  clickhouseUrl: z.url({ protocol: /^https?$/ }).optional(),
  clickhouseDatabase: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "letters, digits and _ only").default("loupe"),
  clickhouseUser: z.string().min(1).optional(),
  clickhousePassword: z.string().optional(),
  clickhouseRequired: z.stringbool().default(false),
  jwtSecret: z.string().min(1).optional(),
  jwtJwksUrl: z.url({ protocol: /^https?$/ }).optional(),
  jwtIssuer: z.string().min(1).optional(),
  jwtAudience: z.string().min(1).optional(),
  jwtUserClaim: z.string().min(1).default("sub"),
  jwtProjectClaim: z.string().min(1).default("project"),
  // A link to the trace UI from each record, e.g. http://jaeger:16686/trace/{trace_id}.
  traceUrlTemplate: z.url({ protocol: /^https?$/ }).refine((url) => url.includes("{trace_id}"), "must contain {trace_id}").optional(),
  retentionDays: z.coerce.number().int().positive().optional(),
  quiet: z.stringbool().default(false),
  // Part 8, from the config file: header rules, routing, fallbacks and retries (routing/routing-settings.ts).
  requestHeaderRules: z.unknown().optional(),
  responseHeaderRules: z.unknown().optional(),
  routing: z.unknown().optional(),
  fallbacks: z.unknown().optional(),
  retry: z.unknown().optional(),
  timeouts: z.unknown().optional(),
});

type Settings = z.infer<typeof baseSettings>;
type ProviderSettingsSource = Pick<Provider, "id" | "settings">;

/** The settings schema with each provider's base URL (`<id>BaseUrl`) and settings fragment merged in. */
function settingsFor(list: readonly ProviderSettingsSource[]) {
  const fragments = collectProviderSettings(list);
  const schema = baseSettings.extend({
    ...Object.fromEntries(list.map(({ id }) => [`${id}BaseUrl`, httpUrl.optional()])),
    ...fragments.shape,
  });
  return { schema, keys: Object.keys(schema.shape), ids: list.map(({ id }) => id), owners: fragments.owners };
}

const registered = settingsFor(Object.values(providers));

export interface Config {
  readonly server: { readonly host: string; readonly port: number };
  readonly db: string;
  readonly logBody: LogBodyMode;
  readonly limits: {
    readonly maxBodyBytes: number;
    readonly maxLoggedBodyBytes: number;
    readonly upstreamTimeoutMs: number;
    readonly drainTimeoutMs: number;
    /** LOUPE_STREAM_DEADLINE_S: streams end with the provider's closing events after this long; unset: never. */
    readonly streamDeadlineS?: number | undefined;
  };
  readonly flush: { readonly intervalMs: number; readonly batchRows: number };
  /** `background`: DuckDB's threads run at the lowest CPU priority (runtime/background-priority.ts). */
  readonly storagePriority: "background" | "normal";
  /** LOUPE_JOURNAL_FSYNC: `never` (the OS writes back), `interval` (fdatasync every 100 ms), `always` (before the call's last byte). */
  readonly journalFsync: JournalFsync;
  readonly upstreams: Readonly<Partial<Record<ProviderId, string>>>;
  /** Each provider's own settings (its `settings` fragment), parsed; providers without settings have none. */
  readonly providerSettings: Readonly<Partial<Record<ProviderId, Readonly<Record<string, unknown>>>>>;
  /** Providers the config file declares (`providers`), each with its base URL after `LOUPE_<ID>_BASE_URL` / `--<id>-base-url`. */
  readonly providers: readonly DeclaredProvider[];
  readonly pricesFile?: string | undefined;
  readonly adminToken?: string | undefined;
  /** HTTP basic-auth password (any user name) that opens the dashboard and the /api routes it reads. */
  readonly dashboardPassword?: string | undefined;
  /** Wrong admin tokens or dashboard passwords from one address within a minute before it is locked out for a minute (dashboard/login-throttle.ts); 0: never. */
  readonly adminAuthFailures: number;
  /** The trace UI's URL for a trace, with `{trace_id}` in it; the dashboard links each record there. */
  readonly traceUrlTemplate?: string | undefined;
  /**
   * The shared log (part 9): with LOUPE_CLICKHOUSE_URL, records go to table `requests` there too, and the
   * analytics, `/api/sql` and exports read it. `required`: refuse to start when it cannot be reached.
   */
  readonly clickhouse?: {
    readonly url: string;
    readonly database: string;
    readonly user?: string | undefined;
    readonly password?: string | undefined;
    readonly required: boolean;
  } | undefined;
  /** Gateway keys, stored provider keys and limits (part 7). */
  readonly access: {
    /** LOUPE_SECRET: seals provider keys and peppers key hashes; comma-separated for rotation (current first). */
    readonly secret?: string | undefined;
    /** LOUPE_REQUIRE_KEY as set; unset: required off loopback once a key exists (see requireKeyNow). */
    readonly requireKey?: boolean | undefined;
    readonly redisUrl?: string | undefined;
    /** With Redis down: let calls through (true, default) or refuse them. */
    readonly redisFailOpen: boolean;
    readonly jwt?: {
      readonly secret?: string | undefined;
      readonly jwksUrl?: string | undefined;
      readonly issuer?: string | undefined;
      readonly audience?: string | undefined;
      readonly userClaim: string;
      readonly projectClaim: string;
    } | undefined;
  };
  /** Records older than this many days are deleted (hourly); unset keeps everything. */
  readonly retentionDays?: number | undefined;
  readonly quiet: boolean;
  /** Header rules, routing, fallbacks and retries as the config file sets them (`PUT /api/settings` changes them while running). */
  readonly routing: RoutingSettings;
  /** OpenTelemetry export, from the standard OTEL_* variables; undefined when off. */
  readonly telemetry?: TelemetryConfig | undefined;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

const toEnvName = (key: string) => `LOUPE_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
const toFlagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** `LOUPE_*` variables that name no setting are mistakes worth reporting. */
function readEnv(env: Record<string, string | undefined>, settingKeys: readonly string[]): Record<string, string> {
  const known = new Map(settingKeys.map((key) => [toEnvName(key), key]));
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("LOUPE_") || name === "LOUPE_CONFIG" || value === undefined || value === "") continue;
    const key = known.get(name);
    if (!key) throw new ConfigError(`unknown environment variable ${name}`);
    values[key] = value;
  }
  return values;
}

function readFlags(flags: Record<string, string>, settingKeys: readonly string[]): Record<string, string> {
  const known = new Map(settingKeys.map((key) => [toFlagName(key), key]));
  const values: Record<string, string> = {};
  for (const [flag, value] of Object.entries(flags)) {
    const key = known.get(flag);
    if (!key) throw new ConfigError(`unknown flag ${flag}`);
    values[key] = value;
  }
  return values;
}

function readFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`config file ${path} is not a JSON object: ${(error as Error).message}`);
  }
}

function describeSource(key: string): string {
  return `${toFlagName(key)} / ${toEnvName(key)}`;
}

const declaredList = z.array(declaredProviderSchema);

/** The config file's `providers`: each entry valid, and no id the gateway already serves. */
function readDeclared(value: unknown, path: string | undefined): DeclaredProvider[] {
  if (value === undefined) return [];
  const refuse = (problems: string[]) => new ConfigError(`invalid configuration in ${path}:\n  ${problems.join("\n  ")}`);
  const parsed = declaredList.safeParse(value);
  if (!parsed.success) {
    throw refuse(parsed.error.issues.map((issue) => `providers${issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${issue.message}`));
  }
  const clashes = checkDeclaredIds(parsed.data);
  if (clashes.length > 0) throw refuse(clashes);
  return parsed.data;
}

/**
 * Parses flags (`{"--port": "9000"}`), environment and config file into one
 * frozen config. `providers` (tests only) replaces the registry as the source
 * of provider settings.
 */
export function loadConfig(
  input: { flags?: Record<string, string>; env?: Record<string, string | undefined>; providers?: readonly ProviderSettingsSource[] } = {},
): Config {
  const env = input.env ?? process.env;
  const flags = { ...input.flags };
  const configPath = flags["--config"] ?? env.LOUPE_CONFIG;
  delete flags["--config"];
  const { providers: declaring, ...fromFile } = configPath ? readFile(configPath) : {};
  const declared = readDeclared(declaring, configPath);
  // Declared providers get their base-URL settings (`LOUPE_<ID>_BASE_URL`) as registered ones do.
  const sources = input.providers ?? Object.values(providers);
  const { schema, keys, ids, owners } = declared.length > 0 || input.providers ? settingsFor([...sources, ...declared.map(({ id }) => ({ id }))]) : registered;
  const merged = { ...fromFile, ...readEnv(env, keys), ...readFlags(flags, keys) };
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      // Only the config file can hold a key that is no setting: unknown variables and flags are refused above.
      if (issue.code === "unrecognized_keys") return `${configPath}: no setting is called ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`;
      const key = String(issue.path[0] ?? "");
      return key ? `${describeSource(key)}: ${issue.message}` : issue.message;
    });
    throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
  const s = parsed.data as Settings & Record<string, string | undefined>;
  const upstreams: Record<string, string> = {};
  const declaredIds = new Set(declared.map(({ id }) => id));
  for (const id of ids) {
    const url = s[`${id}BaseUrl`];
    if (url && !declaredIds.has(id)) upstreams[id] = url;
  }
  const perProvider: Record<string, Record<string, unknown>> = {};
  for (const { key, id, name } of owners) {
    const value = (parsed.data as Record<string, unknown>)[key];
    if (value !== undefined) (perProvider[id] ??= {})[name] = value;
  }
  let telemetry: TelemetryConfig | undefined;
  try {
    telemetry = readTelemetryConfig(env);
  } catch (error) {
    if (error instanceof TelemetryConfigError) throw new ConfigError(`invalid OpenTelemetry configuration: ${error.message}`);
    throw error;
  }
  return deepFreeze({
    telemetry,
    server: { host: s.host, port: s.port },
    db: s.db,
    logBody: s.logBody,
    limits: {
      maxBodyBytes: s.maxBodyBytes,
      maxLoggedBodyBytes: s.maxLoggedBodyBytes,
      upstreamTimeoutMs: s.upstreamTimeoutMs,
      drainTimeoutMs: s.drainTimeoutMs,
      streamDeadlineS: s.streamDeadlineS,
    },
    flush: { intervalMs: s.flushIntervalMs, batchRows: s.flushBatchRows },
    storagePriority: s.storagePriority,
    journalFsync: s.journalFsync,
    upstreams,
    providerSettings: perProvider,
    providers: declared.map((entry) => ({ ...entry, baseUrl: s[`${entry.id}BaseUrl`] ?? entry.baseUrl })),
    pricesFile: s.pricesFile,
    adminToken: s.adminToken,
    dashboardPassword: s.dashboardPassword,
    adminAuthFailures: s.adminAuthFailures,
    clickhouse: s.clickhouseUrl
      ? { url: s.clickhouseUrl, database: s.clickhouseDatabase, user: s.clickhouseUser, password: s.clickhousePassword, required: s.clickhouseRequired }
      : undefined,
    access: {
      secret: s.secret,
      requireKey: s.requireKey,
      redisUrl: s.redisUrl,
      redisFailOpen: s.redisFailOpen,
      jwt:
        s.jwtSecret || s.jwtJwksUrl
          ? { secret: s.jwtSecret, jwksUrl: s.jwtJwksUrl, issuer: s.jwtIssuer, audience: s.jwtAudience, userClaim: s.jwtUserClaim, projectClaim: s.jwtProjectClaim }
          : undefined,
    },
    traceUrlTemplate: s.traceUrlTemplate,
    retentionDays: s.retentionDays,
    quiet: s.quiet,
    routing: readRoutingSettings(s, configPath),
  });
}

/** The config file's part-8 settings, validated as a whole (a rule loop is refused here, at load). */
function readRoutingSettings(s: Record<string, unknown>, path: string | undefined): RoutingSettings {
  const given = Object.fromEntries(["requestHeaderRules", "responseHeaderRules", "routing", "fallbacks", "retry", "timeouts"].filter((k) => s[k] !== undefined).map((k) => [k, s[k]]));
  const parsed = routingSettingsSchema.safeParse(given);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").slice(1)}: ${issue.message}`);
  throw new ConfigError(`invalid configuration${path ? ` in ${path}` : ""}:\n  ${problems.join("\n  ")}`);
}

/** The settings table for `--help` and the README. */
const FILE_ONLY = new Set(["requestHeaderRules", "responseHeaderRules", "routing", "fallbacks", "retry", "timeouts"]);

export function describeSettings(): { flag: string; env: string }[] {
  return registered.keys.filter((key) => !FILE_ONLY.has(key)).map((key) => ({ flag: toFlagName(key), env: toEnvName(key) }));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Whether a listen address is loopback: `localhost`, an IPv4 address in
 * 127.0.0.0/8, or ::1. A host name is not, whatever it begins with
 * (`127.0.0.1.example.com` resolves where its DNS says).
 */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const family = isIP(bare);
  if (family === 4) return bare.startsWith("127.");
  // Written out or compressed, ::1 has one canonical form.
  return family === 6 && new URL(`http://[${bare}]`).hostname === "[::1]";
}

/**
 * LOUPE_REQUIRE_KEY's rule: as set; unset, calls need a gateway key (or JWT)
 * when the gateway listens off loopback and at least one key exists.
 */
export function requireKeyNow(config: Pick<Config, "access" | "server">, keysExist: boolean): boolean {
  if (config.access.requireKey !== undefined) return config.access.requireKey;
  return !isLoopbackHost(config.server.host) && keysExist;
}
