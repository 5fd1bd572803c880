import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startClickHouse, type ClickHouseServer } from "../support/clickhouse.ts";
import { join } from "node:path";
import { usdOfNano } from "../../src/sinks/clickhouse/clickhouse-rows.ts";
import { runLoupe, startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { readParquet } from "../support/parquet.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * Part 9 on one gateway: with LOUPE_CLICKHOUSE_URL, every call lands in
 * ClickHouse's `requests` (a real clickhouse-server) beside DuckDB, /livez
 * shows the sink, and bad credentials are a clear start-up error.
 */
let clickhouse: ClickHouseServer;
let upstream: MockUpstream;

beforeAll(async () => {
  [clickhouse, upstream] = await Promise.all([startClickHouse(), startMockUpstream()]);
}, 30_000);
afterAll(async () => {
  await upstream?.stop();
  await clickhouse?.dispose();
});

const chat = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Hello" }] };

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await Bun.sleep(50);
  }
}

describe("one gateway writing to ClickHouse", () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startGateway({
      env: {
        LOUPE_OPENAI_BASE_URL: upstream.url,
        LOUPE_CLICKHOUSE_URL: clickhouse.url,
        LOUPE_CLICKHOUSE_DATABASE: "team_a",
        LOUPE_CLICKHOUSE_USER: clickhouse.user,
        LOUPE_CLICKHOUSE_PASSWORD: clickhouse.password,
      },
    });
  }, 30_000);
  afterAll(async () => {
    await gateway?.stop();
  });
  const ids: string[] = [];

  test("calls through the SDK arrive in ClickHouse; the gateway's SQL reads them there", async () => {
    const client = new OpenAI({ apiKey: "sk-test", baseURL: `${gateway.url}/openai/v1`, maxRetries: 0 });
    for (let i = 0; i < 5; i++) {
      const { response } = await client.chat.completions.create({ ...chat, user: `u-${i}` }).withResponse();
      ids.push(response.headers.get("x-loupe-request-id")!);
    }
    const shared = await until(
      () => clickhouse.rows<{ id: string; cost: string; user_id: string }>("SELECT id, toString(cost_usd) AS cost, user_id FROM team_a.requests ORDER BY id"),
      (rows) => rows.length === 5,
    );
    expect(shared.map((row) => row.id)).toEqual([...ids].sort());
    expect(shared.every((row) => Number(row.cost) > 0)).toBe(true);
    // `loupe sql` through the gateway reads ClickHouse (its SQL, the guard's rules).
    const viaGateway = await gateway.sql("SELECT id, toString(cost_usd) AS cost, user_id FROM requests ORDER BY id");
    expect(viaGateway).toEqual(shared);
    expect(gateway.stderr()).toContain("ClickHouse: records → ");
  });

  test("loupe export --parquet writes ClickHouse's records (every replica's), through the gateway and directly", async () => {
    // A call another replica recorded: in ClickHouse only.
    await clickhouse.query(
      "INSERT INTO team_a.requests (id, started_at_us, duration_ms, provider, method, path, status, cost_nano, tags, streamed) VALUES ('zz-other-replica', 1764590400000000, 12.5, 'openai', 'POST', '/v1/chat/completions', 200, 1500, ['batch'], 1)",
    );
    const local = (await clickhouse.rows<{ id: string; nano: number; streamed: number }>("SELECT id, cost_nano AS nano, streamed FROM team_a.requests WHERE id != 'zz-other-replica' ORDER BY id")).map((row) => ({
      id: row.id,
      cost: usdOfNano(row.nano),
      streamed: row.streamed === 1,
      tags: null,
    }));
    expect(local.length).toBe(5);
    const expected = [...local, { id: "zz-other-replica", cost: "0.000001500", streamed: true, tags: ["batch"] }];
    const viaGateway = tempDir("loupe-ch-parquet-");
    const exported = runLoupe(gateway, ["export", "--parquet", viaGateway]);
    expect([exported.code, exported.stderr]).toEqual([0, ""]);
    expect(JSON.parse(exported.stdout).rows).toBe(expected.length);
    expect(await readParquet(viaGateway, "SELECT id, cost_usd::VARCHAR AS cost, streamed, tags FROM p ORDER BY id")).toEqual(expected);
    // No gateway on this file: the command reads ClickHouse itself.
    const elsewhere = { dir: tempDir(), db: join(tempDir(), "other.duckdb") };
    const direct = tempDir("loupe-ch-parquet-");
    const env = { LOUPE_CLICKHOUSE_URL: clickhouse.url, LOUPE_CLICKHOUSE_DATABASE: "team_a", LOUPE_CLICKHOUSE_USER: clickhouse.user, LOUPE_CLICKHOUSE_PASSWORD: clickhouse.password };
    const run = runLoupe(elsewhere, ["export", "--parquet", direct], { env });
    expect([run.code, run.stderr]).toEqual([0, ""]);
    expect(await readParquet(direct, "SELECT id, cost_usd::VARCHAR AS cost, streamed, tags FROM p ORDER BY id")).toEqual(expected);
    // loupe sql too: through the gateway, and directly.
    const query = "SELECT id, cost_usd, streamed FROM requests WHERE id = 'zz-other-replica'";
    for (const [where, env2] of [[gateway, {}], [elsewhere, env]] as const) {
      const sql = runLoupe(where, ["sql", "--json", query], { env: env2 });
      expect([sql.code, sql.stderr]).toEqual([0, ""]);
      expect(JSON.parse(sql.stdout)).toEqual([{ id: "zz-other-replica", cost_usd: 0.0000015, streamed: 1 }]);
    }
    // And a query outside the records is refused by the ClickHouse guard.
    const refused = runLoupe(gateway, ["sql", "SELECT * FROM system.users"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/system|not allowed|refused/i);
    await clickhouse.query("ALTER TABLE team_a.requests DELETE WHERE id = 'zz-other-replica'");
  });

  test("/livez shows the ClickHouse sink", async () => {
    const livez = (await (await fetch(`${gateway.url}/livez`)).json()) as { clickhouse: Record<string, unknown> };
    expect(livez.clickhouse).toMatchObject({ database: "team_a", connected: true, backlog_segments: 0, last_error: null });
    expect(livez.clickhouse.version).toStartWith("18.16");
    expect(livez.clickhouse.inserted).toBeGreaterThanOrEqual(5);
    expect(JSON.stringify(livez)).not.toContain(clickhouse.password);
    const settings = (await (await fetch(`${gateway.url}/api/settings`)).json()) as { clickhouse: Record<string, unknown> };
    expect(settings.clickhouse).toMatchObject({ url: `${clickhouse.url}/`, database: "team_a", user: "loupe", required: false, state: { connected: true } });
    expect(JSON.stringify(settings)).not.toContain(clickhouse.password);
  });
});

describe("ClickHouse down under load", () => {
  test("calls keep flowing, records wait in the journal (shown in /livez), and every one arrives once when it is back", async () => {
    const gateway = await startGateway({
      env: {
        LOUPE_OPENAI_BASE_URL: upstream.url,
        LOUPE_CLICKHOUSE_URL: clickhouse.url,
        LOUPE_CLICKHOUSE_DATABASE: "outage",
        LOUPE_CLICKHOUSE_USER: clickhouse.user,
        LOUPE_CLICKHOUSE_PASSWORD: clickhouse.password,
        LOUPE_FLUSH_INTERVAL_MS: "100",
      },
    });
    const livez = async () => ((await (await fetch(`${gateway.url}/livez`)).json()) as { clickhouse: { connected: boolean; backlog_segments: number } }).clickhouse;
    try {
      const client = new OpenAI({ apiKey: "sk-test", baseURL: `${gateway.url}/openai/v1`, maxRetries: 0 });
      const ids: string[] = [];
      const burst = async (n: number) => {
        for (let i = 0; i < n; i++) {
          const { response } = await client.chat.completions.create(chat).withResponse();
          expect(response.status).toBe(200);
          ids.push(response.headers.get("x-loupe-request-id")!);
        }
      };
      await burst(20);
      await clickhouse.stop();
      // Calls made while ClickHouse is away, over several flushes.
      for (let round = 0; round < 5; round++) {
        await burst(20);
        await Bun.sleep(150);
      }
      const down = await until(livez, (state) => !state.connected && state.backlog_segments > 0);
      expect(down).toMatchObject({ connected: false });
      expect(down.backlog_segments).toBeGreaterThan(0);
      // DuckDB, the local sink, has them all meanwhile.
      const stored = async () => ((await (await fetch(`${gateway.url}/livez`)).json()) as { records: { stored: number } }).records.stored;
      expect(await until(stored, (n) => n === ids.length)).toBe(ids.length);

      await clickhouse.start();
      // The sink's back-off (doubling from 1 s) decides when it tries again.
      const arrived = await until(
        () => clickhouse.rows<{ id: string }>("SELECT id FROM outage.requests"),
        (rows) => rows.length >= ids.length,
        30_000,
      );
      expect(arrived.map((row) => row.id).sort()).toEqual([...ids].sort());
      expect(await until(livez, (state) => state.backlog_segments === 0)).toMatchObject({ connected: true, backlog_segments: 0 });
    } finally {
      await gateway.stop();
    }
  }, 60_000);
});

describe("retention", () => {
  test("LOUPE_RETENTION_DAYS prunes the shared log too", async () => {
    const day = 86_400_000_000;
    const now = Date.now() * 1000;
    const row = (id: string, at: number) => `('${id}', ${at}, 1, 'openai', 'POST', '/v1/chat/completions', 200)`;
    await clickhouse.query("CREATE DATABASE IF NOT EXISTS kept");
    const gateway = await startGateway({ env: { LOUPE_CLICKHOUSE_URL: clickhouse.url, LOUPE_CLICKHOUSE_DATABASE: "kept", LOUPE_CLICKHOUSE_USER: clickhouse.user, LOUPE_CLICKHOUSE_PASSWORD: clickhouse.password } });
    await gateway.stop();
    await clickhouse.query(`INSERT INTO kept.requests (id, started_at_us, duration_ms, provider, method, path, status) VALUES ${row("old", now - 40 * day)}, ${row("recent", now - 5 * day)}`);
    const pruning = await startGateway({
      env: { LOUPE_RETENTION_DAYS: "30", LOUPE_CLICKHOUSE_URL: clickhouse.url, LOUPE_CLICKHOUSE_DATABASE: "kept", LOUPE_CLICKHOUSE_USER: clickhouse.user, LOUPE_CLICKHOUSE_PASSWORD: clickhouse.password },
    });
    try {
      const left = await until(
        () => clickhouse.rows<{ id: string }>("SELECT id FROM kept.requests ORDER BY id"),
        (rows) => rows.length === 1,
      );
      expect(left).toEqual([{ id: "recent" }]);
    } finally {
      await pruning.stop();
    }
  });
});

describe("bad ClickHouse settings at start", () => {
  test("wrong credentials: a loud warning naming the reason, and the gateway serves on its journal", async () => {
    const gateway = await startGateway({
      env: { LOUPE_OPENAI_BASE_URL: upstream.url, LOUPE_CLICKHOUSE_URL: clickhouse.url, LOUPE_CLICKHOUSE_USER: clickhouse.user, LOUPE_CLICKHOUSE_PASSWORD: "wrong" },
    });
    try {
      expect(gateway.stderr()).toMatch(/WARNING: ClickHouse unreachable: ClickHouse at http:\/\/127\.0\.0\.1:\d+ as user loupe: .*password/i);
      const client = new OpenAI({ apiKey: "sk-test", baseURL: `${gateway.url}/openai/v1`, maxRetries: 0 });
      const answer = await client.chat.completions.create(chat);
      expect(answer.choices.length).toBeGreaterThan(0);
      const livez = (await (await fetch(`${gateway.url}/livez`)).json()) as { clickhouse: { connected: boolean; last_error: string } };
      expect(livez.clickhouse.connected).toBe(false);
      expect(livez.clickhouse.last_error).toMatch(/password/i);
      expect(gateway.stderr()).not.toContain("wrong");
    } finally {
      await gateway.stop();
    }
  });

  test("LOUPE_CLICKHOUSE_REQUIRED=true: the gateway refuses to start, saying why", async () => {
    const started = startGateway({
      env: { LOUPE_CLICKHOUSE_URL: "http://127.0.0.1:1", LOUPE_CLICKHOUSE_REQUIRED: "true" },
    });
    await expect(started).rejects.toThrow(/exited before listening[\s\S]*ClickHouse at http:\/\/127\.0\.0\.1:1 as user default: connection refused/);
  });
});
