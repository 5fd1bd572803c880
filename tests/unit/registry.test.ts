import { describe, expect, test } from "bun:test";
import { LoupeError } from "../../src/errors.ts";
import { anthropicErrors, openAIErrors } from "../../src/providers/dialects.ts";
import { ollamaErrors } from "../../src/providers/ollama.ts";
import { createRegistry, matchRoute, providerById } from "../../src/providers/registry.ts";

/** The registry the gateway and the recorder share: registered providers, declared ones joined at start, dialects by path. */
const headers = new Headers();
const declared = createRegistry([
  { id: "acme", baseUrl: "https://api.acme.test", dialect: "openai", pricingId: "together" },
  { id: "acmev", baseUrl: "https://api.acme.test/v1", dialect: "openai" },
  { id: "claudish", baseUrl: "https://claudish.test/anthropic", dialect: "anthropic" },
]);

describe("declared providers join the registered ones", () => {
  test("routed at /<id> and /proxy/<id>, found by the id their records name, priced under pricingId (else the id)", () => {
    const match = declared.matchRoute("POST", "/acme/v1/chat/completions", headers)!;
    expect(match.adapter.id).toBe("acme");
    expect(match.upstreamPath).toBe("/v1/chat/completions");
    expect(match.adapter.endpoint("POST", match.upstreamPath)?.operation).toBe("chat");
    expect(declared.matchRoute("POST", "/proxy/claudish/v1/messages", headers)?.adapter.id).toBe("claudish");
    expect(declared.providerById("acme")?.upstream.baseUrl).toBe("https://api.acme.test");
    expect(declared.pricingIdOf("acme")).toBe("together");
    expect(declared.pricingIdOf("claudish")).toBe("claudish");
    // Registered ones are still there; the module's own registry knows no declared provider.
    expect(declared.matchRoute("POST", "/ollama/api/chat", headers)?.adapter.id).toBe("ollama");
    expect(providerById("acme")).toBeUndefined();
    expect(matchRoute("POST", "/acme/v1/chat/completions", headers)).toBeUndefined();
  });

  test("dialect openai: OpenAI's endpoints and errors; anthropic: the Messages endpoints and Anthropic's errors", () => {
    const acme = declared.providerById("acme")!;
    expect(acme.dialect).toBe(openAIErrors);
    expect(acme.endpoint("POST", "/v1/embeddings")?.operation).toBe("embeddings");
    const claudish = declared.providerById("claudish")!;
    expect(claudish.dialect).toBe(anthropicErrors);
    expect(claudish.endpoint("POST", "/v1/messages")?.content).toBeDefined();
    expect(claudish.endpoint("POST", "/v1/messages/count_tokens")?.billable).toBe(false);
    expect(claudish.endpoint("POST", "/v1/chat/completions")).toBeUndefined();
  });

  test("routes describe the SDK base URL: /v1 below the prefix, unless the declared base URL ends in its version", () => {
    const routes = Object.fromEntries(declared.describeRoutes().map((route) => [route.provider, route]));
    expect(routes.acme).toMatchObject({ prefix: "/acme", sdkPath: "/acme/v1", upstream: "https://api.acme.test" });
    expect(routes.acmev).toMatchObject({ sdkPath: "/acmev" });
    expect(routes.claudish).toMatchObject({ sdkPath: "/claudish", examplePath: "v1/messages" });
  });

  test("an id already served is refused", () => {
    expect(() => createRegistry([{ id: "groq", baseUrl: "https://x.test", dialect: "openai" }])).toThrow(/already registered/);
    expect(() => createRegistry([{ id: "proxy", baseUrl: "https://x.test", dialect: "openai" }])).toThrow(/path the gateway serves itself/);
  });
});

describe("a provider with another dialect for part of its API", () => {
  test("Ollama: its native errors on /api, OpenAI's on /v1 (the same provider otherwise)", () => {
    const native = matchRoute("POST", "/ollama/api/chat", headers)!.adapter;
    const compatible = matchRoute("POST", "/ollama/v1/chat/completions", headers)!.adapter;
    expect(native.dialect).toBe(ollamaErrors);
    expect(compatible.dialect).toBe(openAIErrors);
    expect(compatible.id).toBe("ollama");
    expect(compatible.freeUnlessPriced).toBe(true);
    // One object per provider and dialect, whichever way it is reached.
    expect(matchRoute("GET", "/proxy/ollama/v1/models", headers)!.adapter).toBe(compatible);
    expect(native.dialect.body(new LoupeError("upstream_unreachable", "down"))).toEqual({ error: "down" });
  });
});
