import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Access } from "../dashboard/access.ts";
import { sameSecret } from "../http/same-secret.ts";
import type { AccessCommands, Actor } from "../keys/access-admin.ts";
import type { Limit } from "../keys/definitions.ts";
import * as a from "./access-schemas.ts";
import { ErrorSchema } from "./schemas.ts";

/** A limit's current use, from the limiter (serve.ts passes `limiter.usage`); absent, or no figure: listings show `usage: null`. */
export type LimitUsage = (limit: Limit) => Promise<{ used: string; resetS: number } | undefined>;

export interface AccessApiDeps {
  admin: AccessCommands;
  usage?: LimitUsage | undefined;
  access: Access;
  /** The local CLI's key (discovery file): its requests are the `cli` actor. */
  localKey?: string | undefined;
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const body = <T extends z.ZodType>(schema: T) => ({ body: { content: { "application/json": { schema } }, required: true } });
const errors = {
  400: json(ErrorSchema, "Invalid input: the message says what to fix"),
  401: json(ErrorSchema, "Missing or wrong credentials"),
  503: json(ErrorSchema, "Redis (LOUPE_REDIS_URL) unreachable: the change was not made"),
};
const security = [{ bearer: [] }];
const tags = ["access"];
const idParam = z.object({ id: z.string().min(1).openapi({ param: { name: "id", in: "path" } }) });

/** The credential a change is audited under. */
function actorOf(request: Request, deps: AccessApiDeps): Actor {
  if (deps.localKey && sameSecret(request.headers.get("x-loupe-local-key") ?? undefined, deps.localKey)) return "cli";
  const credential = deps.access.identify(request);
  return credential === "token" ? "admin-token" : credential === "open" ? "local" : "dashboard";
}

/** `/api/keys`, `/api/provider-keys`, `/api/limits`, `/api/audit` (create-api.ts guards them like every `/api` route). */
export function addAccessRoutes(app: OpenAPIHono, deps: AccessApiDeps): void {
  const { admin } = deps;
  const actor = (c: { req: { raw: Request } }) => actorOf(c.req.raw, deps);

  app.openapi(
    createRoute({ method: "get", path: "/api/keys", summary: "Gateway keys (never the key or its hash)", tags, security, responses: { 200: json(a.KeyListSchema, "Keys"), ...errors } }),
    async (c) => c.json({ items: await admin.listKeys() }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/keys",
      summary: "Create a gateway key: the answer holds the key, shown this once",
      tags,
      security,
      request: body(a.CreateKeyBodySchema),
      responses: { 201: json(a.NewKeySchema, "The new key"), ...errors },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const made = await admin.createKey(
        { project: b.project, user: b.user, name: b.name, expiresInS: b.expires_in_s, providers: b.providers, models: b.models, metadata: b.metadata },
        actor(c),
      );
      c.header("cache-control", "no-store");
      return c.json(made, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/keys/{id}/revoke",
      summary: "Revoke a gateway key (calls with it get 401 from now on)",
      tags,
      security,
      request: { params: idParam },
      responses: { 200: json(a.KeySchema, "The revoked key"), 404: json(ErrorSchema, "No such key"), ...errors },
    }),
    async (c) => c.json(await admin.revokeKey(c.req.valid("param").id, actor(c)), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/keys/{id}/rotate",
      summary: "Give a key a new secret (same id, limits and records); the old one stops working",
      tags,
      security,
      request: { params: idParam },
      responses: { 200: json(a.NewKeySchema, "The new key, shown this once"), 404: json(ErrorSchema, "No such key"), ...errors },
    }),
    async (c) => {
      c.header("cache-control", "no-store");
      return c.json(await admin.rotateKey(c.req.valid("param").id, actor(c)), 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/api/provider-keys", summary: "Stored provider keys: ids and fingerprints only", tags, security, responses: { 200: json(a.ProviderKeyListSchema, "Provider keys"), ...errors } }),
    async (c) => c.json({ items: await admin.listProviderKeys() }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/provider-keys",
      summary: "Store a provider key (sealed), for a project or as the default; replaces the provider's key for that project",
      tags,
      security,
      request: body(a.SetProviderKeyBodySchema),
      responses: { 201: json(a.ProviderKeySchema, "Stored"), ...errors },
    }),
    async (c) => c.json(await admin.setProviderKey(c.req.valid("json"), actor(c)), 201),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/provider-keys/{id}",
      summary: "Delete a stored provider key",
      tags,
      security,
      request: { params: idParam },
      responses: { 200: json(z.strictObject({ ok: z.literal(true) }), "Deleted"), 404: json(ErrorSchema, "No such provider key"), ...errors },
    }),
    async (c) => {
      await admin.deleteProviderKey(c.req.valid("param").id, actor(c));
      return c.json({ ok: true as const }, 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/api/limits", summary: "Limits and budgets, with their current use", tags, security, responses: { 200: json(a.LimitListSchema, "Limits"), ...errors } }),
    async (c) => {
      const limits = await admin.listLimits();
      const items = await Promise.all(
        limits.map(async (limit) => {
          const found = await deps.usage?.(limit).catch(() => undefined);
          return { ...limit, usage: found ? { used: found.used, reset_s: found.resetS } : null };
        }),
      );
      return c.json({ items }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/api/limits",
      summary: "Set a limit: one per scope, subject, metric and window (setting it again replaces the amount)",
      tags,
      security,
      request: body(a.LimitSchema),
      responses: { 200: json(a.LimitSchema, "The limit"), ...errors },
    }),
    async (c) => c.json(await admin.setLimit(c.req.valid("json"), actor(c)), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/limits",
      summary: "Clear a subject's limits (of one metric when given)",
      tags,
      security,
      request: { query: a.ClearLimitQuerySchema },
      responses: { 200: json(a.RemovedSchema, "How many were removed"), ...errors },
    }),
    async (c) => c.json(await admin.clearLimit(c.req.valid("query"), actor(c)), 200),
  );

  app.openapi(
    createRoute({ method: "get", path: "/api/audit", summary: "Admin actions, newest first (who, what, when)", tags, security, request: { query: a.AuditQuerySchema }, responses: { 200: json(a.AuditListSchema, "Entries"), ...errors } }),
    async (c) => c.json({ items: await admin.listAudit(c.req.valid("query").limit) }, 200),
  );
}
