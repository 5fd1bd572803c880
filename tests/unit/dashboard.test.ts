import { describe, expect, test } from "bun:test";
import { hasValidSession, issueSessionCookie } from "../../src/dashboard/login-cookie.ts";
import { isDashboardPage, prefersHtml } from "../../src/dashboard/ui-routes.ts";
import { ROUTE_LOGIN, ROUTE_LOGOUT, ROUTE_STREAM, ROUTES_CHANGE, ROUTES_READ } from "../../ui/src/api.ts";
import { createMemoryAccessStore } from "../../src/keys/access-store.ts";
import { openAccess } from "../../src/keys/open-access.ts";
import { count, ms, usd } from "../../ui/src/format.ts";
import { readRange } from "../../ui/src/range.ts";
import { harness } from "../support/app-harness.ts";

describe("which requests get the dashboard", () => {
  test.each([
    ["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true], // Chrome, Firefox
    ["text/html", true],
    ["text/*", true],
    ["application/json", false],
    ["*/*", false], // curl: a tie stays JSON
    [undefined, false],
    ["", false],
    ["application/json, text/html", false],
    ["text/html;q=0.5, application/json", false],
    ["text/html, application/json;q=0.9", true],
    ["application/json;q=0, text/html", true],
    ["text/html;q=0", false],
  ] as const)("Accept %p → dashboard %p", (accept, html) => expect(prefersHtml(accept)).toBe(html));

  test("page paths", () => {
    for (const path of ["/", "/requests", "/requests/abc", "/sessions", "/sessions/x-y", "/users", "/projects", "/models", "/live", "/settings"]) expect(isDashboardPage(path)).toBe(true);
    for (const path of ["/nope", "/requests/a/b", "/api/requests", "/users/1", "/settingsx"]) expect(isDashboardPage(path)).toBe(false);
  });
});

describe("the login cookie", () => {
  test("valid for the token that signed it, until it expires", () => {
    const now = Date.parse("2026-12-01T00:00:00Z");
    const cookie = issueSessionCookie("tok", { secure: true, now }).split(";")[0]!;
    expect(issueSessionCookie("tok", { secure: true, now })).toContain("; Secure");
    expect(hasValidSession(cookie, "tok", now + 1000)).toBe(true);
    expect(hasValidSession(`other=1; ${cookie}`, "tok", now + 1000)).toBe(true);
    expect(hasValidSession(cookie, "tok2", now + 1000)).toBe(false);
    expect(hasValidSession(cookie, "tok", now + 8 * 86_400_000)).toBe(false);
    // The expiry is signed: moving it forward breaks the signature.
    const [name, value] = cookie.split("=") as [string, string];
    const [v, expiry, mac] = value.split(".");
    expect(hasValidSession(`${name}=${v}.${Number(expiry) + 86_400 * 30}.${mac}`, "tok", now + 8 * 86_400_000)).toBe(false);
    expect(hasValidSession("loupe_session=garbage", "tok", now)).toBe(false);
    expect(hasValidSession(undefined, "tok", now)).toBe(false);
  });
});

describe("the dashboard's client reads only documented routes", () => {
  test("every route the front end uses is in the gateway's OpenAPI document, with the method it uses", async () => {
    const access = await openAccess({ store: createMemoryAccessStore(), secret: undefined, serving: false, log: () => {} });
    const app = harness(() => new Response(null, { status: 599 }), {}, { accessAdmin: access.admin });
    const spec = (await (await app.fetch(new Request("http://127.0.0.1/openapi.json"))).json()) as { paths: Record<string, Record<string, unknown>> };
    const changes = ROUTES_CHANGE.map((route) => route.split(" ") as [string, string]).map(([method, path]) => [method.toLowerCase(), path] as const);
    const uses = [...ROUTES_READ.map((path) => ["get", path] as const), ["get", ROUTE_STREAM], ["post", ROUTE_LOGIN], ["post", ROUTE_LOGOUT], ...changes] as const;
    for (const [method, path] of uses) expect([method, path, Boolean(spec.paths[path]?.[method])]).toEqual([method, path, true]);
    expect(Object.keys(spec.paths[ROUTE_STREAM]!.get as object)).toContain("responses");
  });
});

describe("figures as the dashboard shows them", () => {
  test("money stays the exact decimal (trimmed, grouped), never rounded through a float", () => {
    expect(usd("0.015384000")).toBe("$0.015384");
    expect(usd("1234567.100000000")).toBe("$1,234,567.10");
    expect(usd("0.000000001")).toBe("$0.000000001");
    expect(usd("0.000000000")).toBe("$0.00");
    expect(usd("9007199254740993.123456789")).toBe("$9,007,199,254,740,993.123456789");
    expect(usd(null)).toBe("—");
    expect(count(1234567)).toBe("1,234,567");
    expect(count(null)).toBe("—");
    expect(ms(2.345)).toBe("2.3 ms");
    expect(ms(1500)).toBe("1,500 ms");
  });

  test("ranges: presets end at the next minute; a custom range is taken as given; nonsense falls back to 24 h", () => {
    const now = Date.parse("2026-12-06T10:15:30Z");
    expect(readRange(new URLSearchParams("range=1h"), now)).toEqual({ id: "1h", from: "2026-12-06T09:16:00.000Z", to: "2026-12-06T10:16:00.000Z", bucket: "minute" });
    expect(readRange(new URLSearchParams("range=30d"), now).bucket).toBe("day");
    expect(readRange(new URLSearchParams("range=bogus"), now).id).toBe("24h");
    expect(readRange(new URLSearchParams("from=2026-11-01T00:00:00Z&to=2026-11-03T00:00:00Z"), now)).toEqual({
      id: "custom",
      from: "2026-11-01T00:00:00.000Z",
      to: "2026-11-03T00:00:00.000Z",
      bucket: "hour",
    });
    expect(readRange(new URLSearchParams("from=2026-11-03T00:00:00Z&to=2026-11-01T00:00:00Z"), now).id).toBe("24h");
  });
});
