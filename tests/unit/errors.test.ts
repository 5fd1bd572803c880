import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config.ts";
import { LoupeError, neutral, renderError, toLoupeError, type LoupeErrorCode } from "../../src/errors.ts";
import { loadPriceBook } from "../../src/pricing/load-prices.ts";
import { anthropicErrors, googleErrors, openAIErrors } from "../../src/providers/dialects.ts";
import { describeRoutes, providerIds } from "../../src/providers/registry.ts";
import { createApp, type AppDeps } from "../../src/server.ts";
import { TEST_BUNDLE } from "../support/app-harness.ts";

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe("one error type, one status table", () => {
  test.each([
    ["invalid_request", 400],
    ["unauthorized", 401],
    ["forbidden", 403],
    ["not_found", 404],
    ["query_timeout", 408],
    ["payload_too_large", 413],
    ["rate_limited", 429],
    ["internal", 500],
    ["upstream_unreachable", 502],
    ["unavailable", 503],
    ["upstream_timeout", 504],
  ] as [LoupeErrorCode, number][])("%s is %d in every dialect", async (code, status) => {
    for (const dialect of [neutral, anthropicErrors, openAIErrors, googleErrors]) {
      const response = renderError(new LoupeError(code, "m"), dialect);
      expect(response.status).toBe(status);
      expect(response.headers.get("x-loupe-error")).toBe(code);
    }
  });

  test("errors from elsewhere map by name: the caller's query mistakes, a query timeout, else internal", () => {
    expect(toLoupeError(named("UnsafeQueryError", "only SELECT")).status).toBe(400);
    expect(toLoupeError(named("InvalidCursorError", "bad cursor")).status).toBe(400);
    expect(toLoupeError(named("QueryTimeoutError", "too slow")).status).toBe(408);
    expect(toLoupeError(new Error("boom"))).toMatchObject({ code: "internal", message: "boom" });
    const own = new LoupeError("not_found", "x");
    expect(toLoupeError(own)).toBe(own);
  });
});

describe("each dialect is the shape its SDKs parse", () => {
  const error = new LoupeError("rate_limited", "slow down");
  test("Anthropic", () => expect(anthropicErrors.body(error)).toEqual({ type: "error", error: { type: "rate_limit_error", message: "slow down" } }));
  test("OpenAI", () => expect(openAIErrors.body(error)).toEqual({ error: { message: "slow down", type: "invalid_request_error", param: null, code: "rate_limited" } }));
  test("Gemini", () => expect(googleErrors.body(error)).toEqual({ error: { code: 429, message: "slow down", status: "RESOURCE_EXHAUSTED" } }));
  test("Loupe's own routes", () => expect(neutral.body(new LoupeError("invalid_request", "limit: too small", { field: "limit" }))).toEqual({ error: { type: "invalid_request", message: "limit: too small", field: "limit" } }));
});

/** The gateway's app with a SQL function that fails as told; nothing else is called. */
function appFailingSql(error: Error) {
  const deps = {
    config: loadConfig({ env: {} }),
    priceBook: loadPriceBook(undefined),
    onInternalError: () => {},
    state: { draining: false, inflight: 0, internalErrors: 0 },
    localKey: "local-key",
    version: "test",
    dashboard: TEST_BUNDLE,
    apiSql: async () => {
      throw error;
    },
  } as unknown as AppDeps;
  return createApp(deps).fetch;
}

describe("the same SQL error gets the same status and shape on /api/sql and /_loupe/sql", () => {
  test.each([
    ["QueryTimeoutError", 408],
    ["UnsafeQueryError", 400],
    ["Error", 500],
  ] as const)("%s → %d", async (name, status) => {
    const fetch = appFailingSql(named(name, `${name} happened`));
    const api = await fetch(new Request("http://loupe.test/api/sql", { method: "POST", headers: { "content-type": "application/json" }, body: '{"sql":"select 1"}' }));
    const local = await fetch(new Request("http://loupe.test/_loupe/sql", { method: "POST", headers: { "content-type": "application/json", "x-loupe-local-key": "local-key" }, body: '{"sql":"select 1"}' }));
    expect([api.status, local.status]).toEqual([status, status]);
    expect(await api.json()).toMatchObject({ error: { message: `${name} happened` } });
    expect(await local.json()).toMatchObject({ error: { message: `${name} happened` } });
  });
});

describe("routes come from the registry", () => {
  const fetch = appFailingSql(new Error("unused"));

  test("GET / lists every provider's route with its SDK base URL", async () => {
    const response = await fetch(new Request("http://loupe.test:8787/"));
    const body = (await response.json()) as { routes: { provider: string; prefix: string; alias: string; upstream: string; sdk_base_url: string }[] };
    expect(body.routes.map((route) => route.provider)).toEqual(providerIds);
    expect(body.routes).toContainEqual(expect.objectContaining({ provider: "groq", prefix: "/groq", alias: "/proxy/groq", upstream: "https://api.groq.com", sdk_base_url: "http://loupe.test:8787/groq/openai/v1" }));
    expect(body.routes).toContainEqual(expect.objectContaining({ provider: "openai", sdk_base_url: "http://loupe.test:8787/openai/v1" }));
  });

  test("a path no provider serves: 404 in Loupe's own shape, listing the prefixes", async () => {
    const response = await fetch(new Request("http://loupe.test/nowhere/v1/chat/completions", { method: "POST" }));
    expect(response.status).toBe(404);
    const body = (await response.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("not_found");
    for (const { prefix } of describeRoutes()) expect(body.error.message).toContain(prefix);
  });
});
