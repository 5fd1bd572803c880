import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixtureText } from "../support/fixtures.ts";
import { startGateway, tempDir, type Gateway } from "../support/gateway.ts";

/**
 * Part 8 through a real gateway: a 429 then a 200 retried once (the official
 * SDK sees one answer), a fallback chain when the first upstream is down, and
 * the settings API replacing rules while running (a bad rule refused, the old
 * ones kept; audited).
 */
let gateway: Gateway;
let upstream: ReturnType<typeof Bun.serve>;
const seen: { path: string; model: string }[] = [];
let answers: number[] = [];

beforeAll(async () => {
  // An OpenAI-shaped upstream answering from recorded traffic, with a status script for the next calls.
  upstream = Bun.serve({
    port: 0,
    async fetch(request) {
      const body = (await request.json()) as { model: string };
      seen.push({ path: new URL(request.url).pathname, model: body.model });
      const status = answers.shift() ?? 200;
      if (status !== 200) return new Response(JSON.stringify({ error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } }), { status, headers: { "content-type": "application/json", "retry-after": "0" } });
      return new Response(fixtureText("openai/chat-nonstream.json"), { headers: { "content-type": "application/json" } });
    },
  });
  const dir = tempDir("loupe-control-");
  const config = join(dir, "loupe.json");
  writeFileSync(
    config,
    JSON.stringify({
      retry: { attempts: 2, backoffMs: 10, maxBackoffMs: 100 },
      // Groq's base is a closed port: down. Its chain ends at OpenAI (the local upstream).
      fallbacks: [{ match: { provider: "groq" }, chain: [{ provider: "openai", model: "gpt-4o-mini" }] }],
    }),
  );
  gateway = await startGateway({
    dir,
    env: { LOUPE_CONFIG: config, LOUPE_OPENAI_BASE_URL: upstream.url.origin, LOUPE_GROQ_BASE_URL: "http://127.0.0.1:9", LOUPE_SECRET: "control-e2e-secret-0123456789" },
  });
}, 30_000);
afterAll(async () => {
  await gateway?.stop();
  upstream?.stop(true);
});

const client = (path = "/openai/v1") => new OpenAI({ apiKey: "sk-client", baseURL: `${gateway.url}${path}`, maxRetries: 0 });
const row = async (id: string) => (await gateway.sql(`select status, attempts, routed_provider, routed_model from requests where id = '${id}'`))[0];

describe("retries, fallbacks and settings through the gateway", () => {
  test("a 429 then a 200: retried once; the SDK gets the 200, the record two attempts", async () => {
    answers = [429];
    const { data, response } = await client().chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(data.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(await row(response.headers.get("x-loupe-request-id")!)).toEqual({ status: 200, attempts: 2, routed_provider: null, routed_model: null });
  });

  test("the first upstream down: the fallback chain answers, with the key stored for it", async () => {
    const stored = await fetch(`${gateway.url}/api/provider-keys`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ provider: "openai", secret: "sk-proj-FallbackStoredKey0123456789abcdefgh" }) });
    expect(stored.status).toBe(201);
    const groq = new OpenAI({ apiKey: "gsk-client", baseURL: `${gateway.url}/groq/openai/v1`, maxRetries: 0 });
    const { data, response } = await groq.chat.completions.create({ model: "llama-3.3-70b-versatile", messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(data.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toEqual({ path: "/v1/chat/completions", model: "gpt-4o-mini" });
    // Groq down (connection refused, tried twice), then OpenAI.
    expect(await row(response.headers.get("x-loupe-request-id")!)).toEqual({ status: 200, attempts: 3, routed_provider: "openai", routed_model: "gpt-4o-mini" });
  });

  test("PUT /api/settings: a malformed rule is refused naming the field, the rules in force stay; a good change applies to the next call, audited", async () => {
    const before = (await (await fetch(`${gateway.url}/api/settings`)).json()) as { control: { version: number; settings: { retry: { attempts: number } } } };
    expect(before.control.settings.retry.attempts).toBe(2);
    const bad = await fetch(`${gateway.url}/api/settings`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ requestHeaderRules: [{ header: "x-a", action: "replace", value: "b" }] }) });
    expect(bad.status).toBe(400);
    const problem = (await bad.json()) as { error: { message: string; field: string } };
    expect(problem.error.field).toBe("requestHeaderRules[0].find");
    const after = (await (await fetch(`${gateway.url}/api/settings`)).json()) as typeof before;
    expect(after.control).toEqual(before.control);

    const stale = await fetch(`${gateway.url}/api/settings`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ version: before.control.version + 7 }) });
    expect(stale.status).toBe(409);

    const good = await fetch(`${gateway.url}/api/settings`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ version: before.control.version, routing: [{ match: { model: "gpt-cheap" }, to: { provider: "openai", model: "gpt-4o-mini" } }] }),
    });
    expect(good.status).toBe(200);
    expect(((await good.json()) as { version: number }).version).toBe(before.control.version + 1);
    const { response } = await client().chat.completions.create({ model: "gpt-cheap", messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(seen.at(-1)!.model).toBe("gpt-4o-mini");
    expect(await row(response.headers.get("x-loupe-request-id")!)).toMatchObject({ status: 200, routed_provider: "openai", routed_model: "gpt-4o-mini" });
    const audit = (await (await fetch(`${gateway.url}/api/audit`)).json()) as { items: { action: string }[] };
    expect(audit.items.map((a) => a.action)).toContain("settings.update");
  });
});
