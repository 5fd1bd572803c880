import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { request } from "node:http";
import { startGateway, type Gateway } from "../support/gateway.ts";

/**
 * Guessing the admin token is throttled per client address
 * (dashboard/login-throttle.ts): 5 wrong tokens within a minute lock that
 * address out with 429 and Retry-After, whatever it sends next, while other
 * addresses and valid session cookies go on. The gateway listens on
 * 127.0.0.1 and the requests leave from other loopback addresses
 * (127.0.0.2, …), which Linux routes to it: the gateway sees each as a
 * different client.
 */
const TOKEN = "throttle-admin-token-0123456789";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(gw: Gateway, from: string, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> {
  const { hostname, port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const sent = request(
      { host: hostname, port: Number(port), path, method, localAddress: from, headers: { ...(body === undefined ? {} : { "content-type": "application/json", origin: gw.url }), ...headers } },
      (response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => (text += chunk.toString()));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
      },
    );
    sent.on("error", reject);
    sent.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
const login = (gw: Gateway, from: string, token: string) => send(gw, from, "POST", "/api/login", {}, { token });
const settings = (gw: Gateway, from: string, headers: Record<string, string>) => send(gw, from, "GET", "/api/settings", headers);

describe("wrong admin tokens, per client address", () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ env: { LOUPE_ADMIN_TOKEN: TOKEN } });
  });
  afterAll(() => gw?.stop());

  test("5 wrong logins lock the address out: 429 with Retry-After, even for the right token, on the login and on /api alike", async () => {
    for (let i = 0; i < 5; i++) expect((await login(gw, "127.0.0.2", `guess-${i}`)).status).toBe(401);
    const locked = await login(gw, "127.0.0.2", TOKEN);
    expect(locked.status).toBe(429);
    const wait = Number(locked.headers["retry-after"]);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    expect(JSON.parse(locked.body)).toMatchObject({ error: { type: "rate_limited" } });
    expect(locked.headers["set-cookie"]).toBeUndefined();
    const bearer = await settings(gw, "127.0.0.2", { authorization: `Bearer ${TOKEN}` });
    expect(bearer.status).toBe(429);
    expect(Number(bearer.headers["retry-after"])).toBeGreaterThan(0);
  });

  test("another address is not hindered; a session cookie is no guess and works from the locked address too", async () => {
    const right = await login(gw, "127.0.0.3", TOKEN);
    expect(right.status).toBe(200);
    expect((await settings(gw, "127.0.0.3", { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    const cookie = String(right.headers["set-cookie"]).split(";")[0]!;
    expect((await settings(gw, "127.0.0.2", { cookie })).status).toBe(200);
  });

  test("wrong Bearer tokens on /api count the same way", async () => {
    for (let i = 0; i < 5; i++) expect((await settings(gw, "127.0.0.4", { authorization: `Bearer guess-${i}` })).status).toBe(401);
    expect((await settings(gw, "127.0.0.4", { authorization: `Bearer ${TOKEN}` })).status).toBe(429);
    expect((await login(gw, "127.0.0.4", TOKEN)).status).toBe(429);
  });

  test("a right token starts the count over: 4 wrong, right, 4 wrong again is no lockout", async () => {
    for (let i = 0; i < 4; i++) expect((await login(gw, "127.0.0.5", `guess-${i}`)).status).toBe(401);
    expect((await login(gw, "127.0.0.5", TOKEN)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await login(gw, "127.0.0.5", `guess-${i}`)).status).toBe(401);
    expect((await login(gw, "127.0.0.5", TOKEN)).status).toBe(200);
  });
});
