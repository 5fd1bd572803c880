import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import type { Access } from "../dashboard/access.ts";
import { sameOrigin } from "../dashboard/access.ts";
import { clearSessionCookie, issueSessionCookie } from "../dashboard/login-cookie.ts";
import type { RecordFeed } from "../dashboard/record-feed.ts";
import { LoupeError, renderError } from "../errors.ts";
import { clientAddressOf } from "../http/client-address.ts";
import { sameSecret } from "../http/same-secret.ts";
import type { LiveRecord } from "../recording/live-record.ts";
import * as d from "./dashboard-schemas.ts";
import { ErrorSchema } from "./schemas.ts";

export interface DashboardApiDeps {
  access: Access;
  adminToken: string | undefined;
  settings(): Promise<z.infer<typeof d.SettingsSchema>>;
  feed: RecordFeed;
}

/**
 * The most records kept for one live-tail reader that reads slower than calls
 * are stored: past it the oldest are dropped and the reader is told how many
 * (`event: gap`), so a stalled dashboard holds bounded memory.
 */
const MAX_QUEUED = 2000;
/** Keeps idle connections (and proxies in between) from timing the stream out. */
const HEARTBEAT_MS = 15_000;
const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const secure = (request: Request) => new URL(request.url).protocol === "https:" || request.headers.get("x-forwarded-proto") === "https";

/** `/api/settings`, `/api/stream`, `/api/login`, `/api/logout`: what the dashboard needs beyond the analytics. */
export function addDashboardRoutes(app: OpenAPIHono, deps: DashboardApiDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/settings",
      summary: "The effective configuration, without secrets (read-only)",
      tags: ["gateway"],
      security: [{ bearer: [] }],
      responses: { 200: json(d.SettingsSchema, "Settings"), 401: json(ErrorSchema, "Missing or wrong credentials") },
    }),
    async (c) => c.json(await deps.settings(), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/stream",
      summary: "New records as they are stored (Server-Sent Events: `event: record`, data a LiveRecord)",
      tags: ["analytics"],
      security: [{ bearer: [] }],
      responses: {
        200: { content: { "text/event-stream": { schema: d.LiveRecordSchema } }, description: "One `record` event per stored call; a comment every 15 s keeps the connection open. A reader more than 2,000 records behind is sent `event: gap`, data `{\"skipped\": N}`, in place of the N oldest" },
        401: json(ErrorSchema, "Missing or wrong credentials"),
      },
    }),
    (c) =>
      streamSSE(c, async (stream) => {
        const queue: LiveRecord[] = [];
        let skipped = 0;
        let wake: (() => void) | undefined;
        const unsubscribe = deps.feed.subscribe((records) => {
          queue.push(...records);
          if (queue.length > MAX_QUEUED) skipped += queue.splice(0, queue.length - MAX_QUEUED).length;
          wake?.();
        });
        stream.onAbort(() => {
          unsubscribe();
          wake?.();
        });
        await stream.writeSSE({ event: "ready", data: "{}" });
        while (!stream.aborted && !stream.closed) {
          while (queue.length > 0 || skipped > 0) {
            if (skipped > 0) {
              const data = JSON.stringify({ skipped });
              skipped = 0;
              await stream.writeSSE({ event: "gap", data });
            } else await stream.writeSSE({ event: "record", id: queue[0]!.id, data: JSON.stringify(queue.shift()) });
          }
          const timer = new Promise<"beat">((resolve) => setTimeout(() => resolve("beat"), HEARTBEAT_MS));
          const woken = new Promise<"wake">((resolve) => (wake = () => resolve("wake")));
          if ((await Promise.race([timer, woken])) === "beat") await stream.write(": keep-alive\n\n");
        }
        unsubscribe();
      }) as never,
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/login",
      summary: "Signs the dashboard in with LOUPE_ADMIN_TOKEN: sets an HttpOnly, SameSite=Strict session cookie",
      tags: ["gateway"],
      request: { body: { content: { "application/json": { schema: d.LoginBodySchema } }, required: true } },
      responses: {
        200: json(d.OkSchema, "Signed in"),
        401: json(ErrorSchema, "Wrong token"),
        403: json(ErrorSchema, "Cross-site request"),
        429: json(ErrorSchema, "Too many wrong tokens from this address lately (Retry-After says when to try again)"),
      },
    }),
    (c) => {
      if (!sameOrigin(c.req.raw)) return renderError(new LoupeError("forbidden", "cross-site request refused")) as never;
      if (!deps.adminToken) return c.json({ ok: true as const }, 200);
      const address = clientAddressOf(c);
      const locked = deps.access.lockedOut(address);
      if (locked) return locked as never;
      const right = sameSecret(c.req.valid("json").token, deps.adminToken);
      deps.access.attempted(address, right);
      if (!right) return renderError(new LoupeError("unauthorized", "wrong admin token")) as never;
      c.header("set-cookie", issueSessionCookie(deps.adminToken, { secure: secure(c.req.raw) }));
      c.header("cache-control", "no-store");
      return c.json({ ok: true as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/logout",
      summary: "Signs the dashboard out (clears the session cookie)",
      tags: ["gateway"],
      responses: { 200: json(d.OkSchema, "Signed out") },
    }),
    (c) => {
      c.header("set-cookie", clearSessionCookie({ secure: secure(c.req.raw) }));
      return c.json({ ok: true as const }, 200);
    },
  );
}
