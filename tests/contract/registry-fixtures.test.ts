import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describeSettings } from "../../src/config.ts";
import { providerById, providerIds } from "../../src/providers/registry.ts";
import { EXPECTED, expectedBytes, expectedSchema, FIXTURES, fixtureHttp, listFixtures, USAGE_COLUMNS, type Walk } from "../support/fixtures.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * The promise of every provider × every fixture of its wire traffic: through
 * the real gateway, the client gets the upstream's bytes exactly, the
 * upstream gets the client's, and exactly one record says what the fixture's
 * expected-usage file says (usage, cost, model, finish, error). Public
 * surfaces only: HTTP in, `x-loupe-request-id`, SQL out.
 */

const fixtures = listFixtures();
const folderOf = (fixture: string) => fixture.slice(0, fixture.indexOf("/"));
const isRegistered = (id: string) => providerById(id) !== undefined;
const parsed = new Map(fixtures.map((fixture) => [fixture, expectedSchema.safeParse(readJson(fixture + EXPECTED))]));

function readJson(name: string): unknown {
  const path = join(FIXTURES, name);
  return existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : undefined;
}

const sources = readFileSync(join(FIXTURES, "SOURCES.md"), "utf8");
const walks: [string, Walk][] = [];
for (const [fixture, result] of parsed) if (result.success && result.data.walked) walks.push([fixture, result.data]);
const routeOf = (fixture: string, walk: Walk) => walk.provider ?? folderOf(fixture);

describe("every fixture says what it is", () => {
  test.each(fixtures)("%s: an expected-usage file that parses, and its provenance", (fixture) => {
    const result = parsed.get(fixture)!;
    if (!result.success) throw new Error(`${fixture}${EXPECTED}: ${existsSync(join(FIXTURES, fixture + EXPECTED)) ? result.error.message : "missing"}`);
    expect(existsSync(join(FIXTURES, `${fixture}.source.txt`))).toBe(true);
    expect({ fixture, inSources: sources.includes(`\`${fixture}\``) }).toEqual({ fixture, inSources: true });
  });

  test("no expected-usage file without its fixture", () => {
    const orphans = readdirSync(FIXTURES, { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(EXPECTED))
      .filter((file) => !existsSync(join(FIXTURES, file.slice(0, -EXPECTED.length))));
    expect(orphans).toEqual([]);
  });

  test("a fixture is set aside as unregistered, or walked through another provider, only while its folder's provider is not registered", () => {
    for (const [fixture, result] of parsed) {
      if (!result.success) continue;
      const folder = folderOf(fixture);
      if (!result.data.walked && result.data.kind === "unregistered-provider") expect({ fixture, registered: isRegistered(folder) }).toEqual({ fixture, registered: false });
      if (result.data.walked && result.data.provider !== undefined) {
        expect({ fixture, registered: isRegistered(folder) }).toEqual({ fixture, registered: false });
        expect({ fixture, via: isRegistered(result.data.provider) }).toEqual({ fixture, via: true });
      }
      if (result.data.walked) expect({ fixture, registered: isRegistered(routeOf(fixture, result.data)) }).toEqual({ fixture, registered: true });
    }
  });

  test("every registered provider has walked fixtures", () => {
    const walked = new Set(walks.map(([fixture, walk]) => routeOf(fixture, walk)));
    expect(providerIds.filter((id) => !walked.has(id))).toEqual([]);
  });
});

describe("the registry's promises", () => {
  // An API on the user's own machine (Ollama) is reached over plain HTTP on loopback; every other default is HTTPS.
  test.each(providerIds)("%s: served at /<id>, LOUPE_<ID>_BASE_URL and --<id>-base-url override an https (or local http) default", (id) => {
    const provider = providerById(id)!;
    expect(provider.id).toBe(id);
    expect(provider.route.prefix).toBe(`/${id}`);
    expect(provider.upstream.baseUrl).toMatch(/^(https:\/\/[^/]+|http:\/\/127\.0\.0\.1:\d+)(\/[^/]+)*[^/]$/);
    expect(describeSettings()).toContainEqual({ flag: `--${id}-base-url`, env: `LOUPE_${id.toUpperCase()}_BASE_URL` });
  });
});

interface Outcome {
  status: number;
  headers: Headers;
  bytes: Uint8Array;
  id: string | null;
  sentBody: Uint8Array;
  upstream: { path: string; body: Uint8Array } | undefined;
}

let mock: MockUpstream;
let gw: Gateway;
const outcomes = new Map<string, Outcome>();
const records = new Map<string, Record<string, unknown>[]>();

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: Object.fromEntries(providerIds.map((id) => [`LOUPE_${id.toUpperCase()}_BASE_URL`, mock.url])) });
  for (const [fixture, walk] of walks) {
    const { method, path, body, bodyFixture } = walk.request;
    const sentBody = bodyFixture ? new Uint8Array(readFileSync(join(FIXTURES, bodyFixture))) : new TextEncoder().encode(body === undefined ? "" : JSON.stringify(body));
    const headers: Record<string, string> = { "x-mock-fixture": fixture, "x-mock-status": String(walk.status) };
    if (walk.frame) headers["x-mock-frame"] = walk.frame;
    if (method === "POST") headers["content-type"] = "application/json";
    const seen = mock.requests.length;
    const response = await fetch(`${gw.url}/${routeOf(fixture, walk)}${path}`, { method, headers, body: method === "POST" ? sentBody : undefined });
    const bytes = new Uint8Array(await response.arrayBuffer());
    const captured = mock.requests[seen];
    outcomes.set(fixture, {
      status: response.status,
      headers: response.headers,
      bytes,
      id: response.headers.get("x-loupe-request-id"),
      sentBody,
      upstream: captured && { path: new URL(captured.url).pathname + new URL(captured.url).search, body: captured.body },
    });
  }
  const ids = [...outcomes.values()].map((o) => o.id).filter((id) => id !== null);
  // Records are made after the response ends: wait until every call has one (or give up after a few seconds).
  for (let attempt = 0; attempt < 50; attempt++) {
    const rows = await gw.sql(`SELECT * FROM requests WHERE id IN (${ids.map((id) => `'${id}'`).join(", ")})`);
    records.clear();
    for (const row of rows) records.set(row.id, [...(records.get(row.id) ?? []), row]);
    if (records.size === ids.length) break;
    await Bun.sleep(100);
  }
});

afterAll(async () => {
  await gw?.stop();
  await mock?.stop();
});

/** The expected cost at the record's UTC time of day (some prices change with it). */
function costAt(expected: Walk["cost_usd"], startedAt: string): string | null {
  if (expected === null || typeof expected === "string") return expected;
  const minute = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  const now = minute(/ (\d\d:\d\d)/.exec(startedAt)![1]!);
  for (const [window, cost] of Object.entries(expected)) {
    const [from, to] = window.split("-").map(minute) as [number, number];
    if (from <= to ? now >= from && now < to : now >= from || now < to) return cost;
  }
  throw new Error(`no cost window holds ${startedAt}`);
}

const count = (value: unknown) => (value === null || value === undefined ? null : Number(value));

describe("registry × fixtures through the gateway", () => {
  test.each(walks)("%s", (fixture, walk) => {
    const route = routeOf(fixture, walk);
    const outcome = outcomes.get(fixture)!;
    // Bytes in equal bytes out, both ways.
    expect(outcome.status).toBe(walk.status);
    expect(Buffer.from(outcome.bytes).equals(Buffer.from(expectedBytes(fixture, walk)))).toBe(true);
    expect(outcome.upstream?.path).toBe(walk.request.path);
    if (walk.request.method === "POST") expect(Buffer.from(outcome.upstream!.body).equals(Buffer.from(outcome.sentBody))).toBe(true);
    if (fixture.endsWith(".http")) {
      for (const [name, value] of fixtureHttp(fixture).headers) if (name !== "content-length") expect({ name, value: outcome.headers.get(name) }).toEqual({ name, value });
    }
    // Exactly one record, saying what the expected file says.
    expect(outcome.id).toBeString();
    const rows = records.get(outcome.id!) ?? [];
    expect(rows.length).toBe(1);
    const row = rows[0]!;
    expect({ provider: row.provider, path: row.path, status: row.status }).toEqual({ provider: route, path: `/${route}${walk.request.path}`, status: walk.status });
    const usage = Object.fromEntries(Object.entries(USAGE_COLUMNS).map(([key, column]) => [key, count(row[column])]));
    const expectedUsage = Object.fromEntries(Object.keys(USAGE_COLUMNS).map((key) => [key, walk.usage?.[key as keyof typeof USAGE_COLUMNS] ?? null]));
    expect(usage).toEqual(expectedUsage);
    expect(row.cost_usd).toBe(costAt(walk.cost_usd, String(row.started_at)));
    const columns = Object.fromEntries(Object.keys(walk.record).map((key) => [key, row[key]]));
    expect(columns).toEqual(walk.record);
    if (walk.ratelimit !== undefined) expect(row.ratelimit === null ? null : JSON.parse(String(row.ratelimit))).toEqual(walk.ratelimit);
  });

  test("no other records", async () => {
    const rows = await gw.sql<{ n: number }>("SELECT count(*)::INTEGER AS n FROM requests");
    expect(rows).toEqual([{ n: walks.length }]);
  });
});
