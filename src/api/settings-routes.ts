import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AuditEntry } from "../keys/definitions.ts";
import { routingSettingsSchema, type RoutingSettingsHolder } from "../routing/routing-settings.ts";
import { AppliedSchema, ControlSchema } from "./dashboard-schemas.ts";
import { ErrorSchema } from "./schemas.ts";

/**
 * `PUT /api/settings` replaces the control plane's settings (header rules, routing, fallbacks, retry) while
 * the gateway runs. The body is validated whole by the same schema as the
 * config file: a bad field is answered 400 naming it, and the settings in
 * force stay. `version` (from GET) guards against overwriting a change made
 * meanwhile (409). Each change is audited.
 */
export interface SettingsApiDeps {
  routing: RoutingSettingsHolder;
  audit?: ((entry: AuditEntry) => Promise<void>) | undefined;
  actor(request: Request): string;
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });

export function addSettingsRoutes(app: OpenAPIHono, deps: SettingsApiDeps): void {
  app.openapi(
    createRoute({
      method: "put",
      path: "/api/settings",
      summary: "Replace header rules, routing, fallbacks and retry while running (validated whole; audited)",
      tags: ["gateway"],
      security: [{ bearer: [] }],
      request: { body: { content: { "application/json": { schema: ControlSchema } }, required: true } },
      responses: { 200: json(AppliedSchema, "Applied"), 400: json(ErrorSchema, "Invalid: the field is named; nothing changed"), 409: json(ErrorSchema, "Changed meanwhile"), 401: json(ErrorSchema, "Missing or wrong credentials") },
    }),
    async (c) => {
      const { version, ...given } = c.req.valid("json");
      // Keys left out keep what is in force (send [] to empty a list).
      const parsed = routingSettingsSchema.safeParse({ ...deps.routing.current, ...given });
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const field = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").slice(1);
        return c.json({ error: { type: "invalid_request", message: `${field}: ${issue.message}`, field } }, 400);
      }
      if (version !== undefined && version !== deps.routing.version) {
        return c.json({ error: { type: "conflict", message: `the settings changed meanwhile (version ${deps.routing.version}, not ${version}): GET them again` } }, 409);
      }
      const next = deps.routing.replace(parsed.data);
      await deps.audit?.({ at: new Date().toISOString(), actor: deps.actor(c.req.raw), action: "settings.update", target: `version ${next}`, detail: JSON.stringify(parsed.data) });
      return c.json({ version: next, settings: parsed.data }, 200);
    },
  );
}
