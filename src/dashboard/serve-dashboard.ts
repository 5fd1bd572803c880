import { gzipSync } from "node:zlib";
import type { Access } from "./access.ts";
import { isDashboardPage } from "./ui-routes.ts";

export interface DashboardBundle {
  indexHtml: string;
  assets: Readonly<Record<string, { type: string; body: string }>>;
}

/**
 * No inline script or style, nothing from another origin: the bundle is two
 * files of our own. `img-src data:` is the empty favicon; `connect-src 'self'`
 * covers `/api` and the live tail's EventSource.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": CONTENT_SECURITY_POLICY,
  // The shell names the hashed assets of this build: always revalidated, never stale after an upgrade.
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
};

export interface Dashboard {
  /** The page shell for a browser at `path` (404 for a path that is no page), or the basic-auth challenge. */
  page(request: Request, path: string, clientAddress: string): Response;
  /** A bundled asset (`/assets/<name>-<hash>.<ext>`), or undefined. */
  asset(request: Request, path: string): Response | undefined;
}

export function createDashboard(bundle: DashboardBundle, access: Access): Dashboard {
  const gzipped = new Map<string, Uint8Array>();
  const etags = new Map(Object.keys(bundle.assets).map((path) => [path, `"${path.slice(path.lastIndexOf("-") + 1)}"`]));
  return {
    page(request, path, clientAddress) {
      const challenge = access.pageChallenge(request, clientAddress);
      if (challenge) return challenge;
      return new Response(request.method === "HEAD" ? null : bundle.indexHtml, { status: isDashboardPage(path) ? 200 : 404, headers: PAGE_HEADERS });
    },
    asset(request, path) {
      const asset = bundle.assets[path];
      if (!asset) return undefined;
      const etag = etags.get(path)!;
      // Names carry the content's hash: a name never changes meaning.
      const headers: Record<string, string> = { "content-type": asset.type, "cache-control": "public, max-age=31536000, immutable", etag, "x-content-type-options": "nosniff", vary: "accept-encoding" };
      if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
      if (/\bgzip\b/.test(request.headers.get("accept-encoding") ?? "")) {
        let body = gzipped.get(path);
        if (!body) gzipped.set(path, (body = gzipSync(asset.body, { level: 9 })));
        return new Response(request.method === "HEAD" ? null : (body as Uint8Array<ArrayBuffer>), { headers: { ...headers, "content-encoding": "gzip" } });
      }
      return new Response(request.method === "HEAD" ? null : asset.body, { headers });
    },
  };
}
