import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { describeRoutes, providerIds } from "../../src/providers/registry.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * `/proxy/<id>/…` is `/<id>/…` under another name, for every registered
 * provider (the seed's paths: `/proxy/openai/v1`, `/proxy/anthropic`,
 * `/proxy/gemini/v1beta`, `/proxy/mistral/v1`, `/proxy/openrouter/v1`, …):
 * the same request through either gives the same answer, the same upstream
 * request and a record under the same provider. The walk is over the
 * registry, so providers added later are covered without touching this file.
 */
let mock: MockUpstream;
let gw: Gateway;

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: Object.fromEntries(providerIds.map((id) => [`LOUPE_${id.toUpperCase()}_BASE_URL`, mock.url])) });
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

interface Seen {
  status: number;
  body: string;
  id: string | null;
  upstream: { path: string; body: string } | undefined;
}

const body = JSON.stringify({ model: "alias-probe", messages: [{ role: "user", content: "hi" }], max_tokens: 1 });

async function send(path: string): Promise<Seen> {
  const seen = mock.requests.length;
  const response = await fetch(`${gw.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(10_000) });
  const captured = mock.requests[seen];
  return {
    status: response.status,
    body: await response.text(),
    id: response.headers.get("x-loupe-request-id"),
    upstream: captured && { path: new URL(captured.url).pathname + new URL(captured.url).search, body: new TextDecoder().decode(captured.body) },
  };
}

async function recordOf(id: string | null) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const [row] = await gw.sql(`select provider, status, model from requests where id = '${id}'`);
    if (row) return row;
    await Bun.sleep(100);
  }
  throw new Error(`no record ${id}`);
}

describe("/proxy/<id> is an alias of /<id>", () => {
  test("the registry mounts an alias for every provider", () => {
    expect(describeRoutes().map((route) => route.alias)).toEqual(providerIds.map((id) => `/proxy/${id}`));
  });

  test.each(describeRoutes().map((route) => [route.provider, route] as const))("%s", async (id, route) => {
    const below = `/${route.examplePath}?probe=1`;
    const direct = await send(`${route.prefix}${below}`);
    const aliased = await send(`${route.alias}${below}`);
    expect({ status: aliased.status, body: aliased.body }).toEqual({ status: direct.status, body: direct.body });
    expect(aliased.upstream).toEqual(direct.upstream);
    if (aliased.upstream) expect(aliased.upstream.path).toBe(below);
    const [viaPrefix, viaAlias] = [await recordOf(direct.id), await recordOf(aliased.id)];
    expect(viaAlias).toEqual(viaPrefix);
    expect(viaAlias.provider).toBe(id);
  });
});
