import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RateLimitsSchema } from "../../src/api/schemas.ts";
import { fixtureHttp } from "../support/fixtures.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * The plan meters a gateway otherwise hides: calls through the running
 * gateway whose upstream answers with rate-limit headers, then
 * `/api/stats/ratelimits` gives back exactly what was sent — per bucket, and
 * the latest per organization, after the utilization changed.
 */
const TOKEN = "test-admin-token";
const ORG = "3f1c2a9e-5b7d-4e2a-9c41-8d0b6e7f2a13";
const unified = Object.fromEntries(
  [...fixtureHttp("anthropic/messages-nonstream-unified-ratelimit.CONSTRUCTED.http").headers].filter(([name]) => name.startsWith("anthropic-ratelimit-") || name === "anthropic-organization-id"),
);
const later = { ...unified, "anthropic-ratelimit-unified-5h-utilization": "0.55", "anthropic-ratelimit-unified-7d-utilization": "0.74", "anthropic-ratelimit-unified-5h-status": "allowed_warning" };
const openAI = { "openai-organization": "org-loupe-test", "x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "59", "x-ratelimit-reset-requests": "1s" };

let mock: MockUpstream;
let gw: Gateway;
const started = new Date(Date.now() - 1000).toISOString();

async function call(provider: "anthropic" | "openai", headers: Record<string, string> | undefined): Promise<void> {
  const path = provider === "anthropic" ? "/anthropic/v1/messages" : "/openai/v1/chat/completions";
  const response = await fetch(`${gw.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test", "x-api-key": "sk-ant-test", ...(headers ? { "x-mock-headers": JSON.stringify(headers) } : {}) },
    body: JSON.stringify({ model: provider === "anthropic" ? "claude-sonnet-4-5-20250929" : "gpt-4o-mini", max_tokens: 16, messages: [{ role: "user", content: "Hi" }] }),
  });
  await response.arrayBuffer();
  expect(response.status).toBe(200);
  if (headers) for (const [name, value] of Object.entries(headers)) expect(response.headers.get(name)).toBe(value);
}

async function ratelimits(query: string) {
  const response = await fetch(`${gw.url}/api/stats/ratelimits?${query}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`${response.status} ${JSON.stringify(body)}`);
  return RateLimitsSchema.parse(body);
}

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_ADMIN_TOKEN: TOKEN, LOUPE_ANTHROPIC_BASE_URL: mock.url, LOUPE_OPENAI_BASE_URL: mock.url } });
  await call("anthropic", unified);
  await call("openai", openAI);
  await call("anthropic", undefined);
  await Bun.sleep(5);
  await call("anthropic", later);
  for (let attempt = 0; attempt < 100; attempt++) {
    const [row] = await gw.sql<{ n: number }>("SELECT count(*)::INTEGER AS n FROM requests");
    if (row?.n === 4) break;
    await Bun.sleep(100);
  }
});

afterAll(async () => {
  await gw?.stop();
  await mock?.stop();
});

const numbersWherePossible = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, /^[\d.]+$/.test(value) ? Number(value) : value]));
const withoutOrg = ({ "anthropic-organization-id": _, ...rest }: Record<string, string>) => rest;
const withoutOpenAIOrg = ({ "openai-organization": _, ...rest }: Record<string, string>) => rest;

describe("GET /api/stats/ratelimits through the gateway", () => {
  test("the record keeps the headers sent; a call without them has NULL", async () => {
    const rows = await gw.sql<{ provider: string; ratelimit: string | null }>("SELECT provider, ratelimit::VARCHAR AS ratelimit FROM requests ORDER BY started_at");
    expect(rows.map((r) => (r.ratelimit === null ? null : JSON.parse(r.ratelimit)))).toEqual([
      { organization: ORG, headers: withoutOrg(unified) },
      { organization: "org-loupe-test", headers: withoutOpenAIOrg(openAI) },
      null,
      { organization: ORG, headers: withoutOrg(later) },
    ]);
  });

  test("latest per organization: the second call's utilization, as numbers, with the 5h and 7d meters", async () => {
    const { latest } = await ratelimits(`from=${encodeURIComponent(started)}&bucket=day`);
    expect(latest.map((l) => [l.provider, l.organization])).toEqual([["anthropic", ORG], ["openai", "org-loupe-test"]]);
    const plan = latest[0]!;
    expect(plan.headers).toEqual(numbersWherePossible(withoutOrg(later)));
    expect(plan.meters).toEqual({
      "5h": { utilization: 0.55, status: "allowed_warning", reset: 1764601200, reset_at: "2025-12-01T15:00:00.000Z" },
      "7d": { utilization: 0.74, status: "allowed", reset: 1765152000, reset_at: "2025-12-08T00:00:00.000Z" },
    });
    expect(plan.key_ids).toEqual([]);
    expect(latest[1]!.headers).toEqual({ "x-ratelimit-limit-requests": 60, "x-ratelimit-remaining-requests": 59, "x-ratelimit-reset-requests": "1s" });
    expect(latest[1]!.meters).toEqual({});
  });

  test("per bucket: each header's latest value in the bucket; the provider filter keeps one provider", async () => {
    const { bucket, points } = await ratelimits("bucket=day&provider=anthropic");
    expect(bucket).toBe("day");
    expect(points.length).toBe(1);
    expect(points[0]).toMatchObject({ provider: "anthropic", organization: ORG, key_id: null, headers: numbersWherePossible(withoutOrg(later)) });
  });

  test("a range before the calls: nothing; a bad bucket: 400 naming it", async () => {
    expect(await ratelimits("to=2020-01-01T00:00:00Z")).toEqual({ bucket: "hour", points: [], latest: [] });
    const response = await fetch(`${gw.url}/api/stats/ratelimits?bucket=week`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain("bucket");
  });
});
