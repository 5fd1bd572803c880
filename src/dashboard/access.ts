import { LoupeError, renderError } from "../errors.ts";
import { sameSecret } from "../http/same-secret.ts";
import { hasValidSession } from "./login-cookie.ts";

/**
 * Who may read the analytics (`/api/*`) and the dashboard, in one place:
 * - `LOUPE_ADMIN_TOKEN`: `Authorization: Bearer <token>`, or the session
 *   cookie the dashboard's login gives (login-cookie.ts). Everything.
 * - `LOUPE_DASHBOARD_PASSWORD`: HTTP basic auth with any user name (the Claude
 *   Code proxy's convention). The dashboard and the `/api` routes it reads
 *   (GET); not `POST /api/sql`.
 * - Neither set: open (the gateway then listens on loopback only; serve.ts).
 * A browser sends cookies and basic credentials by itself, so a state-changing
 * request authorized by either must come from this origin (CSRF).
 */
export interface AccessOptions {
  adminToken?: string | undefined;
  dashboardPassword?: string | undefined;
}

export type Credential = "open" | "token" | "session" | "password";

export interface Access {
  /** The credential the request carries, if any valid one. */
  identify(request: Request): Credential | undefined;
  /** undefined when the request may go on; else the 401/403 to answer. */
  check(request: Request): Response | undefined;
  /** Whether a browser asking for a dashboard page must first give the basic-auth password. */
  pageChallenge(request: Request): Response | undefined;
  readonly open: boolean;
}

const READS = new Set(["GET", "HEAD"]);

function basicPassword(header: string): string | undefined {
  if (!header.startsWith("Basic ")) return undefined;
  try {
    const decoded = atob(header.slice(6).trim());
    const colon = decoded.indexOf(":");
    return colon < 0 ? undefined : decoded.slice(colon + 1);
  } catch {
    return undefined;
  }
}

/** Whether a request that a browser may have sent on its own comes from a page of this origin (Fetch Metadata, else Origin). */
export function sameOrigin(request: Request): boolean {
  const site = request.headers.get("sec-fetch-site");
  if (site) return site === "same-origin" || site === "none";
  const origin = request.headers.get("origin");
  if (!origin) return true; // not a browser's cross-site request: browsers send Origin on cross-origin POSTs
  return origin === new URL(request.url).origin || origin === `${new URL(request.url).protocol}//${request.headers.get("host")}`;
}

export function createAccess({ adminToken, dashboardPassword }: AccessOptions): Access {
  const open = !adminToken && !dashboardPassword;
  const challenge = dashboardPassword ? 'Basic realm="Loupe", charset="UTF-8"' : "Bearer";

  function identify(request: Request): Credential | undefined {
    if (open) return "open";
    const header = request.headers.get("authorization") ?? "";
    if (adminToken && header.startsWith("Bearer ") && sameSecret(header.slice(7), adminToken)) return "token";
    if (adminToken && hasValidSession(request.headers.get("cookie"), adminToken)) return "session";
    if (dashboardPassword && sameSecret(basicPassword(header), dashboardPassword)) return "password";
    return undefined;
  }

  return {
    open,
    identify,
    check(request) {
      const credential = identify(request);
      if (!credential) {
        const how = [adminToken && "Authorization: Bearer <LOUPE_ADMIN_TOKEN>", dashboardPassword && "the dashboard password (HTTP basic auth)"].filter(Boolean).join(" or ");
        return renderError(new LoupeError("unauthorized", `send ${how}`), undefined, { "www-authenticate": challenge });
      }
      const unsafe = !READS.has(request.method);
      if (credential === "password" && unsafe) {
        return renderError(new LoupeError("forbidden", "the dashboard password opens the dashboard's reads; this route needs LOUPE_ADMIN_TOKEN"));
      }
      if ((credential === "session" || credential === "password") && unsafe && !sameOrigin(request)) {
        return renderError(new LoupeError("forbidden", "cross-site request refused"));
      }
      return undefined;
    },
    pageChallenge(request) {
      if (!dashboardPassword || identify(request)) return undefined;
      return new Response("The Loupe dashboard needs its password (any user name).\n", {
        status: 401,
        headers: { "www-authenticate": challenge, "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
      });
    },
  };
}
