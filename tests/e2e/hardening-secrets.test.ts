import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { SignJWT } from "jose";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { runLoupe, startGateway, type Gateway } from "../support/gateway.ts";
import { startOtlpReceiver, type OtlpReceiver } from "../support/otlp-receiver.ts";
import { startRedis, type RedisServer } from "../support/redis.ts";

/**
 * Issue 17, no secret anywhere: a gateway with every feature on (sealed
 * provider keys and gateway keys under LOUPE_SECRET, the admin token, the
 * dashboard password, full body logging, OTLP export with credentials,
 * limits in a password-protected Redis, JWTs) takes calls that carry
 * secrets in headers, bodies and error paths. Then every place Loupe writes
 * or answers is searched for each secret's value: its logs, every file of
 * its data folder, what the OTLP receiver got, the admin API, /livez. Masked
 * or hashed forms are fine; the value itself may appear nowhere.
 * gateway-keys.test.ts and redaction.test.ts cover the SDK paths and the
 * recognised key formats; this covers the rest.
 */
const SECRETS = {
  loupeSecret: "hardening-loupe-secret-Vb71Kq0Zx3",
  adminToken: "hardening-admin-token-Pw82Lm5Nc4",
  dashboardPassword: "hardening-dashboard-pass-Jh63Rt9Ys1",
  jwtSecret: "hardening-jwt-hs256-secret-Qa40Wd7Ef2Xc",
  redisPassword: "hardening-redis-pass-Tg25Bn8Mk6",
  otlpUrlPassword: "hardening-otlp-url-pass-Fr14Hy6Uj9",
  otlpHeaderToken: "hardening-otlp-header-token-Ik37Ol2Pe5",
  // A stored key of a format the redaction patterns do not know (as Groq's gsk_, xAI's, Mistral's and Cohere's are not).
  storedAnthropicKey: "org-anthropic-credential-Lz58Xc1Vb0Nm",
  storedOpenAIKey: "org-openai-credential-Kj29Hg4Fd7Sa",
  // A client's own provider key, sent in a header and pasted into a prompt.
  clientKey: `sk-ant-api03-${"Ck7Lp2Mq9Nr4".repeat(3)}`,
};
/** Made during the run: the gateway key (shown once) and a signed JWT. */
const issued: Record<string, string> = {};

/**
 * An Anthropic and OpenAI stand-in that echoes the credential it received:
 * in a 401 when the prompt says so (with a length, streamed without one, or
 * gzipped), else in nothing (a plain answer with usage).
 */
function startEchoingUpstream(): Server<undefined> {
  return Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const body = (await request.json()) as { messages: { content: string }[] };
      const credential = request.headers.get("x-api-key") ?? request.headers.get("authorization") ?? "(none)";
      const prompt = body.messages[0]!.content;
      if (prompt.includes("fail")) {
        const text = JSON.stringify({ type: "error", error: { type: "authentication_error", message: `invalid x-api-key: ${credential}` } });
        if (prompt.includes("gzip")) return new Response(Bun.gzipSync(text), { status: 401, headers: { "content-type": "application/json", "content-encoding": "gzip" } });
        if (!prompt.includes("chunked")) return new Response(text, { status: 401, headers: { "content-type": "application/json" } });
        const bytes = new TextEncoder().encode(text);
        const halves = [bytes.subarray(0, 60), bytes.subarray(60)];
        return new Response(new ReadableStream({ pull: (c) => (halves.length ? c.enqueue(halves.shift()!) : c.close()) }), { status: 401, headers: { "content-type": "application/json" } });
      }
      if (new URL(request.url).pathname.endsWith("/chat/completions")) {
        return Response.json({ id: "chatcmpl-h", object: "chat.completion", model: "gpt-4o-mini", choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } });
      }
      return Response.json({ id: "msg_h", type: "message", role: "assistant", model: "claude-sonnet-4-5", content: [{ type: "text", text: "ok" }], stop_reason: "end_turn", usage: { input_tokens: 5, output_tokens: 1 } });
    },
  });
}

let upstream: Server<undefined>;
let receiver: OtlpReceiver;
let redis: RedisServer;
let gw: Gateway;
/** Everything the admin surfaces and the probes answered during the run. */
const answered: [string, string][] = [];
/** What gateway-key and JWT callers received: the stored provider keys must not be in it. */
const toKeyHolders: [string, string][] = [];

const admin = { authorization: `Bearer ${SECRETS.adminToken}` };

async function read(path: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(`${gw.url}${path}`, { ...init, headers: { ...admin, ...(init.headers as Record<string, string>) } });
  const text = await response.text();
  answered.push([`${init.method ?? "GET"} ${path}`, `${[...response.headers].join("\n")}\n${text}`]);
  return new Response(text, { status: response.status, headers: response.headers });
}

async function messages(credential: Record<string, string>, prompt: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${gw.url}/anthropic/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...credential },
    body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 5, messages: [{ role: "user", content: prompt }] }),
  });
  return { status: response.status, text: `${[...response.headers].join("\n")}\n${await response.text()}` };
}

beforeAll(async () => {
  upstream = startEchoingUpstream();
  receiver = await startOtlpReceiver();
  redis = await startRedis({ password: SECRETS.redisPassword });
  const base = upstream.url.href.replace(/\/$/, "");
  const otlp = new URL(receiver.url);
  otlp.username = "otlp";
  otlp.password = SECRETS.otlpUrlPassword;
  gw = await startGateway({
    env: {
      LOUPE_SECRET: SECRETS.loupeSecret,
      LOUPE_ADMIN_TOKEN: SECRETS.adminToken,
      LOUPE_DASHBOARD_PASSWORD: SECRETS.dashboardPassword,
      LOUPE_JWT_SECRET: SECRETS.jwtSecret,
      LOUPE_REDIS_URL: redis.url,
      LOUPE_LOG_BODY: "full",
      LOUPE_ANTHROPIC_BASE_URL: base,
      LOUPE_OPENAI_BASE_URL: base,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.href.replace(/\/$/, ""),
      OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer ${SECRETS.otlpHeaderToken}`,
      OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "true",
      OTEL_METRIC_EXPORT_INTERVAL: "500",
    },
  });
}, 30_000);
afterAll(async () => {
  if (gw?.proc.exitCode === null) await gw.stop();
  await upstream?.stop(true);
  await receiver?.stop();
  await redis?.dispose();
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const json = (value: unknown) => JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? String(v) : v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v));

describe("no secret anywhere", () => {
  test("a run with every feature on, calls carrying secrets, then every log, file, export and answer searched for each secret", async () => {
    // Provider keys stored as users store them: the CLI (secret on stdin) and the API.
    const set = runLoupe(gw, ["provider-keys", "set", "anthropic"], { stdin: `${SECRETS.storedAnthropicKey}\n`, env: { LOUPE_SECRET: SECRETS.loupeSecret } });
    expect([set.code, set.stderr]).toEqual([0, ""]);
    answered.push(["loupe provider-keys set", set.stdout]);
    const stored = await read("/api/provider-keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ provider: "openai", secret: SECRETS.storedOpenAIKey }) });
    expect(stored.status).toBe(201);
    const created = await read("/api/keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ project: "web", name: "frontend" }) });
    expect(created.status).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    issued.gatewayKey = ((await created.json()) as { key: string }).key;
    // The one place the gateway key may appear: the answer that creates it, once.
    expect(answered.pop()![1]).toContain(issued.gatewayKey);
    issued.jwt = await new SignJWT({ project: "web" }).setProtectedHeader({ alg: "HS256" }).setSubject("ana").setExpirationTime("10m").sign(new TextEncoder().encode(SECRETS.jwtSecret));
    const limit = await read("/api/limits", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ scope: "project", subject: "web", metric: "requests", amount: "1000", window: { seconds: 60 }, soft_pct: null }) });
    expect(limit.status).toBe(200);

    // Calls: with the gateway key and a JWT (the stored keys go upstream), failing upstream with the stored key echoed,
    // a wrong gateway key and a forged JWT, and a client's own key, in its header, its prompt and the upstream's echo.
    const keyed = { "x-api-key": issued.gatewayKey };
    const calls = [
      ["gateway key", await messages(keyed, `my own key is ${SECRETS.clientKey} and my gateway key ${issued.gatewayKey}`)],
      ["gateway key, upstream 401 echoing the stored key", await messages(keyed, "please fail")],
      ["gateway key, upstream 401 echoing it, streamed", await messages(keyed, "please fail chunked")],
      ["gateway key, upstream 401 echoing it, gzipped", await messages(keyed, "please fail gzip")],
      ["JWT", await messages({ authorization: `Bearer ${issued.jwt}` }, "hello")],
      ["JWT, upstream 401 echoing the stored key", await messages({ authorization: `Bearer ${issued.jwt}` }, "please fail")],
    ] as const;
    const statuses = calls.map(([name, { status }]) => [name, status]);
    expect(statuses).toEqual([
      ["gateway key", 200],
      ["gateway key, upstream 401 echoing the stored key", 401],
      ["gateway key, upstream 401 echoing it, streamed", 401],
      ["gateway key, upstream 401 echoing it, gzipped", 401],
      ["JWT", 200],
      ["JWT, upstream 401 echoing the stored key", 401],
    ]);
    for (const [name, { text }] of calls) toKeyHolders.push([name, text]);
    // The upstream's error reaches the caller, its stored key masked.
    for (const [name, { status, text }] of calls) if (status === 401) expect([name, text]).toEqual([name, expect.stringContaining('"invalid x-api-key: ***"')]);
    const openai = await fetch(`${gw.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${issued.gatewayKey}` },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "please fail" }] }),
    });
    toKeyHolders.push(["openai, upstream 401 echoing the stored key", await openai.text()]);
    expect(openai.status).toBe(401);

    const wrongKey = `lp_live_${"W".repeat(40)}`;
    expect((await messages({ "x-api-key": wrongKey }, "hello")).status).toBe(401);
    const forged = await new SignJWT({ project: "web" }).setProtectedHeader({ alg: "HS256" }).setSubject("eve").sign(new TextEncoder().encode("not-the-jwt-secret-0123456789"));
    expect((await messages({ authorization: `Bearer ${forged}` }, "hello")).status).toBe(401);
    expect((await messages({ "x-api-key": SECRETS.clientKey }, `please fail, my key is ${SECRETS.clientKey}`)).status).toBe(401);

    // The admin surfaces, the dashboard's login and the probes.
    const login = await read("/api/login", { method: "POST", headers: { "content-type": "application/json", authorization: "" }, body: JSON.stringify({ token: SECRETS.adminToken }) });
    expect(login.status).toBe(200);
    const listed = (await (await read("/api/requests?limit=100")).json()) as { items: { id: string }[] };
    expect(listed.items.length).toBe(10);
    for (const { id } of listed.items) expect((await read(`/api/requests/${id}`)).status).toBe(200);
    for (const path of ["/api/settings", "/api/keys", "/api/provider-keys", "/api/limits", "/api/audit", "/api/stats/summary", "/api/sessions", "/api/users", "/api/projects", "/livez", "/health", "/openapi.json", "/"]) {
      expect([path, (await read(path)).status]).toEqual([path, 200]);
    }
    expect((await read("/api/settings", { headers: { authorization: `Basic ${btoa(`any:${SECRETS.dashboardPassword}`)}` } })).status).toBe(200);
    const sql = await read("/api/sql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql: "select * from requests" }) });
    expect(sql.status).toBe(200);

    // Telemetry: every call's spans exported, and the metrics.
    await receiver.waitForSpans((spans) => spans.filter((s) => s.kind === "SERVER").length >= 10, 15_000);
    await receiver.waitForMetrics((points) => points.length > 0, 15_000);
    expect(await gw.stop()).toBe(0);
    const stdout = await new Response(gw.proc.stdout).text();

    const places: [string, string][] = [
      ["stderr", gw.stderr()],
      ["stdout", stdout],
      ["OTLP spans", json(receiver.spans)],
      ["OTLP metrics", json(receiver.metrics)],
      ["OTLP payloads", json(receiver.requests.map((r) => r.decoded))],
      ...answered.map(([what, text]) => [`answer to ${what}`, text] as [string, string]),
      ...filesUnder(gw.dir).map((file) => [file, readFileSync(file).toString("latin1")] as [string, string]),
    ];
    expect(places.filter(([place]) => place.endsWith(".duckdb")).length).toBe(1);
    const everything = { ...SECRETS, ...issued };
    const found: string[] = [];
    for (const [name, secret] of Object.entries(everything)) {
      for (const [place, text] of places) if (text.includes(secret)) found.push(`${name} in ${place}`);
    }
    // A caller with a gateway key or a JWT never learns the provider key stored for it.
    for (const [call, text] of toKeyHolders) {
      for (const name of ["storedAnthropicKey", "storedOpenAIKey", "loupeSecret", "jwtSecret"] as const) if (text.includes(SECRETS[name])) found.push(`${name} in the answer to: ${call}`);
    }
    expect(found).toEqual([]);
  }, 60_000);
});
