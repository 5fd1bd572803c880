import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ApiDeps } from "./api/create-api.ts";
import { createAccess } from "./dashboard/access.ts";
import { createLoginThrottle } from "./dashboard/login-throttle.ts";
import { describeSettings } from "./api/describe-settings.ts";
import { createRecordFeed, type RecordFeed } from "./dashboard/record-feed.ts";
import { createDashboard, type DashboardBundle } from "./dashboard/serve-dashboard.ts";
import { prefersHtml } from "./dashboard/ui-routes.ts";
import { LoupeError, renderError, toLoupeError } from "./errors.ts";
import { clientAddressOf, type ClientEnv } from "./http/client-address.ts";
import { sameSecret } from "./http/same-secret.ts";
import { createRegistry, type RouteMatch } from "./providers/registry.ts";
import { forward, type ProxyDeps } from "./proxy/forward.ts";
import type { UpstreamFetch } from "./proxy/proxy-deps.ts";
import { createUpstreamDeadlines } from "./proxy/upstream-deadline.ts";

const LOCAL_SQL_MAX_ROWS = 100_000;
const OWN_BODY_BYTES = 1024 * 1024;
import type { RecordWriterStats } from "./recording/journal-writer.ts";
import { recordCall } from "./recording/recorder.ts";
import { createRoutingSettings, type RoutingSettingsHolder } from "./routing/routing-settings.ts";
import { createCircuitBreaker } from "./routing/circuit-breaker.ts";
import type { AuditEntry } from "./keys/definitions.ts";
import { parseNanoUsd } from "./pricing/compute-cost.ts";
import type { PriceBook } from "./pricing/price-book.ts";

export interface GatewayState {
  draining: boolean;
  inflight: number;
  internalErrors: number;
}

export interface AppDeps extends Omit<ProxyDeps, "record" | "recordLater" | "deadlines" | "onFailure" | "baseUrlOf" | "fetch" | "settleUsage" | "routing" | "providerOf" | "breaker"> {
  /** The part-8 settings in force; made from the config file when absent. */
  routing?: RoutingSettingsHolder | undefined;
  state: GatewayState;
  priceBook: PriceBook;
  /** Journals a call event (recording/journal-writer.ts); a promise when the call's last bytes wait for its sync. */
  writeEvent(line: string): Promise<void> | void;
  /** Journals a call event followed by the response body its record is read from; returns as `writeEvent`. */
  writeEventWithBody(line: string, body: Uint8Array): Promise<void> | void;
  /** Reaches the upstreams: the global fetch, unless a test injects one. */
  fetch?: UpstreamFetch | undefined;
  writerStats(): RecordWriterStats;
  /** Stores queued records now (so a query sees every finished call). */
  flushRecords(): Promise<void>;
  /** Secret shared with local CLI processes through the discovery file. */
  localKey: string;
  version: string;
  /** Export counters and backlog for `/livez`, when telemetry is on. */
  telemetryStats?: (() => Promise<unknown>) | undefined;
  /** The ClickHouse sink's health and backlog for `/livez`, when ClickHouse is the log. */
  clickhouseStats?: (() => Promise<unknown>) | undefined;
  analytics: ApiDeps["analytics"];
  apiSql: ApiDeps["sql"];
  /** `loupe export --parquet` while this server holds the database. */
  exportParquet(dir: string, since: string | undefined): Promise<unknown>;
  /** The limiter's backend and Redis failures, for `/livez`. */
  limiterStats?: (() => unknown) | undefined;
  /** Writes an admin action to the audit table (PUT /api/settings). */
  audit?: ((entry: AuditEntry) => Promise<void>) | undefined;
  /** New records for the dashboard's live tail (none when absent). */
  feed?: RecordFeed | undefined;
  /** The dashboard's page shell and assets (src/dashboard/ui-bundle.generated.ts). */
  dashboard: DashboardBundle;
  /** Keys, provider keys, limits and the audit (keys/access-admin.ts): `/api/keys`, `/api/provider-keys`, `/api/limits`, `/api/audit`. */
  accessAdmin?: ApiDeps["accessAdmin"];
  /** Limits' current use, from the limiter, for `GET /api/limits`. */
  limitUsage?: ApiDeps["limitUsage"];
}

export function createApp(deps: AppDeps): { app: Hono; fetch: (request: Request, clientAddress?: string) => Response | Promise<Response> } {
  const { state } = deps;
  // The registered providers and those the config file declares: routes, `GET /`, OpenAPI, price lookups.
  const registry = createRegistry(deps.config.providers);
  const app = new Hono();
  const proxyDeps: ProxyDeps = {
    config: deps.config,
    onInternalError: deps.onInternalError,
    tracer: deps.tracer,
    deadlines: createUpstreamDeadlines(deps.config.limits.upstreamTimeoutMs),
    baseUrlOf: (adapter) => deps.config.upstreams[adapter.id as keyof typeof deps.config.upstreams] ?? adapter.upstream.baseUrl,
    fetch: deps.fetch ?? globalThis.fetch,
    gate: deps.gate,
    providerOf: registry.providerById,
    breaker: createCircuitBreaker(),
    routing: deps.routing ?? createRoutingSettings(deps.config.routing),
    isPriced: (provider, model) => provider.freeUnlessPriced === true || provider.reportsCost === true || deps.priceBook.lookup(provider.pricingId ?? provider.id, model) !== undefined,
    settleUsage(event, body, settle) {
      // Off the response's path: the recorder's own code prices the call, as its record will be priced.
      setTimeout(() => {
        try {
          const { record } = recordCall(event, body, deps.priceBook).recorded;
          // Tokens used but no price: the cost is unknown, not $0, and the limiter counts it apart
          // (create-gate.ts, limits/README.md). A call that reported no usage adds nothing, as before.
          const tokens = (record.input_tokens ?? 0) + (record.output_tokens ?? 0);
          const costNano = record.cost_usd !== null ? parseNanoUsd(record.cost_usd) : tokens > 0 ? undefined : 0n;
          settle({ tokens, costNano, model: record.response_model ?? record.routed_model ?? record.model ?? undefined });
        } catch (error) {
          deps.onInternalError(`limits: pricing ${event.id} failed: ${(error as Error).message}`);
        }
      }, 0);
    },
    record(line) {
      state.inflight--;
      return deps.writeEvent(line);
    },
    recordLater(line, body) {
      state.inflight--;
      return deps.writeEventWithBody(line, body);
    },
    onFailure(error) {
      // forward() records every outcome it handles; reaching here is a bug.
      state.inflight--;
      deps.onInternalError(`proxy failure: ${(error as Error).stack ?? error}`);
    },
  };

  // Loupe's own routes take small JSON bodies (a query, settings, a key), counted as they arrive,
  // before any credential is checked: never past OWN_BODY_BYTES (nor LOUPE_MAX_BODY_BYTES).
  const ownBodyBytes = Math.min(OWN_BODY_BYTES, deps.config.limits.maxBodyBytes);
  app.use("*", bodyLimit({ maxSize: ownBodyBytes, onError: () => renderError(new LoupeError("payload_too_large", `request body exceeds the limit of ${ownBodyBytes} bytes`)) }));
  app.get("/health", (c) =>
    state.draining ? c.json({ status: "draining", in_flight: state.inflight }, 503) : c.json({ status: "ok", version: deps.version }),
  );
  app.get("/livez", async (c) =>
    c.json({
      status: state.draining ? "draining" : "ok",
      inflight: state.inflight,
      records: deps.writerStats(),
      telemetry: (await deps.telemetryStats?.()) ?? null,
      clickhouse: (await deps.clickhouseStats?.()) ?? null,
      limits: deps.limiterStats?.() ?? null,
      internal_errors: state.internalErrors,
    }),
  );
  // HEAD /api/hello, as Claude Code was seen to probe at start-up (2.1.197 probes its base URL: `fetch` below).
  app.on(["GET", "HEAD"], "/api/hello", (c) => c.body(null, 200));
  const access = createAccess({
    adminToken: deps.config.adminToken,
    dashboardPassword: deps.config.dashboardPassword,
    throttle: deps.config.adminAuthFailures > 0 ? createLoginThrottle({ maxFailures: deps.config.adminAuthFailures }) : null,
  });
  const dashboard = createDashboard(deps.dashboard, access);
  const settings = () =>
    describeSettings({
      config: deps.config,
      version: deps.version,
      routes: registry.describeRoutes(),
      state,
      writerStats: deps.writerStats,
      telemetryStats: deps.telemetryStats,
      clickhouseStats: deps.clickhouseStats,
      control: { version: proxyDeps.routing.version, settings: proxyDeps.routing.current },
    });
  // The API (its zod-openapi routes, the OpenAPI document) is built when it is first asked for, not at
  // start: loading and declaring it was most of what making the app cost (bench/startup.ts). Its paths:
  const API_PATHS = ["/api/*", "/openapi.json", "/openapi.yaml", "/reference"];
  let api: Promise<{ fetch(request: Request, env: ClientEnv): Response | Promise<Response> }> | undefined;
  const buildApi = async () => {
    const [{ createApi }, { addSettingsRoutes }] = await Promise.all([import("./api/create-api.ts"), import("./api/settings-routes.ts")]);
    const built = createApi({
      analytics: deps.analytics,
      priceBook: deps.priceBook,
      registry,
      adminToken: deps.config.adminToken,
      access,
      dashboard: { settings, feed: deps.feed ?? createRecordFeed() },
      version: deps.version,
      sql: deps.apiSql,
      accessAdmin: deps.accessAdmin,
      limitUsage: deps.limitUsage,
      localKey: deps.localKey,
    });
    addSettingsRoutes(built, { routing: proxyDeps.routing, audit: deps.audit, actor: (request) => (access.identify(request) === "token" ? "admin-token" : access.identify(request) === "open" ? "local" : "dashboard") });
    // A path under /api that no route serves is answered as any other such path.
    built.notFound((c) => notServed(c));
    return built;
  };
  for (const path of API_PATHS) app.all(path, async (c) => (await (api ??= buildApi())).fetch(c.req.raw, { clientAddress: clientAddressOf(c) }));
  app.on(["GET", "HEAD"], "/assets/*", (c, next) => dashboard.asset(c.req.raw, c.req.path) ?? next());

  // Local CLI processes (`loupe sql`, `loupe export`) present the key from the discovery file.
  // Errors here take the same status as anywhere (errors.ts), in Loupe's neutral shape.
  app.use("/_loupe/*", async (c, next) =>
    sameSecret(c.req.header("x-loupe-local-key"), deps.localKey) ? next() : renderError(new LoupeError("forbidden", "send the key from the discovery file in x-loupe-local-key")),
  );

  app.post("/_loupe/export", async (c) => {
    const { dir, since } = (await readJsonObject(c.req.raw)) ?? {};
    if (typeof dir !== "string" || !dir.startsWith("/") || (since !== undefined && typeof since !== "string")) {
      return renderError(new LoupeError("invalid_request", 'body must be {"dir": "/absolute/path", "since"?: "YYYY-MM-DD"}'));
    }
    try {
      await deps.flushRecords();
      return c.json(await deps.exportParquet(dir, since));
    } catch (error) {
      return renderError(toLoupeError(error));
    }
  });

  app.post("/_loupe/sql", async (c) => {
    const { sql } = (await readJsonObject(c.req.raw)) ?? {};
    if (typeof sql !== "string" || sql.trim() === "") return renderError(new LoupeError("invalid_request", 'body must be {"sql": "…"}'));
    try {
      return c.json(await deps.apiSql(sql, LOCAL_SQL_MAX_ROWS));
    } catch (error) {
      return renderError(toLoupeError(error));
    }
  });

  // Browsers get the dashboard; other clients the mounted routes, from the provider registry.
  app.get("/", (c) => {
    if (prefersHtml(c.req.header("accept"))) return dashboard.page(c.req.raw, "/", clientAddressOf(c));
    const origin = new URL(c.req.url).origin;
    const routes = registry.describeRoutes().map((route) => ({
      provider: route.provider,
      prefix: route.prefix,
      alias: route.alias,
      upstream: route.upstream,
      sdk_base_url: origin + route.sdkPath,
      drop_in: route.dropIn,
    }));
    return c.json({ name: "loupe", version: deps.version, routes });
  });

  // Anything not routed above and not a provider path (those never reach Hono).
  const prefixes = registry.describeRoutes().map((route) => route.prefix).join(", ");
  const notServed = (c: Context) =>
    (c.req.method === "GET" || c.req.method === "HEAD") && prefersHtml(c.req.header("accept"))
      ? dashboard.page(c.req.raw, c.req.path, clientAddressOf(c))
      : renderError(new LoupeError("not_found", `no provider serves ${c.req.path}: the provider routes are ${prefixes} (GET / lists them)`));
  app.all("*", notServed);

  function proxy(request: Request, route: RouteMatch): Response | Promise<Response> {
    if (state.draining) return renderError(new LoupeError("unavailable", "Loupe is shutting down"), route.adapter.dialect);
    state.inflight++;
    return forward(request, route, proxyDeps);
  }

  /**
   * Proxied calls skip the router: they are most of the traffic and their
   * route is a prefix test. Everything else (health, admin) goes through Hono.
   * A HEAD of a provider's root is no call but a connection probe (Claude Code
   * sends `HEAD $ANTHROPIC_BASE_URL` at start-up: `HEAD /anthropic`, or
   * `HEAD /`, which Hono answers like `GET /`): answered here, not forwarded,
   * not recorded.
   */
  const fetch = (request: Request, clientAddress = ""): Response | Promise<Response> => {
    const url = request.url;
    // A Host that is no host gets 400 (RFC 9112 §3.2). Bun takes it and gives a URL without an origin,
    // whose path this function and Hono would each misread (`/x/anthropic/…` proxied as `/anthropic/…`).
    if (!url.startsWith("http")) return renderError(new LoupeError("invalid_request", "the Host header is not a valid host"), undefined, { connection: "close" });
    const start = url.indexOf("/", url.indexOf("//") + 2);
    const end = url.indexOf("?", start);
    const pathname = start < 0 ? "/" : url.slice(start, end < 0 ? undefined : end);
    const route = registry.matchRoute(request.method, pathname, request.headers);
    if (route && request.method === "HEAD" && route.upstreamPath === "/") return new Response(null, { status: 200 });
    return route ? proxy(request, route) : app.fetch(request, { clientAddress } satisfies ClientEnv);
  };
  return { app, fetch };
}

/** A request's JSON object body, or undefined when it is not one (not JSON, or JSON of another kind): the caller's mistake, answered 400. */
async function readJsonObject(request: Request): Promise<Record<string, unknown> | undefined> {
  try {
    const body: unknown = await request.json();
    return typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
