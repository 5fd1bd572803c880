import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { indexHtml } from "../../src/dashboard/ui-bundle.generated.ts";
import { BUN, ROOT, startGateway, type Gateway } from "../support/gateway.ts";

/**
 * Issue 17, admin surfaces off loopback. Loupe decides by the address it
 * listens on, not by who connects (README, Analytics API): off loopback it
 * refuses to start without LOUPE_ADMIN_TOKEN, and with a token every admin
 * route wants a credential from every client, 127.0.0.1 included. These
 * tests listen on 0.0.0.0 and call through a non-loopback address of this
 * machine, then through 127.0.0.1, which must make no difference.
 */
const TOKEN = "hardening-admin-token-0123456789";
const PASSWORD = "hardening-dashboard-password";
/** These tests send wrong credentials to every route from one address; the lockout that follows has its own test (admin-login-throttle.test.ts). */
const NO_THROTTLE = { LOUPE_ADMIN_AUTH_FAILURES: "0" };

/** This machine's first non-loopback IPv4 address (the tests fall back to 127.0.0.1 alone, saying so). */
function outsideAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === "IPv4" && !address.internal) return address.address;
  }
  return undefined;
}
const OUTSIDE = outsideAddress();
if (!OUTSIDE) console.warn("no non-loopback IPv4 address on this machine: admin access checked through 127.0.0.1 only");

interface Probe {
  method: string;
  path: string;
  body?: unknown;
}

/** Every admin surface, each with a request that would change or reveal something. */
const ADMIN: Probe[] = [
  { method: "GET", path: "/api/requests" },
  { method: "GET", path: "/api/requests/some-id" },
  { method: "GET", path: "/api/stats/summary" },
  { method: "GET", path: "/api/stats/timeseries" },
  { method: "GET", path: "/api/sessions" },
  { method: "GET", path: "/api/users" },
  { method: "GET", path: "/api/usage-summary" },
  { method: "GET", path: "/api/stream" },
  { method: "GET", path: "/api/settings" },
  { method: "PUT", path: "/api/settings", body: { requestHeaderRules: [] } },
  { method: "GET", path: "/api/keys" },
  { method: "POST", path: "/api/keys", body: { project: "intruders" } },
  { method: "POST", path: "/api/keys/key_nope/revoke" },
  { method: "GET", path: "/api/provider-keys" },
  { method: "POST", path: "/api/provider-keys", body: { provider: "openai", secret: "sk-intruder-000000000000000000000000" } },
  { method: "DELETE", path: "/api/provider-keys/pk_nope" },
  { method: "GET", path: "/api/limits" },
  { method: "PUT", path: "/api/limits", body: { scope: "project", subject: "x", metric: "requests", amount: "1", window: { seconds: 60 }, soft_pct: null } },
  { method: "DELETE", path: "/api/limits?scope=project&subject=x" },
  { method: "GET", path: "/api/audit" },
  { method: "POST", path: "/api/sql", body: { sql: "select 1" } },
  { method: "GET", path: "/reference" },
  { method: "HEAD", path: "/api/settings" },
];
/** The local CLI's surface: only the key in the discovery file opens it, whatever else is sent. */
const LOCAL: Probe[] = [
  { method: "POST", path: "/_loupe/sql", body: { sql: "select 1" } },
  { method: "POST", path: "/_loupe/export", body: { dir: "/tmp/loupe-intruder-export" } },
];

async function call(base: string, probe: Probe, headers: Record<string, string> = {}): Promise<Response> {
  const response = await fetch(`${base}${probe.path}`, {
    method: probe.method,
    headers: { ...(probe.body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: probe.body === undefined ? undefined : JSON.stringify(probe.body),
    signal: AbortSignal.timeout(5000),
  });
  // The live tail never ends by itself.
  if (probe.path === "/api/stream" && response.ok) await response.body?.cancel();
  else await response.arrayBuffer();
  return response;
}

/** Status of each probe, as `METHOD path → status`, for one readable comparison. */
async function statuses(base: string, probes: Probe[], headers: Record<string, string> = {}): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const probe of probes) out[`${probe.method} ${probe.path}`] = (await call(base, probe, headers)).status;
  return out;
}
const all = (probes: Probe[], status: number) => Object.fromEntries(probes.map((p) => [`${p.method} ${p.path}`, status]));

function bases(gateway: Gateway): string[] {
  const port = new URL(gateway.url).port;
  return [...(OUTSIDE ? [`http://${OUTSIDE}:${port}`] : []), `http://127.0.0.1:${port}`];
}

describe("listening on 0.0.0.0 with LOUPE_ADMIN_TOKEN", () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ env: { LOUPE_HOST: "0.0.0.0", LOUPE_ADMIN_TOKEN: TOKEN, LOUPE_SECRET: "hardening-secret-0123456789abcdef", ...NO_THROTTLE } });
  });
  afterAll(() => gw?.stop());

  test("without credentials, or with wrong ones, every admin route answers 401 and the CLI's routes 403, from outside and from loopback alike", async () => {
    for (const base of bases(gw)) {
      for (const headers of [{}, { authorization: "Bearer wrong-token" }, { authorization: `Basic ${btoa(`admin:${TOKEN}`)}` }, { cookie: "loupe_session=v1.9999999999.forged" }]) {
        expect({ base, headers, answers: await statuses(base, ADMIN, headers) }).toEqual({ base, headers, answers: all(ADMIN, 401) });
        expect({ base, headers, answers: await statuses(base, LOCAL, headers) }).toEqual({ base, headers, answers: all(LOCAL, 403) });
      }
    }
  });

  test("with the token every admin route works; the CLI's routes still want the discovery file's key", async () => {
    for (const base of bases(gw)) {
      const answers = await statuses(base, ADMIN, { authorization: `Bearer ${TOKEN}` });
      for (const [route, status] of Object.entries(answers)) expect([route, status === 401 || status === 403]).toEqual([route, false]);
      expect(answers["GET /api/settings"]).toBe(200);
      expect(answers["PUT /api/settings"]).toBe(200);
      expect(answers["POST /api/keys"]).toBe(201);
      expect(answers["POST /api/sql"]).toBe(200);
      expect(await statuses(base, LOCAL, { authorization: `Bearer ${TOKEN}` })).toEqual(all(LOCAL, 403));
      const { key } = JSON.parse(readFileSync(`${gw.db}.loupe.json`, "utf8")) as { key: string };
      expect((await call(base, LOCAL[0]!, { "x-loupe-local-key": key })).status).toBe(200);
    }
  });

  test("the dashboard page is its static shell, no data in it (it asks for the token, README); the spec and the probes are public and hold no secret", async () => {
    for (const base of bases(gw)) {
      for (const path of ["/", "/requests", "/keys", "/settings"]) {
        const page = await fetch(`${base}${path}`, { headers: { accept: "text/html" } });
        expect([path, page.status, await page.text()]).toEqual([path, 200, indexHtml]);
      }
      for (const path of ["/openapi.json", "/openapi.yaml", "/health", "/livez", "/"]) {
        const response = await fetch(`${base}${path}`);
        const text = await response.text();
        expect([path, response.status, text.includes(TOKEN)]).toEqual([path, 200, false]);
      }
    }
  });
});

describe("listening on 0.0.0.0 with LOUPE_ADMIN_TOKEN and LOUPE_DASHBOARD_PASSWORD", () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ env: { LOUPE_HOST: "0.0.0.0", LOUPE_ADMIN_TOKEN: TOKEN, LOUPE_DASHBOARD_PASSWORD: PASSWORD, ...NO_THROTTLE } });
  });
  afterAll(() => gw?.stop());

  const basic = (password: string) => ({ authorization: `Basic ${btoa(`anyone:${password}`)}` });
  const reads = ADMIN.filter((p) => p.method === "GET" || p.method === "HEAD");
  const changes = ADMIN.filter((p) => p.method !== "GET" && p.method !== "HEAD");

  test("the dashboard page asks for the password; the password opens the reads and nothing else", async () => {
    for (const base of bases(gw)) {
      const challenged = await fetch(`${base}/requests`, { headers: { accept: "text/html" } });
      expect(challenged.status).toBe(401);
      expect(challenged.headers.get("www-authenticate")).toStartWith("Basic ");
      expect(await challenged.text()).not.toContain("<script");
      expect((await fetch(`${base}/requests`, { headers: { accept: "text/html", ...basic("wrong") } })).status).toBe(401);
      expect((await fetch(`${base}/requests`, { headers: { accept: "text/html", ...basic(PASSWORD) } })).status).toBe(200);

      expect(await statuses(base, ADMIN)).toEqual(all(ADMIN, 401));
      expect(await statuses(base, ADMIN, basic("wrong"))).toEqual(all(ADMIN, 401));
      const read = await statuses(base, reads, basic(PASSWORD));
      for (const [route, status] of Object.entries(read)) expect([route, status === 401 || status === 403]).toEqual([route, false]);
      // A change (and SQL, a POST) needs the admin token, even with a same-origin browser's headers.
      expect(await statuses(base, changes, { ...basic(PASSWORD), "sec-fetch-site": "same-origin" })).toEqual(all(changes, 403));
      expect(await statuses(base, LOCAL, basic(PASSWORD))).toEqual(all(LOCAL, 403));
    }
  });
});

describe("refusing to start off loopback without a token", () => {
  async function serve(host: string, env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
    const proc = Bun.spawn([BUN, join(ROOT, "main.ts"), "serve"], {
      env: { PATH: process.env.PATH ?? "", LOUPE_HOST: host, LOUPE_PORT: "0", LOUPE_DB: ":memory:", ...env },
      stdout: "ignore",
      stderr: "pipe",
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    const code = await proc.exited;
    clearTimeout(timer);
    return { code, stderr: await new Response(proc.stderr).text() };
  }

  // A host name is no loopback address, whatever it begins with: it resolves where its DNS says.
  const hosts = ["0.0.0.0", "::", ...(OUTSIDE ? [OUTSIDE] : []), "127.0.0.1.example.invalid", "localhost.example.invalid"];
  test(`LOUPE_HOST=${hosts.join(", ")}: each exits 2 naming LOUPE_ADMIN_TOKEN; the dashboard password is no substitute`, async () => {
    const runs = [...hosts.map((host) => ({ host })), { host: "0.0.0.0", LOUPE_DASHBOARD_PASSWORD: PASSWORD }];
    const results = await Promise.all(
      runs.map(async ({ host, ...env }) => {
        const { code, stderr } = await serve(host, env);
        return { host, env, code, refused: stderr.includes("without LOUPE_ADMIN_TOKEN") };
      }),
    );
    expect(results).toEqual(runs.map(({ host, ...env }) => ({ host, env, code: 2, refused: true })));
  }, 20_000);
});
