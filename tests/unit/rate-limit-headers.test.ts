import { describe, expect, test } from "bun:test";
import { headerObject } from "../../src/http/headers.ts";
import { declareProvider } from "../../src/providers/declare-provider.ts";
import { providerById, providerIds } from "../../src/providers/registry.ts";
import { fixtureHttp } from "../support/fixtures.ts";

/** The `rateLimits` hook: which response headers each provider's answer carries as its rate-limit figures. */
const rateLimitsOf = (id: string, headers: Headers) => providerById(id)!.rateLimits?.(headerObject(headers));

describe("rate-limit headers, as the adapters read them", () => {
  test("a subscription's unified headers: every anthropic-ratelimit-* header, as sent, under its organization", () => {
    const { headers } = fixtureHttp("anthropic/messages-nonstream-unified-ratelimit.CONSTRUCTED.http");
    const snapshot = rateLimitsOf("anthropic", headers)!;
    expect(snapshot.organization).toBe("3f1c2a9e-5b7d-4e2a-9c41-8d0b6e7f2a13");
    expect(snapshot.headers).toEqual({
      "anthropic-ratelimit-unified-status": "allowed",
      "anthropic-ratelimit-unified-5h-status": "allowed",
      "anthropic-ratelimit-unified-5h-reset": "1764601200",
      "anthropic-ratelimit-unified-5h-utilization": "0.42",
      "anthropic-ratelimit-unified-7d-status": "allowed",
      "anthropic-ratelimit-unified-7d-reset": "1765152000",
      "anthropic-ratelimit-unified-7d-utilization": "0.737",
      "anthropic-ratelimit-unified-representative-claim": "five_hour",
      "anthropic-ratelimit-unified-fallback-percentage": "0.5",
      "anthropic-ratelimit-unified-reset": "1764601200",
      "anthropic-ratelimit-unified-overage-status": "rejected",
    });
  });

  test("an API key's 429: the documented request and token limits, no organization, nothing else (retry-after, request-id)", () => {
    const { headers } = fixtureHttp("anthropic/error-rate-limit-429.CONSTRUCTED.http");
    const snapshot = rateLimitsOf("anthropic", headers)!;
    expect(snapshot.organization).toBeUndefined();
    expect(Object.keys(snapshot.headers).length).toBe(12);
    expect(Object.keys(snapshot.headers).every((name) => name.startsWith("anthropic-ratelimit-"))).toBe(true);
    expect(snapshot.headers["anthropic-ratelimit-requests-remaining"]).toBe("0");
    expect(snapshot.headers["anthropic-ratelimit-tokens-reset"]).toBe("2025-08-21T12:40:59Z");
  });

  // platform.openai.com/docs/guides/rate-limits, "Rate limits in headers" (its example values).
  const openAIHeaders = () =>
    new Headers({
      "content-type": "application/json",
      "x-request-id": "req_1",
      "openai-organization": "org-example",
      "X-RateLimit-Limit-Requests": "60",
      "x-ratelimit-limit-tokens": "150000",
      "x-ratelimit-remaining-requests": "59",
      "x-ratelimit-remaining-tokens": "149984",
      "x-ratelimit-reset-requests": "1s",
      "x-ratelimit-reset-tokens": "6m0s",
    });

  test("OpenAI: x-ratelimit-* (names lower-cased), under openai-organization", () => {
    expect(rateLimitsOf("openai", openAIHeaders())).toEqual({
      organization: "org-example",
      headers: {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-limit-tokens": "150000",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-remaining-tokens": "149984",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-reset-tokens": "6m0s",
      },
    });
  });

  test("an OpenAI-compatible provider (the factory's default): x-ratelimit-*, and no organization header it does not send", () => {
    const snapshot = rateLimitsOf("groq", openAIHeaders())!;
    expect(snapshot.organization).toBeUndefined();
    expect(Object.keys(snapshot.headers).length).toBe(6);
    expect(declareProvider({ id: "acme", baseUrl: "https://api.acme.test/v1", dialect: "openai" }).rateLimits?.(headerObject(openAIHeaders()))?.headers).toEqual(snapshot.headers);
  });

  test("an Anthropic-compatible declared provider relays the same headers", () => {
    const { headers } = fixtureHttp("anthropic/messages-nonstream-unified-ratelimit.CONSTRUCTED.http");
    const declared = declareProvider({ id: "relay", baseUrl: "https://relay.test", dialect: "anthropic" });
    expect(declared.rateLimits?.(headerObject(headers))).toEqual(rateLimitsOf("anthropic", headers)!);
  });

  test("an answer without rate-limit headers: undefined, for every provider", () => {
    const plain = new Headers({ "content-type": "application/json", "x-request-id": "req_1", "openai-organization": "org-x", "anthropic-organization-id": "o" });
    for (const id of providerIds) expect({ id, snapshot: rateLimitsOf(id, plain) }).toEqual({ id, snapshot: undefined });
  });

  test("another provider's prefix is not taken", () => {
    expect(rateLimitsOf("anthropic", openAIHeaders())).toBeUndefined();
    const { headers } = fixtureHttp("anthropic/messages-nonstream-unified-ratelimit.CONSTRUCTED.http");
    expect(rateLimitsOf("openai", headers)).toBeUndefined();
  });
});
