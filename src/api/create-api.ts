import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { stringify as toYaml } from "yaml";
import { formatCsv } from "./format-table.ts";
import type { Access } from "../dashboard/access.ts";
import { clientAddressOf } from "../http/client-address.ts";
import { sameSecret } from "../http/same-secret.ts";
import type { AccessCommands } from "../keys/access-admin.ts";
import { addAccessRoutes, type LimitUsage } from "./access-routes.ts";
import { addDashboardRoutes, type DashboardApiDeps } from "./dashboard-routes.ts";
import { computeCostNano, formatNanoUsd } from "../pricing/compute-cost.ts";
import type { PriceBook } from "../pricing/price-book.ts";
import { LoupeError, renderError, toLoupeError } from "../errors.ts";
import type { ProviderRegistry, RouteDescription } from "../providers/registry.ts";
import type { AnalyticsStore, RequestFilter } from "../sinks/analytics.ts";
import { describePrice, explainCost } from "./explain-cost.ts";
import { readFigures, readMeters } from "./rate-limit-meters.ts";
import { renderReferencePage } from "./reference-page.ts";
import * as s from "./schemas.ts";

export interface ApiDeps {
  analytics: AnalyticsStore;
  priceBook: PriceBook;
  /** The providers served (their routes for the OpenAPI description, their ids in the price data). */
  registry: Pick<ProviderRegistry, "describeRoutes" | "pricingIdOf">;
  adminToken: string | undefined;
  access: Access;
  /** The dashboard's settings page and live tail (dashboard-routes.ts). */
  dashboard: Omit<DashboardApiDeps, "access" | "adminToken">;
  version: string;
  /** Keys, provider keys, limits and the audit (access-routes.ts); without it those routes are not served. */
  accessAdmin?: AccessCommands | undefined;
  /** Limits' current use, from the limiter. */
  limitUsage?: LimitUsage | undefined;
  /** The local CLI's key (discovery file): commands reach `/api` with it in x-loupe-local-key. */
  localKey?: string | undefined;
  /** Vetted read-only SQL (see store/sql-guard.ts). */
  sql(query: string, maxRows: number): Promise<{ columns: string[]; rows: unknown[][]; truncated: boolean }>;
}

/** Errors a caller can fix, answered 400 with the message (and field when known). */
export class ApiInputError extends Error {
  override name = "ApiInputError";
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const errors = {
  400: json(s.ErrorSchema, "Invalid parameter: the message names the field"),
  401: json(s.ErrorSchema, "Missing or wrong admin token"),
};
const security = [{ bearer: [] }];

function toFilter(q: z.infer<typeof s.FilterQuery>): RequestFilter {
  return {
    from: q.from,
    to: q.to,
    provider: q.provider,
    model: q.model,
    status: q.status,
    session: q.session,
    user: q.user,
    project: q.project,
    tag: q.tag,
    minCost: q.min_cost,
    streamed: q.streamed,
    unpriced: q.unpriced,
  };
}

/**
 * The analytics API: every route declared with zod schemas, which both
 * validate requests and generate `/openapi.json`. Data comes only through
 * the AnalyticsStore interface.
 */
export function createApi(deps: ApiDeps): OpenAPIHono {
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (result.success) return undefined;
      const issue = result.error.issues[0];
      const field = issue?.path.join(".") || undefined;
      return renderError(new LoupeError("invalid_request", `${field ? `${field}: ` : ""}${issue?.message ?? "invalid request"}`, { field }));
    },
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", description: "LOUPE_ADMIN_TOKEN" });

  // Access (dashboard/access.ts): /api/* and the reference page need a credential whenever one is configured.
  const OPEN = new Set(["/api/hello", "/api/login", "/api/logout"]);
  const local = (c: Context) => deps.localKey !== undefined && sameSecret(c.req.header("x-loupe-local-key"), deps.localKey);
  const guard = async (c: Context, next: () => Promise<void>) => (local(c) ? next() : (deps.access.check(c.req.raw, clientAddressOf(c)) ?? next()));
  app.use("/api/*", async (c, next) => (OPEN.has(c.req.path) ? next() : guard(c, next)));
  app.use("/reference", guard);
  // One mapping for every route (errors.ts): a query timeout is 408 here and on /_loupe/sql. A body the
  // request validators could not read (malformed JSON 400, another content type 415) is the caller's to fix.
  app.onError((error) => renderError(error instanceof HTTPException && error.status < 500 ? new LoupeError("invalid_request", error.message || "unreadable request body") : toLoupeError(error)));

  // A GET route with a query schema; handlers read the parsed query with c.req.valid("query").
  // (Typed loosely: the exact route type of this shared builder defeats inference.)
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const get = (path: string, summary: string, query: z.ZodType | undefined, response: z.ZodType): any =>
    createRoute({
      method: "get",
      path,
      summary,
      tags: ["analytics"],
      security,
      request: query ? { query: query as never } : {},
      responses: { 200: json(response, summary), ...errors },
    });

  app.openapi(get("/api/requests", "List recorded calls, newest first, with cursor pagination", s.PageQuery, s.RequestPageSchema), async (c) => {
    const q = c.req.valid("query" as never) as z.infer<typeof s.PageQuery>;
    return c.json(await deps.analytics.listRequests(toFilter(q), { cursor: q.cursor, limit: q.limit, sort: q.sort, order: q.order }), 200);
  });

  const idParam = z.object({ id: z.string().min(1).openapi({ param: { name: "id", in: "path" } }) });
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/requests/{id}",
      summary: "One recorded call, with its bodies when they were logged",
      tags: ["analytics"],
      security,
      request: { params: idParam },
      responses: { 200: json(s.RequestDetailSchema, "The record"), 404: json(s.ErrorSchema, "No such record"), ...errors },
    }),
    async (c) => {
      const found = await deps.analytics.getRequest(c.req.valid("param").id);
      if (!found) return c.json({ error: { type: "not_found", message: "no record with this id" } }, 404);
      const { billable: _, ...record } = found;
      const cost_breakdown = explainCost(found, { priceBook: deps.priceBook, pricingIdOf: deps.registry.pricingIdOf });
      return c.json({ ...record, cost_breakdown } as z.infer<typeof s.RequestDetailSchema>, 200);
    },
  );

  app.openapi(get("/api/stats/summary", "Totals for a time range: calls, errors, tokens, cost, unpriced calls, cache, latency", s.FilterQuery, s.SummarySchema), async (c) => {
    const q = c.req.valid("query" as never) as z.infer<typeof s.FilterQuery>;
    const { totals, cacheReads } = await deps.analytics.summary(toFilter(q));
    let savings = 0n;
    let unpricedTokens = 0;
    for (const row of cacheReads) {
      const price = deps.priceBook.lookup(deps.registry.pricingIdOf(row.provider), row.model);
      if (!price) {
        unpricedTokens += row.cache_read_tokens;
        continue;
      }
      const n = row.cache_read_tokens;
      savings += computeCostNano({ inputTokens: n }, price.prices) - computeCostNano({ inputTokens: n, cacheReadTokens: n }, price.prices);
    }
    return c.json({ ...totals, cache_savings_usd: formatNanoUsd(savings), cache_savings_unpriced_tokens: unpricedTokens }, 200);
  });

  app.openapi(get("/api/stats/timeseries", "The same figures per minute, hour or day, optionally grouped", s.TimeseriesQuery, s.TimeseriesSchema), async (c) => {
    const q = c.req.valid("query" as never) as z.infer<typeof s.TimeseriesQuery>;
    const points = await deps.analytics.timeseries(toFilter(q), q.bucket, q.group_by, { top: q.top });
    return c.json({ bucket: q.bucket, group_by: q.group_by ?? null, points }, 200);
  });

  app.openapi(get("/api/stats/models", "Breakdown by provider and model", s.FilterQuery, s.ModelBreakdownSchema), async (c) => {
    const q = c.req.valid("query" as never) as z.infer<typeof s.FilterQuery>;
    const items = (await deps.analytics.breakdown(toFilter(q), "model")).map((item) => ({
      ...item,
      price: item.model === null || item.model === undefined ? null : describePrice(deps.priceBook.lookup(deps.registry.pricingIdOf(item.provider), item.model)),
    }));
    return c.json({ items: items as never }, 200);
  });

  app.openapi(get("/api/stats/providers", "Breakdown by provider", s.FilterQuery, s.ProviderBreakdownSchema), async (c) => {
    const q = c.req.valid("query" as never) as z.infer<typeof s.FilterQuery>;
    return c.json({ items: (await deps.analytics.breakdown(toFilter(q), "provider")) as never }, 200);
  });

  app.openapi(
    get("/api/stats/ratelimits", "The providers' rate-limit headers over time per provider, organization and gateway key, and the latest per organization with its plan meters", s.RateLimitsQuery, s.RateLimitsSchema),
    async (c) => {
      const q = c.req.valid("query" as never) as z.infer<typeof s.RateLimitsQuery>;
      const { points, latest } = await deps.analytics.rateLimits({ from: q.from, to: q.to, provider: q.provider }, q.bucket);
      return c.json(
        {
          bucket: q.bucket,
          points: points.map((point) => ({ ...point, headers: readFigures(point.headers) })),
          latest: latest.map((entry) => ({ ...entry, headers: readFigures(entry.headers), meters: readMeters(entry.headers) })),
        },
        200,
      );
    },
  );

  const SessionsQuery = s.FilterQuery.extend({ cursor: z.string().min(1).optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) });
  app.openapi(get("/api/sessions", "Sessions with their aggregates, most recent activity first", SessionsQuery, s.SessionPageSchema), async (c) => {
    const q = c.req.valid("query" as never) as z.infer<typeof SessionsQuery>;
    return c.json((await deps.analytics.sessions(toFilter(q), { cursor: q.cursor, limit: q.limit })) as never, 200);
  });

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/sessions/{id}",
      summary: "One session: aggregates, totals per agent, and its calls in order",
      tags: ["analytics"],
      security,
      request: { params: idParam },
      responses: { 200: json(s.SessionDetailSchema, "The session"), 404: json(s.ErrorSchema, "No such session"), ...errors },
    }),
    async (c) => {
      const found = await deps.analytics.session(c.req.valid("param").id);
      if (!found) return c.json({ error: { type: "not_found", message: "no session with this id" } }, 404);
      return c.json(found as never, 200);
    },
  );

  app.openapi(get("/api/users", "Usage and cost per end user", s.FilterQuery, s.UsersSchema), async (c) => {
    const q = c.req.valid("query" as never) as z.infer<typeof s.FilterQuery>;
    return c.json({ items: (await deps.analytics.users(toFilter(q))) as never }, 200);
  });

  app.openapi(get("/api/projects", "Usage and cost per project", s.FilterQuery, s.ProjectsSchema), async (c) => {
    const q = c.req.valid("query" as never) as z.infer<typeof s.FilterQuery>;
    return c.json({ items: (await deps.analytics.projects(toFilter(q))) as never }, 200);
  });

  app.openapi(get("/api/usage-summary", "Today, this week (ISO, from Monday) and this month, in UTC", undefined, s.UsageSummarySchema), async (c) => {
    const now = new Date().toISOString();
    return c.json({ now, ...(await deps.analytics.usageSummary(now)) }, 200);
  });

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/sql",
      summary: "Read-only SQL over the records (SELECT only; no files, network or extensions; row and time limits)",
      tags: ["analytics"],
      security,
      request: { body: { content: { "application/json": { schema: s.SqlBodySchema } }, required: true } },
      responses: {
        200: { content: { "application/json": { schema: s.SqlResultSchema }, "text/csv": { schema: z.string() } }, description: "Rows" },
        408: json(s.ErrorSchema, "The query ran past the time limit"),
        ...errors,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const result = await deps.sql(body.sql, body.max_rows);
      if (body.format === "csv") {
        return c.body(formatCsv(result), 200, { "content-type": "text/csv; charset=utf-8", "x-loupe-truncated": String(result.truncated) });
      }
      return c.json(result, 200);
    },
  );

  addDashboardRoutes(app, { access: deps.access, adminToken: deps.adminToken, ...deps.dashboard });
  if (deps.accessAdmin) addAccessRoutes(app, { admin: deps.accessAdmin, usage: deps.limitUsage, access: deps.access, localKey: deps.localKey });
  describeProxyRoutes(app, deps.registry.describeRoutes());

  const document = () =>
    app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: "Loupe",
        version: deps.version,
        description: "Self-hosted LLM API gateway. Proxy routes forward native provider traffic; `/api` answers analytics over the recorded calls.",
      },
    });
  app.get("/openapi.json", (c) => c.json(document()));
  app.get("/openapi.yaml", (c) => c.body(toYaml(document()), 200, { "content-type": "application/yaml; charset=utf-8" }));
  app.get("/reference", (c) => c.html(renderReferencePage(document() as never)));
  return app;
}

/** The proxy routes in the spec, as pass-through operations (their bodies are the providers' own). */
function describeProxyRoutes(app: OpenAPIHono, routes: RouteDescription[]) {
  const passthrough = { description: "The provider's response, passed through untouched (streamed when the request asks for it)" };
  for (const route of routes) {
    app.openAPIRegistry.registerPath({
      method: "post",
      path: `${route.prefix}/{path}`,
      summary: `Proxy to ${route.upstream}/{path} (any method)`,
      description: `Forwards any request under ${route.prefix} (or ${route.alias}) to the ${route.provider} API byte for byte, with the client's own credentials, and records it. The SDK's base URL is http://HOST:PORT${route.sdkPath}. Tag calls with x-loupe-session, x-loupe-user, x-loupe-project, x-loupe-tags and x-loupe-log-body (full|meta|none). Every response carries x-loupe-request-id.`,
      tags: ["proxy"],
      request: {
        params: z.object({ path: z.string().openapi({ param: { name: "path", in: "path" }, example: route.examplePath }) }),
        headers: z.object({
          "x-loupe-session": z.string().optional(),
          "x-loupe-user": z.string().optional(),
          "x-loupe-project": z.string().optional(),
          "x-loupe-tags": z.string().optional(),
          "x-loupe-log-body": z.enum(["full", "meta", "none"]).optional(),
        }),
        body: { content: { "application/json": { schema: z.looseObject({}) } } },
      },
      responses: { 200: passthrough, default: { description: "Provider errors pass through untouched; Loupe's own errors use the provider's error format" } },
    });
  }
}
