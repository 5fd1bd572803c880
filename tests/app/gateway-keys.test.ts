import { describe, expect, test } from "bun:test";
import { createAccessBook } from "../../src/keys/access-book.ts";
import { createGate, NO_LIMITS } from "../../src/gate/create-gate.ts";
import type { AccessDefinitions, GatewayKey, Limit } from "../../src/keys/definitions.ts";
import { createMemoryLimiter } from "../../src/limits/memory-limiter.ts";
import { createSecrets, fingerprint, newGatewayKey } from "../../src/keys/secrets.ts";
import { loadConfig } from "../../src/config.ts";
import { fixtureText } from "../support/fixtures.ts";
import { harness, readingBodies } from "../support/app-harness.ts";

/**
 * Gateway keys on the proxy (in process): the caller's lp_live_ key is
 * checked before anything goes upstream, and the provider key stored for its
 * project replaces it in whatever header the provider reads.
 */
const secrets = createSecrets("test-secret-0123456789abcdef");
const ENV = { LOUPE_SECRET: "test-secret-0123456789abcdef", LOUPE_GEMINI_BASE_URL: "http://upstream.test", LOUPE_AZURE_BASE_URL: "http://azure-default.test" };
const now = new Date().toISOString();

function key(over: Partial<GatewayKey> = {}): { def: GatewayKey; secret: string } {
  const made = newGatewayKey(secrets);
  return {
    secret: made.key,
    def: { id: made.id, name: null, project: "alpha", user: null, providers: null, models: null, metadata: null, hash: made.hash, prefix: made.prefix, created_at: now, expires_at: null, revoked_at: null, last_used_at: null, ...over },
  };
}
const stored = (provider: string, secret: string, project: string | null = null) => ({ id: `pk_${provider.padEnd(12, "x").slice(0, 12)}`, provider, project, sealed: secrets.seal(secret), fingerprint: fingerprint(secret), created_at: now });

function appWith(definitions: AccessDefinitions, upstream: (url: string, init: RequestInit) => Response = () => okOpenAI(), env: Record<string, string> = {}) {
  const config = loadConfig({ env: { ...ENV, LOUPE_OPENAI_BASE_URL: "http://upstream.test", LOUPE_ANTHROPIC_BASE_URL: "http://upstream.test", ...env } });
  const book = createAccessBook(secrets, definitions);
  return { app: readingBodies(harness(upstream, { ...ENV, ...env }, { gate: createGate(config, book, NO_LIMITS) })), book };
}
const okOpenAI = () => new Response(fixtureText("openai/chat-nonstream.json"), { headers: { "content-type": "application/json" } });
const chat = (headers: Record<string, string>) =>
  new Request("http://loupe.test/openai/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ model: "gpt-4o-mini", messages: [] }) });

describe("gateway keys on provider routes", () => {
  const alpha = key();
  const beta = key({ project: "beta", user: "svc-reporter" });
  const definitions: AccessDefinitions = {
    keys: [alpha.def, beta.def],
    providerKeys: [stored("openai", "sk-default-openai"), stored("openai", "sk-beta-openai", "beta"), stored("anthropic", "sk-ant-stored"), stored("gemini", "AIzaStoredGeminiKey")],
    limits: [],
  };

  test("OpenAI (Authorization: Bearer): the project's stored key goes upstream, the gateway key nowhere; the record names the key and its project", async () => {
    const { app, book } = appWith(definitions);
    const response = await app.fetch(chat({ authorization: `Bearer ${beta.secret}`, "x-loupe-project": "spoofed" }));
    expect(response.status).toBe(200);
    const sent = app.sent[0]!.init.headers as Record<string, string>;
    expect(sent.authorization).toBe("Bearer sk-beta-openai");
    expect(JSON.stringify(app.sent[0])).not.toContain(beta.secret);
    expect(app.records()[0]).toMatchObject({ key_id: beta.def.id, project: "beta", user_id: "svc-reporter", status: 200, limit_hit: null });
    expect([...book.drainUsed().keys()]).toEqual([beta.def.id]);
    // A project without its own key gets the default.
    await app.fetch(chat({ authorization: `Bearer ${alpha.secret}` }));
    expect((app.sent[1]!.init.headers as Record<string, string>).authorization).toBe("Bearer sk-default-openai");
  });

  test("Anthropic (x-api-key) and Gemini (x-goog-api-key): each provider's own header", async () => {
    const { app } = appWith(definitions, (url) =>
      url.includes("generateContent")
        ? new Response(fixtureText("gemini/generateContent-2.5-flash-cache-thoughts.js-genai-recording.json"), { headers: { "content-type": "application/json" } })
        : new Response(fixtureText("anthropic/messages-nonstream-basic.json"), { headers: { "content-type": "application/json" } }),
    );
    await app.fetch(new Request("http://loupe.test/anthropic/v1/messages", { method: "POST", headers: { "x-api-key": alpha.secret, "anthropic-version": "2023-06-01" }, body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 5, messages: [] }) }));
    await app.fetch(new Request("http://loupe.test/gemini/v1beta/models/gemini-2.5-flash:generateContent", { method: "POST", headers: { "x-goog-api-key": alpha.secret }, body: JSON.stringify({ contents: [] }) }));
    const [anthropic, gemini] = app.sent.map((s) => s.init.headers as Record<string, string>);
    expect(anthropic!["x-api-key"]).toBe("sk-ant-stored");
    expect(anthropic!.authorization).toBeUndefined();
    expect(gemini!["x-goog-api-key"]).toBe("AIzaStoredGeminiKey");
    expect(app.records().map((r) => r.key_id)).toEqual([alpha.def.id, alpha.def.id]);
  });

  test("unknown, revoked, expired and malformed keys: 401 in the route's dialect, nothing sent upstream, recorded as such", async () => {
    const revoked = key({ revoked_at: now });
    const expired = key({ expires_at: new Date(Date.now() - 1000).toISOString() });
    const { app } = appWith({ ...definitions, keys: [...definitions.keys, revoked.def, expired.def] });
    const unknown = newGatewayKey(secrets).key;
    const cases = [
      [unknown, "unknown gateway key"],
      [revoked.secret, "revoked gateway key"],
      [expired.secret, "expired gateway key"],
      ["lp_live_short", "malformed gateway key"],
    ] as const;
    for (const [presented, message] of cases) {
      const response = await app.fetch(chat({ authorization: `Bearer ${presented}` }));
      expect(response.status).toBe(401);
      const body = (await response.json()) as { error: { message: string; type: string } };
      expect(body.error.message).toContain(message);
      expect(body.error.type).toBe("invalid_request_error"); // OpenAI's dialect
    }
    const anthropic = await app.fetch(new Request("http://loupe.test/anthropic/v1/messages", { method: "POST", headers: { "x-api-key": unknown }, body: "{}" }));
    expect(((await anthropic.json()) as { type: string; error: { type: string } }).error.type).toBe("authentication_error");
    expect(app.sent).toEqual([]);
    const records = app.records();
    expect(records.map((r) => [r.status, r.error_type])).toEqual([...cases.map(() => [401, "unauthorized"]), [401, "unauthorized"]]);
    expect(JSON.stringify(records)).not.toContain(unknown);
  });

  test("a key limited to some providers and models: others get 403; no stored provider key: 401 naming the command", async () => {
    const narrow = key({ providers: ["openai"], models: ["gpt-4o*"] });
    const { app } = appWith({ ...definitions, keys: [narrow.def], providerKeys: [stored("openai", "sk-x")] });
    expect((await app.fetch(chat({ authorization: `Bearer ${narrow.secret}` }))).status).toBe(200);
    const otherModel = await app.fetch(
      new Request("http://loupe.test/openai/v1/chat/completions", { method: "POST", headers: { authorization: `Bearer ${narrow.secret}` }, body: JSON.stringify({ model: "o3", messages: [] }) }),
    );
    expect(otherModel.status).toBe(403);
    const otherProvider = await app.fetch(new Request("http://loupe.test/anthropic/v1/messages", { method: "POST", headers: { "x-api-key": narrow.secret }, body: JSON.stringify({ model: "claude-sonnet-4-5", messages: [] }) }));
    expect(otherProvider.status).toBe(403);
    expect(app.sent.length).toBe(1);

    const { app: bare } = appWith({ ...definitions, providerKeys: [] });
    const missing = await bare.fetch(chat({ authorization: `Bearer ${alpha.secret}` }));
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain("loupe provider-keys set openai --project alpha");
  });

  test("pass-through stays as it was: a caller's own provider key goes upstream untouched, unless keys are required", async () => {
    const { app } = appWith(definitions);
    await app.fetch(chat({ authorization: "Bearer sk-callers-own" }));
    expect((app.sent[0]!.init.headers as Record<string, string>).authorization).toBe("Bearer sk-callers-own");
    expect(app.records()[0]!.key_id).toBeNull();

    const { app: strict } = appWith(definitions, okOpenAI, { LOUPE_REQUIRE_KEY: "true" });
    const refused = await strict.fetch(chat({ authorization: "Bearer sk-callers-own" }));
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("requires a gateway key");
    expect(strict.sent).toEqual([]);
  });

  test("Azure: a stored key with its resource URL sends the call to that resource, with api-key", async () => {
    const { app } = appWith({ ...definitions, providerKeys: [stored("azure", JSON.stringify({ key: "azure-secret-1", baseUrl: "https://myres.openai.azure.com/" }))] });
    await app.fetch(new Request("http://loupe.test/azure/openai/v1/chat/completions", { method: "POST", headers: { "api-key": alpha.secret }, body: JSON.stringify({ model: "gpt-4o", messages: [] }) }));
    expect(app.sent[0]!.url).toBe("https://myres.openai.azure.com/openai/v1/chat/completions");
    expect((app.sent[0]!.init.headers as Record<string, string>)["api-key"]).toBe("azure-secret-1");
  });
});

describe("JWT (Authorization: Bearer, verified with a shared secret)", () => {
  test("a valid token's claims name the user and project; a bad one is refused before anything goes upstream", async () => {
    const { SignJWT } = await import("jose");
    const hmac = new TextEncoder().encode("jwt-shared-secret-0123456789");
    const sign = (claims: Record<string, string>, secret = hmac) => new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuer("https://idp.test").setExpirationTime("5m").sign(secret);
    const { app } = appWith({ keys: [], providerKeys: [stored("openai", "sk-team-openai", "research")], limits: [] }, okOpenAI, {
      LOUPE_JWT_SECRET: "jwt-shared-secret-0123456789",
      LOUPE_JWT_ISSUER: "https://idp.test",
    });
    const ok = await app.fetch(chat({ authorization: `Bearer ${await sign({ sub: "alice@example.com", project: "research" })}` }));
    expect(ok.status).toBe(200);
    expect((app.sent[0]!.init.headers as Record<string, string>).authorization).toBe("Bearer sk-team-openai");
    expect(app.records()[0]).toMatchObject({ user_id: "alice@example.com", project: "research", key_id: null });
    const forged = await app.fetch(chat({ authorization: `Bearer ${await sign({ sub: "mallory", project: "research" }, new TextEncoder().encode("another-secret-0123456789"))}` }));
    expect(forged.status).toBe(401);
    expect(app.sent.length).toBe(1);
  });
});

describe("limits on the proxy (in-process limiter)", () => {
  const alpha = key();
  const perWindow = (scope: Limit["scope"], subject: string, metric: Limit["metric"], amount: string, seconds = 60): Limit => ({ scope, subject, metric, amount, window: { seconds }, soft_pct: null });

  function limitedApp(limits: Limit[], upstream = okOpenAI) {
    const definitions: AccessDefinitions = { keys: [alpha.def], providerKeys: [stored("openai", "sk-stored")], limits };
    const config = loadConfig({ env: { ...ENV, LOUPE_OPENAI_BASE_URL: "http://upstream.test" } });
    return readingBodies(harness(upstream, ENV, { gate: createGate(config, createAccessBook(secrets, definitions), createMemoryLimiter(limits)) }));
  }

  test("200 concurrent calls against 50 per minute: exactly 50 reach the provider; the rest get 429 in dialect, with the headers, recorded with the limit", async () => {
    const app = limitedApp([perWindow("project", "alpha", "requests", "50")]);
    const responses = await Promise.all(Array.from({ length: 200 }, () => app.fetch(chat({ authorization: `Bearer ${alpha.secret}` }))));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBe(50);
    expect(statuses.filter((s) => s === 429).length).toBe(150);
    expect(app.sent.length).toBe(50);
    const refused = responses.find((r) => r.status === 429)!;
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(refused.headers.get("x-loupe-ratelimit-scope")).toBe("project");
    const body = (await refused.json()) as { error: { message: string; type: string; code: string } };
    expect(body.error.code).toBe("rate_limited");
    expect(body.error.message).toContain('project "alpha"');
    expect(body.error.message).toContain("50 requests per 1m");
    const ok = responses.find((r) => r.status === 200)!;
    expect(ok.headers.get("x-ratelimit-limit")).toBe("50");
    expect(Number(ok.headers.get("x-ratelimit-remaining"))).toBeLessThan(50);
    expect(ok.headers.get("x-loupe-ratelimit-scope")).toBe("project");
    const records = app.records();
    expect(records.filter((r) => r.status === 429).every((r) => r.limit_hit === "project:alpha requests 50/1m" && r.key_id === alpha.def.id)).toBe(true);
    expect(records.filter((r) => r.status === 200).every((r) => r.limit_hit === null)).toBe(true);
  });

  test("a USD limit counts each call's exact cost once it is known, and blocks the next call once spent", async () => {
    const app = limitedApp([perWindow("key", alpha.def.id, "usd", "1")]); // 1 nano-USD: the first call spends it
    expect((await app.fetch(chat({ authorization: `Bearer ${alpha.secret}` }))).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 20)); // the cost is counted off the response's path
    const second = await app.fetch(chat({ authorization: `Bearer ${alpha.secret}` }));
    expect(second.status).toBe(429);
    expect(second.headers.get("x-loupe-ratelimit-scope")).toBe("key");
    expect(app.sent.length).toBe(1);
  });

  test("calls under no limit carry no rate-limit headers", async () => {
    const app = limitedApp([perWindow("project", "other", "requests", "1")]);
    const response = await app.fetch(chat({ authorization: `Bearer ${alpha.secret}` }));
    expect(response.status).toBe(200);
    expect(response.headers.get("x-ratelimit-limit")).toBeNull();
  });
});
