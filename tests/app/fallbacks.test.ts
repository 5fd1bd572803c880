import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { createAccessBook } from "../../src/keys/access-book.ts";
import { createGate, NO_LIMITS } from "../../src/gate/create-gate.ts";
import { createSecrets } from "../../src/keys/secrets.ts";
import { createCircuitBreaker } from "../../src/routing/circuit-breaker.ts";
import { fixtureText } from "../support/fixtures.ts";
import { tempDir } from "../support/gateway.ts";
import { harness, readingBodies } from "../support/app-harness.ts";

/** Fallback chains and the circuit breaker, in process (injected fetch answering by the model asked for). */
function appWith(config: unknown, answer: (model: string) => Response | Promise<Response>) {
  const file = join(tempDir("loupe-fallback-"), "config.json");
  writeFileSync(file, JSON.stringify(config));
  const app = harness((_url, init) => answer((JSON.parse(new TextDecoder().decode(init.body as Uint8Array)) as { model: string }).model), { LOUPE_CONFIG: file });
  return readingBodies(app);
}
const ok = () => new Response(fixtureText("openai/chat-nonstream.json"), { headers: { "content-type": "application/json" } });
const down = () => Promise.reject(new TypeError("connect ECONNREFUSED"));
const chat = (model: string) => new Request("http://loupe.test/openai/v1/chat/completions", { method: "POST", headers: { authorization: "Bearer sk-1" }, body: JSON.stringify({ model, messages: [] }) });

describe("fallback chains", () => {
  const config = { fallbacks: [{ match: { model: "gpt-primary" }, chain: [{ provider: "openai", model: "gpt-second" }, { provider: "openai", model: "gpt-third" }] }] };

  test("the first upstream down: the next of the chain answers; the record names the model that answered and every attempt", async () => {
    const app = appWith(config, (model) => (model === "gpt-primary" ? down() : model === "gpt-second" ? new Response("{}", { status: 503 }) : ok()));
    const response = await app.fetch(chat("gpt-primary"));
    expect(response.status).toBe(200);
    expect(app.sent.map((s) => (JSON.parse(new TextDecoder().decode(s.init.body as Uint8Array)) as { model: string }).model)).toEqual(["gpt-primary", "gpt-second", "gpt-third"]);
    expect(app.records()[0]).toMatchObject({ status: 200, model: "gpt-primary", routed_provider: "openai", routed_model: "gpt-third", attempts: 3 });
  });

  test("a client error is the client's: no fallback; nor for calls the chain does not match", async () => {
    const app = appWith(config, (model) => (model === "gpt-primary" ? new Response('{"error":{"message":"bad"}}', { status: 400 }) : ok()));
    expect((await app.fetch(chat("gpt-primary"))).status).toBe(400);
    expect(app.sent.length).toBe(1);
    const other = appWith(config, () => down());
    expect((await other.fetch(chat("gpt-other"))).status).toBe(502);
    expect(other.sent.length).toBe(1);
  });
});

describe("the circuit breaker", () => {
  test("opens after five failures in a row, skips the upstream while open, lets one call try after, and a success closes it", () => {
    const breaker = createCircuitBreaker({ threshold: 5, openMs: 1000 });
    const t0 = 1_000_000;
    for (let i = 0; i < 4; i++) breaker.record("https://a", false, t0);
    expect(breaker.allows("https://a", t0)).toBe(true);
    breaker.record("https://a", false, t0);
    expect(breaker.allows("https://a", t0 + 10)).toBe(false);
    expect(breaker.allows("https://b", t0 + 10)).toBe(true);
    expect(breaker.allows("https://a", t0 + 1001)).toBe(true); // half-open: one probe
    expect(breaker.allows("https://a", t0 + 1002)).toBe(false);
    breaker.record("https://a", true, t0 + 1003);
    expect(breaker.allows("https://a", t0 + 1004)).toBe(true);
  });

  test("through the proxy: after five failed calls the upstream is not tried; the fallback (another provider) answers at once", async () => {
    const file = join(tempDir("loupe-fallback-"), "config.json");
    writeFileSync(file, JSON.stringify({ fallbacks: [{ match: { model: "gpt-flaky" }, chain: [{ provider: "groq", model: "llama-steady" }] }] }));
    const env = { LOUPE_CONFIG: file, LOUPE_SECRET: "fallback-secret-0123456789", LOUPE_GROQ_BASE_URL: "http://groq.test" };
    const secrets = createSecrets(env.LOUPE_SECRET);
    const book = createAccessBook(secrets, {
      keys: [],
      providerKeys: [{ id: "pk_groqgroqgroq", provider: "groq", project: null, sealed: secrets.seal("gsk_stored"), fingerprint: "00000000", created_at: new Date().toISOString() }],
      limits: [],
    });
    const inner = harness((url) => (url.startsWith("http://groq.test") ? ok() : new Response("{}", { status: 500 })), env, { gate: createGate(loadConfig({ env }), book, NO_LIMITS) });
    const call = async () => {
      const response = await inner.fetch(chat("gpt-flaky"));
      await response.arrayBuffer();
      return response.status;
    };
    for (let i = 0; i < 5; i++) expect(await call()).toBe(200);
    const before = inner.sent.length;
    expect(await call()).toBe(200);
    // Only the fallback was asked: the failing upstream is skipped while its circuit is open.
    expect(inner.sent.slice(before).map((s) => new URL(s.url).host)).toEqual(["groq.test"]);
    expect((inner.sent.at(-1)!.init.headers as Record<string, string>).authorization).toBe("Bearer gsk_stored");
    expect(inner.records().at(-1)).toMatchObject({ routed_provider: "groq", routed_model: "llama-steady", attempts: 1 });
  });
});
