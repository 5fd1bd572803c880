import type { z } from "@hono/zod-openapi";
import type * as s from "../../src/api/schemas.ts";
import type * as d from "../../src/api/dashboard-schemas.ts";
import type * as a from "../../src/api/access-schemas.ts";

/**
 * The dashboard's only way to its data: the documented `/api` routes, typed
 * by the same zod schemas that generate `/openapi.json` (src/api/schemas.ts),
 * so a change to a response shape breaks this file's type check.
 * tests/unit/dashboard.test.ts checks every path here against the
 * OpenAPI document the gateway serves.
 */
type Out<T extends z.ZodType> = z.output<T>;

export type Filter = Partial<Record<keyof z.input<typeof s.FilterQuery> | "unpriced", string>>;
export type Bucket = "minute" | "hour" | "day";
export type GroupBy = "provider" | "model" | "project" | "user";

export interface Routes {
  "/api/stats/summary": { query: Filter; response: Out<typeof s.SummarySchema> };
  "/api/stats/timeseries": { query: Filter & { bucket: Bucket; group_by?: GroupBy; top?: string }; response: Out<typeof s.TimeseriesSchema> };
  "/api/stats/models": { query: Filter; response: Out<typeof s.ModelBreakdownSchema> };
  "/api/requests": { query: Filter & { cursor?: string; limit?: string; sort?: string; order?: string }; response: Out<typeof s.RequestPageSchema> };
  "/api/requests/{id}": { query: { id: string }; response: Out<typeof s.RequestDetailSchema> };
  "/api/sessions": { query: Filter & { cursor?: string; limit?: string }; response: Out<typeof s.SessionPageSchema> };
  "/api/sessions/{id}": { query: { id: string }; response: Out<typeof s.SessionDetailSchema> };
  "/api/users": { query: Filter; response: Out<typeof s.UsersSchema> };
  "/api/projects": { query: Filter; response: Out<typeof s.ProjectsSchema> };
  "/api/settings": { query: Record<string, never>; response: Out<typeof d.SettingsSchema> };
  "/api/keys": { query: Record<string, never>; response: Out<typeof a.KeyListSchema> };
  "/api/provider-keys": { query: Record<string, never>; response: Out<typeof a.ProviderKeyListSchema> };
  "/api/limits": { query: Record<string, never>; response: Out<typeof a.LimitListSchema> };
}

/** The changes the Keys, Limits and Settings pages make: method, path, body and answer. */
export interface Changes {
  "POST /api/keys": { body: z.input<typeof a.CreateKeyBodySchema>; response: Out<typeof a.NewKeySchema> };
  "POST /api/keys/{id}/revoke": { body: undefined; response: Out<typeof a.KeySchema> };
  "POST /api/keys/{id}/rotate": { body: undefined; response: Out<typeof a.NewKeySchema> };
  "POST /api/provider-keys": { body: z.input<typeof a.SetProviderKeyBodySchema>; response: Out<typeof a.ProviderKeySchema> };
  "DELETE /api/provider-keys/{id}": { body: undefined; response: { ok: true } };
  "PUT /api/limits": { body: z.input<typeof a.LimitSchema>; response: Out<typeof a.LimitSchema> };
  "DELETE /api/limits": { body: undefined; response: Out<typeof a.RemovedSchema> };
  "PUT /api/settings": { body: z.input<typeof d.ControlSchema>; response: Out<typeof d.AppliedSchema> };
}
export const ROUTES_CHANGE = ["POST /api/keys", "POST /api/keys/{id}/revoke", "POST /api/keys/{id}/rotate", "POST /api/provider-keys", "DELETE /api/provider-keys/{id}", "PUT /api/limits", "DELETE /api/limits", "PUT /api/settings"] as const satisfies readonly (keyof Changes)[];

/** Every GET route the dashboard reads, and the others it uses (login, live tail). */
export const ROUTES_READ = [
  "/api/stats/summary",
  "/api/stats/timeseries",
  "/api/stats/models",
  "/api/requests",
  "/api/requests/{id}",
  "/api/sessions",
  "/api/sessions/{id}",
  "/api/users",
  "/api/projects",
  "/api/settings",
  "/api/keys",
  "/api/provider-keys",
  "/api/limits",
] as const satisfies readonly (keyof Routes)[];
export const ROUTE_STREAM = "/api/stream";
export const ROUTE_LOGIN = "/api/login";
export const ROUTE_LOGOUT = "/api/logout";

export type Summary = Routes["/api/stats/summary"]["response"];
export type Totals = Omit<Summary, "cache_savings_usd" | "cache_savings_unpriced_tokens">;
export type RequestItem = Routes["/api/requests"]["response"]["items"][number];
export type RequestDetail = Routes["/api/requests/{id}"]["response"];
export type SessionDetail = Routes["/api/sessions/{id}"]["response"];
export type Settings = Routes["/api/settings"]["response"];

/** An API answer other than 2xx: its status, message and, for a 400 on a change, the field it names. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Listeners told when the API answers 401 (the app then shows the login page). */
const unauthorized = new Set<() => void>();
export function onUnauthorized(listener: () => void): () => void {
  unauthorized.add(listener);
  return () => unauthorized.delete(listener);
}

/** The URL of a route with its `{param}`s filled in and the rest as the query string. */
export function routeUrl(path: string, query: Record<string, string | undefined>): string {
  const rest = new URLSearchParams();
  let url = path;
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === "") continue;
    if (url.includes(`{${key}}`)) url = url.replace(`{${key}}`, encodeURIComponent(value));
    else rest.set(key, value);
  }
  const qs = rest.toString();
  return qs ? `${url}?${qs}` : url;
}

export async function get<P extends keyof Routes>(path: P, query: Routes[P]["query"], signal?: AbortSignal): Promise<Routes[P]["response"]> {
  let response: Response;
  try {
    response = await fetch(routeUrl(path, query as Record<string, string | undefined>), { headers: { accept: "application/json" }, signal: signal ?? null });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, `the gateway did not answer (${(error as Error).message})`);
  }
  return readJson(response);
}

export async function post(path: string, body: unknown): Promise<unknown> {
  const response = await fetch(path, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(body) });
  return readJson(response);
}

/** One change: `{param}`s of the path and the query come from `query`. */
export async function change<C extends keyof Changes>(route: C, query: Record<string, string | undefined>, body?: Changes[C]["body"]): Promise<Changes[C]["response"]> {
  const [method, path] = route.split(" ") as [string, string];
  const response = await fetch(routeUrl(path, query), {
    method,
    headers: { accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  return readJson(response);
}

async function readJson<T>(response: Response): Promise<T> {
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(response.status, `the gateway answered ${response.status} with a body that is not JSON`);
  }
  if (!response.ok) {
    const error = (body as { error?: { message?: string; field?: unknown } } | null)?.error;
    const message = error?.message ?? `HTTP ${response.status}`;
    if (response.status === 401) for (const listener of unauthorized) listener();
    throw typeof error?.field === "string" ? new ApiError(response.status, message, error.field) : new ApiError(response.status, message);
  }
  return body as T;
}
