import { describe, expect, test } from "bun:test";
import { gunzipSync } from "node:zlib";
import { CONTENT_SECURITY_POLICY } from "../../src/dashboard/serve-dashboard.ts";
import { issueSessionCookie } from "../../src/dashboard/login-cookie.ts";
import { harness, TEST_BUNDLE } from "../support/app-harness.ts";

/**
 * The dashboard as the gateway serves it (in process): the page shell to
 * browsers only, its assets with caching headers, and who may read what.
 */
const BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const noUpstream = () => new Response("unexpected", { status: 599 });
const ASSET = Object.keys(TEST_BUNDLE.assets)[0]!;
const get = (app: ReturnType<typeof harness>, path: string, headers: Record<string, string> = {}) =>
  app.fetch(new Request(`http://127.0.0.1:8787${path}`, { headers }));
const basic = (password: string, user = "anyone") => `Basic ${btoa(`${user}:${password}`)}`;

describe("pages and assets", () => {
  const app = harness(noUpstream);

  test("a browser at / gets the page shell, with a strict CSP; other clients keep the JSON route list", async () => {
    const page = await get(app, "/", { accept: BROWSER });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    expect(page.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).not.toContain("unsafe-inline");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(await page.text()).toBe(TEST_BUNDLE.indexHtml);

    for (const accept of [undefined, "*/*", "application/json", "application/json, text/html"]) {
      const listing = await get(app, "/", accept ? { accept } : {});
      expect(listing.headers.get("content-type")).toStartWith("application/json");
      expect(((await listing.json()) as { routes: unknown[] }).routes.length).toBeGreaterThan(10);
    }
  });

  test("every page path works on reload; an unknown one gets the shell with 404 (the dashboard's own not-found page)", async () => {
    for (const path of ["/requests", "/requests/0193-abc", "/sessions", "/sessions/s-1", "/users", "/projects", "/models", "/live", "/settings"]) {
      const response = await get(app, path, { accept: BROWSER });
      expect([path, response.status]).toEqual([path, 200]);
      expect(await response.text()).toBe(TEST_BUNDLE.indexHtml);
    }
    const unknown = await get(app, "/no/such/page", { accept: BROWSER });
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe(TEST_BUNDLE.indexHtml);
    // Not a browser: the JSON 404 as before.
    const api = await get(app, "/no/such/page");
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: { message: string } }).error.message).toContain("no provider serves /no/such/page");
  });

  test("assets: immutable caching under a hashed name, gzip when accepted, 304 on a matching ETag, 404 otherwise", async () => {
    const plain = await get(app, ASSET);
    expect(plain.status).toBe(200);
    expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(await plain.text()).toBe(TEST_BUNDLE.assets[ASSET]!.body);
    const zipped = await get(app, ASSET, { "accept-encoding": "gzip, br" });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    const bytes = new Uint8Array(await zipped.arrayBuffer());
    expect(bytes.length).toBeLessThan(TEST_BUNDLE.assets[ASSET]!.body.length);
    expect(gunzipSync(bytes).toString()).toBe(TEST_BUNDLE.assets[ASSET]!.body);
    const again = await get(app, ASSET, { "if-none-match": plain.headers.get("etag")! });
    expect(again.status).toBe(304);
    expect((await get(app, "/assets/main-nothere.js")).status).toBe(404);
  });
});

describe("access", () => {
  test("no token, no password (loopback): the API is open, and the settings say so without secrets", async () => {
    const app = harness(noUpstream, { LOUPE_TRACE_URL_TEMPLATE: "http://jaeger:16686/trace/{trace_id}" });
    const response = await get(app, "/api/settings");
    expect(response.status).toBe(200);
    const settings = (await response.json()) as { access: Record<string, boolean>; trace_url_template: string; upstreams: { provider: string; upstream: string; overridden: boolean }[] };
    expect(settings.access).toEqual({ admin_token: false, dashboard_password: false, session_cookie: false, open: true });
    expect(settings.trace_url_template).toBe("http://jaeger:16686/trace/{trace_id}");
    expect(settings.upstreams.find((u) => u.provider === "openai")).toMatchObject({ upstream: "http://upstream.test/", overridden: true });
    expect(settings.upstreams.find((u) => u.provider === "gemini")).toMatchObject({ overridden: false });
  });

  test("LOUPE_ADMIN_TOKEN: the API needs it; a login sets an HttpOnly SameSite=Strict cookie that then opens the API; a wrong token is refused", async () => {
    const token = "admin-token-123";
    const app = harness(noUpstream, { LOUPE_ADMIN_TOKEN: token });
    expect((await get(app, "/api/settings")).status).toBe(401);
    expect((await get(app, "/api/settings", { authorization: `Bearer ${token}` })).status).toBe(200);
    // The shell carries no data: served, and the dashboard shows its login when the API answers 401.
    expect((await get(app, "/", { accept: BROWSER })).status).toBe(200);

    const login = (body: unknown, headers: Record<string, string> = {}) =>
      app.fetch(new Request("http://127.0.0.1:8787/api/login", { method: "POST", headers: { "content-type": "application/json", origin: "http://127.0.0.1:8787", ...headers }, body: JSON.stringify(body) }));
    const wrong = await login({ token: "nope" });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();

    const right = await login({ token });
    expect(right.status).toBe(200);
    const cookie = right.headers.get("set-cookie")!;
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).toContain("Path=/");
    const pair = cookie.split(";")[0]!;
    expect((await get(app, "/api/settings", { cookie: pair })).status).toBe(200);
    // A forged or expired cookie opens nothing.
    expect((await get(app, "/api/settings", { cookie: pair.replace(/.$/, (c) => (c === "A" ? "B" : "A")) })).status).toBe(401);
    const expired = issueSessionCookie(token, { secure: false, now: Date.now() - 8 * 24 * 3600_000 }).split(";")[0]!;
    expect((await get(app, "/api/settings", { cookie: expired })).status).toBe(401);
    const otherToken = issueSessionCookie("another-token", { secure: false }).split(";")[0]!;
    expect((await get(app, "/api/settings", { cookie: otherToken })).status).toBe(401);

    // CSRF: another site cannot log a browser in, nor use its cookie for a write.
    expect((await login({ token }, { origin: "https://evil.example", "sec-fetch-site": "cross-site" })).status).toBe(403);
    const crossSql = await app.fetch(
      new Request("http://127.0.0.1:8787/api/sql", { method: "POST", headers: { cookie: pair, "content-type": "application/json", "sec-fetch-site": "cross-site" }, body: '{"sql":"select 1"}' }),
    );
    expect(crossSql.status).toBe(403);

    const logout = await app.fetch(new Request("http://127.0.0.1:8787/api/logout", { method: "POST" }));
    expect(logout.headers.get("set-cookie")).toContain("Max-Age=0");
  });

  test("LOUPE_DASHBOARD_PASSWORD: basic auth with any user name opens the pages and the API's reads; without it the browser is asked", async () => {
    const app = harness(noUpstream, { LOUPE_DASHBOARD_PASSWORD: "s3cret" });
    const challenged = await get(app, "/requests", { accept: BROWSER });
    expect(challenged.status).toBe(401);
    expect(challenged.headers.get("www-authenticate")).toStartWith("Basic ");
    expect((await get(app, "/requests", { accept: BROWSER, authorization: basic("wrong") })).status).toBe(401);
    expect((await get(app, "/requests", { accept: BROWSER, authorization: basic("s3cret") })).status).toBe(200);
    expect((await get(app, "/requests", { accept: BROWSER, authorization: basic("s3cret", "") })).status).toBe(200);
    expect((await get(app, "/api/settings")).status).toBe(401);
    expect((await get(app, "/api/settings", { authorization: basic("s3cret") })).status).toBe(200);
    // Reads only: SQL needs the admin token.
    const sql = await app.fetch(
      new Request("http://127.0.0.1:8787/api/sql", { method: "POST", headers: { authorization: basic("s3cret"), "content-type": "application/json" }, body: '{"sql":"select 1"}' }),
    );
    expect(sql.status).toBe(403);
    // The assets carry no data and are served to anyone (the browser asks for them after the page).
    expect((await get(app, ASSET)).status).toBe(200);
  });
});
