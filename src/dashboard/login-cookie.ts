import { createHmac } from "node:crypto";
import { sameSecret } from "../http/same-secret.ts";

/**
 * The dashboard's session cookie after a login with LOUPE_ADMIN_TOKEN:
 * `v1.<expiry seconds>.<HMAC-SHA256 of the expiry, keyed by the token>`.
 * Stateless (it survives restarts and works on every replica), it expires,
 * and changing the token signs everyone out. The cookie is HttpOnly and
 * SameSite=Strict, so no script reads it and no other site sends it.
 */
export const SESSION_COOKIE = "loupe_session";
const LIFETIME_S = 7 * 24 * 3600;

const sign = (adminToken: string, expiry: number) => createHmac("sha256", adminToken).update(`loupe-dashboard:${expiry}`).digest("base64url");

export function issueSessionCookie(adminToken: string, options: { secure: boolean; now?: number }): string {
  const expiry = Math.floor((options.now ?? Date.now()) / 1000) + LIFETIME_S;
  const value = `v1.${expiry}.${sign(adminToken, expiry)}`;
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${LIFETIME_S}; HttpOnly; SameSite=Strict${options.secure ? "; Secure" : ""}`;
}

export function clearSessionCookie(options: { secure: boolean }): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${options.secure ? "; Secure" : ""}`;
}

/** Whether the request's cookie header holds a session cookie this token signed that has not expired. */
export function hasValidSession(cookieHeader: string | null | undefined, adminToken: string, now = Date.now()): boolean {
  if (!cookieHeader) return false;
  for (const part of cookieHeader.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name !== SESSION_COOKIE) continue;
    const [version, expiryText, mac] = rest.join("=").split(".");
    const expiry = Number(expiryText);
    if (version !== "v1" || !Number.isSafeInteger(expiry) || !mac) continue;
    if (expiry * 1000 <= now) continue;
    if (sameSecret(mac, sign(adminToken, expiry))) return true;
  }
  return false;
}
