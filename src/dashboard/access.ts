import { LoupeError, renderError } from "../errors.ts";
import { sameSecret } from "../http/same-secret.ts";
import { hasValidSession } from "./login-cookie.ts";
import { createLoginThrottle, type LoginThrottle } from "./login-throttle.ts";

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
 * Wrong secrets (a Bearer token, a basic-auth password, the login's token) are
 * counted per client address, and an address that sent too many lately gets
 * 429 until its lockout passes (login-throttle.ts). A valid session cookie is
 * no guess and is not held up.
 */
export interface AccessOptions {
  adminToken?: string | undefined;
  dashboardPassword?: string | undefined;
  /** Counts wrong secrets per address; the default allows 5 a minute; null: no limit. */
  throttle?: LoginThrottle | null | undefined;
}

export type Credential = "open" | "token" | "session" | "password";

export interface Access {
  /** The credential the request carries, if any valid one. */
  identify(request: Request): Credential | undefined;
  /** undefined when the request may go on; else the 401/403 (or 429 for an address locked out) to answer. */
  check(request: Request, clientAddress: string): Response | undefined;
  /** Whether a browser asking for a dashboard page must first give the basic-auth password (or wait: 429). */
  pageChallenge(request: Request, clientAddress: string): Response | undefined;
  /** The 429 for an address that sent too many wrong secrets lately, else undefined; check it before comparing a secret. */
  lockedOut(clientAddress: string): Response | undefined;
  /** Counts whether the secret `clientAddress` presented was right. */
  attempted(clientAddress: string, right: boolean): void;
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

export function createAccess({ adminToken, dashboardPassword, throttle = createLoginThrottle() }: AccessOptions): Access {
  const open = !adminToken && !dashboardPassword;
  const challenge = dashboardPassword ? 'Basic realm="Loupe", charset="UTF-8"' : "Bearer";

  function lockedOut(clientAddress: string): Response | undefined {
    const waitS = throttle?.retryAfterS(clientAddress) ?? 0;
    if (waitS === 0) return undefined;
    return renderError(new LoupeError("rate_limited", `too many wrong admin tokens or passwords from this address; try again in ${waitS} s`), undefined, { "retry-after": String(waitS) });
  }
  const attempted = (clientAddress: string, right: boolean) => (right ? throttle?.succeeded(clientAddress) : throttle?.failed(clientAddress));

  /**
   * identify() for a request that may carry a secret in Authorization: a
   * locked-out address is answered 429 before its secret is compared (else
   * it could go on guessing, reading 429 against 200), and the outcome counts.
   */
  function identifyCounted(request: Request, clientAddress: string): Credential | Response | undefined {
    if (open || !request.headers.get("authorization")) return identify(request);
    const locked = lockedOut(clientAddress);
    if (locked) return locked;
    const credential = identify(request);
    attempted(clientAddress, credential === "token" || credential === "password");
    return credential;
  }

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
    lockedOut,
    attempted,
    check(request, clientAddress) {
      const credential = identifyCounted(request, clientAddress);
      if (credential instanceof Response) return credential;
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
    pageChallenge(request, clientAddress) {
      if (!dashboardPassword) return undefined;
      const credential = identifyCounted(request, clientAddress);
      if (credential instanceof Response) return credential;
      if (credential) return undefined;
      return new Response("The Loupe dashboard needs its password (any user name).\n", {
        status: 401,
        headers: { "www-authenticate": challenge, "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
      });
    },
  };
}
