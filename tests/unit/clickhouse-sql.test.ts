import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { toClickHouseRow } from "../../src/sinks/clickhouse/clickhouse-rows.ts";
import { createClickHouseSql, createClickHouseSqlSource, type ClickHouseSqlSource } from "../../src/sinks/clickhouse/clickhouse-sql.ts";
import { vetClickHouseQuery } from "../../src/sinks/clickhouse/clickhouse-sql-guard.ts";
import { openClickHouseStore, type ClickHouseStore } from "../../src/sinks/clickhouse/clickhouse-store.ts";
import { openDuckDBStore, type DuckDBStore } from "../../src/sinks/duckdb/duckdb-store.ts";
import { QueryTimeoutError, UnsafeQueryError, type QueryResult } from "../../src/sinks/sql-errors.ts";
import { analyticsRecords } from "../support/analytics-records.ts";
import { openChdbLog, type ChdbLog } from "../support/chdb.ts";
import { startClickHouse, type ClickHouseServer } from "../support/clickhouse.ts";
import { tempDir } from "../support/gateway.ts";

/**
 * Read-only SQL over the log in ClickHouse (`/api/sql`, `loupe sql`): an
 * attack corpus against Debian's clickhouse-server 18.16, each refused and
 * shown harmless (the records, a table of another database and the file
 * system as they were), the server's own `readonly=1` refusing the same
 * without the guard, and ordinary analytics queries answered as DuckDB
 * answers them, on 18.16 and on today's ClickHouse (chdb).
 */

const records = analyticsRecords();
const SECRET = "s3cret-canary";
const outDir = tempDir("loupe-ch-sql-");
const OUTFILE = join(outDir, "stolen.csv");

let server: ClickHouseServer;
let store: ClickHouseStore;
let source: ClickHouseSqlSource & { close(): Promise<void> };
let sql: ReturnType<typeof createClickHouseSql>;
let duck: DuckDBStore;
let chdb: ChdbLog;

beforeAll(async () => {
  server = await startClickHouse();
  store = await openClickHouseStore({ url: server.url, database: "loupe", user: server.user, password: server.password });
  await store.insert(records.map(toClickHouseRow));
  // A replay that slipped through: queries still see each record once.
  await store.insert(records.slice(0, 10).map(toClickHouseRow));
  // What an attacker would be after: a table in another database, and one beside `requests`.
  await server.query("CREATE DATABASE IF NOT EXISTS other");
  for (const table of ["other.secrets", "loupe.secrets", "default.secrets"]) {
    await server.query(`CREATE TABLE ${table} (x String) ENGINE = Memory`);
    await server.query(`INSERT INTO ${table} VALUES ('${SECRET}')`);
  }
  source = createClickHouseSqlSource({ url: server.url, database: "loupe", user: server.user, password: server.password });
  sql = createClickHouseSql(source);
  duck = await openDuckDBStore(":memory:");
  await duck.append(records.map((r) => JSON.stringify(r)).join("\n"));
  chdb = openChdbLog();
  chdb.insert(records);
  chdb.insert(records.slice(0, 10));
});

afterAll(async () => {
  await chdb?.close();
  await source?.close();
  await store?.close();
  await server?.dispose();
  await duck?.close();
});

const LIMITS = { maxRows: 1000, timeoutMs: 10_000 };

/** Queries an attacker might send, by what they try. */
const ATTACKS: [string, string][] = [
  ["write", "INSERT INTO requests SELECT * FROM requests"],
  ["write", "DROP TABLE requests"],
  ["write", "ALTER TABLE requests DELETE WHERE 1"],
  ["write", "TRUNCATE TABLE requests"],
  ["write", "OPTIMIZE TABLE requests FINAL"],
  ["write", "CREATE TABLE x AS requests"],
  ["write", "RENAME TABLE requests TO gone"],
  ["write", "DETACH TABLE requests"],
  ["write", "KILL QUERY WHERE 1"],
  ["write", "SYSTEM SHUTDOWN"],
  ["write", "WITH 1 AS x INSERT INTO requests SELECT * FROM requests"],
  ["two statements", "SELECT 1; DROP TABLE requests"],
  ["two statements", "SELECT 1;DROP TABLE requests;"],
  ["settings", "SET readonly = 0"],
  ["settings", "SELECT * FROM requests SETTINGS readonly = 0"],
  ["settings", "USE other"],
  ["output", "SELECT * FROM requests INTO OUTFILE '" + OUTFILE + "'"],
  ["output", "SELECT * FROM requests FORMAT CSV"],
  ["metadata", "DESCRIBE requests"],
  ["metadata", "SHOW TABLES"],
  ["metadata", "EXPLAIN SELECT 1"],
  ["system tables", "SELECT * FROM system.tables"],
  ["system tables", "SELECT name FROM system.databases"],
  ["system tables", 'SELECT * FROM "system"."settings"'],
  ["system tables", "SELECT * FROM `system` . `users`"],
  ["system tables", "SELECT * FROM (SELECT * FROM system.one)"],
  ["other database", "SELECT * FROM other.secrets"],
  ["other database", "SELECT * FROM `other`.`secrets`"],
  ["other table", "SELECT * FROM secrets"],
  ["other table", "SELECT * FROM `secrets`"],
  ["other table", "SELECT * FROM requests JOIN secrets ON 1 = 1"],
  ["other table", "SELECT * FROM requests ANY LEFT JOIN other.secrets USING x"],
  ["other table", "SELECT * FROM requests, secrets"],
  ["other table", "SELECT * FROM requests AS r , other.secrets AS s"],
  ["other table", "SELECT * FROM (SELECT 1) AS a, secrets"],
  ["other table", "SELECT * FROM requests UNION ALL SELECT * FROM secrets"],
  ["other table", "SELECT (SELECT x FROM other.secrets)"],
  ["other table", "WITH (SELECT any(x) FROM secrets) AS s SELECT s"],
  ["other table", "SELECT * FROM requests WHERE id IN (SELECT x FROM secrets)"],
  ["other table", "SELECT * FROM (secrets)"],
  ["IN a table", `SELECT '${SECRET}' IN secrets`],
  ["IN a table", `SELECT '${SECRET}' IN (secrets)`],
  ["IN a table", `SELECT '${SECRET}' IN ((secrets))`],
  ["IN a table", `SELECT '${SECRET}' IN (secrets AS s)`],
  ["IN a table", `SELECT '${SECRET}' IN other.secrets`],
  ["IN a table", `SELECT '${SECRET}' NOT IN (1, secrets)`],
  ["IN a table", `SELECT in('${SECRET}', secrets)`],
  ["IN a table", `SELECT globalIn('${SECRET}', secrets)`],
  ["IN a table", `SELECT notIn('${SECRET}', secrets)`],
  ["table by name", "SELECT joinGet('other.secrets', 'x', 1)"],
  ["table by name", "SELECT dictGetString('d', 'x', toUInt64(1))"],
  ["table by name", "SELECT hasColumnInTable('other', 'secrets', 'x')"],
  ["table function", "SELECT * FROM url('http://127.0.0.1:1/x', CSV, 'a String')"],
  ["table function", "SELECT * FROM file('/etc/passwd', CSV, 'a String')"],
  ["table function", "SELECT * FROM remote('127.0.0.1', other.secrets)"],
  ["table function", "SELECT * FROM merge('other', '.*')"],
  ["table function", "SELECT * FROM numbers(10)"],
  ["table function", "SELECT * FROM input('x String')"],
  ["table function", "SELECT * FROM mysql('127.0.0.1:3306', 'db', 't', 'u', 'p')"],
  ["table function", "SELECT * FROM jdbc('jdbc:x', 't')"],
  ["table function", "SELECT * FROM s3('http://127.0.0.1:1/b/k', 'CSV', 'a String')"],
  ["table function", "SELECT * FROM hdfs('hdfs://127.0.0.1:1/x', 'CSV', 'a String')"],
  ["table function", "SELECT * FROM view(SELECT * FROM other.secrets)"],
  ["table function", "SELECT * FROM requests JOIN url('http://127.0.0.1:1/', CSV, 'id String') USING id"],
  ["table function", "SELECT `file`('/etc/passwd')"],
  ["comments", "SELECT 1 /* */ ; DROP TABLE requests"],
  ["comments", "SELECT 1 -- x\n; DROP TABLE requests"],
  ["comments", "SELECT * FROM requests /* /* */ , secrets -- */"],
  ["comments", "SELECT * FROM/**/other.secrets"],
  ["comments", "SELECT * FROM -- x\n other.secrets"],
  ["comments", "SELECT 1 /* unterminated"],
  ["comments", "SELECT 1 # a newer release's comment\n, x FROM secrets"],
  ["quoting", "SELECT 'a\\\\'; DROP TABLE requests; --'"],
  ["quoting", "SELECT * FROM `other`.secrets WHERE 'x' = '\\''"],
  ["quoting", "SELECT \"unterminated FROM requests"],
  ["quoting", "SELECT $$x$$"],
  ["quoting", "SELECT {x:UInt8}"],
  ["quoting", "ＳＥＬＥＣＴ 1"],
  ["quoting", "SELECT 1\u0000; DROP TABLE requests"],
  ["FINAL", "SELECT * FROM requests FINAL"],
  ["functions", "SELECT sleep(3)"],
  ["functions", "SELECT sleepEachRow(1) FROM requests"],
  ["functions", "SELECT getSetting('max_memory_usage')"],
  ["functions", "SELECT hostName()"],
  ["functions", "SELECT filesystemAvailable()"],
  ["nothing", ""],
  ["nothing", " ; "],
];

describe("the attack corpus, against ClickHouse 18.16", () => {
  test.each(ATTACKS)("%s: %s — refused", async (_, attack) => {
    // By the guard itself, before anything is sent (the server's readonly=1 is the layer behind it, tested below).
    expect(() => vetClickHouseQuery(attack, { table: source.table, views: new Map() })).toThrow(UnsafeQueryError);
    const answer = await sql.queryReadOnly(attack, LIMITS).then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    expect(answer).toEqual({ error: expect.any(UnsafeQueryError) });
    expect(String((answer as { error: Error }).error.message)).not.toContain(SECRET);
  });

  test("…and harmless: the records, the other tables and the file system as they were", async () => {
    const [counts] = await server.rows<{ n: string; tables: string }>(
      "SELECT (SELECT count() FROM loupe.requests) AS n, (SELECT count() FROM system.tables WHERE database IN ('loupe', 'other', 'default')) AS tables",
    );
    expect(Number(counts!.n)).toBe(records.length + 10);
    expect(Number(counts!.tables)).toBe(4);
    const secrets = await server.rows<{ x: string }>("SELECT x FROM other.secrets");
    expect(secrets).toEqual([{ x: SECRET }]);
    expect(existsSync(OUTFILE)).toBe(false);
  });

  test("without the guard, the settings alone (readonly=1 last) still refuse writes, SET and table functions", async () => {
    // Over HTTP as the client sends them: the settings as URL parameters, in order.
    const raw = async (query: string) => {
      const params = new URLSearchParams({ user: server.user, password: server.password, max_execution_time: "5", readonly: "1" });
      const response = await fetch(`${server.url}/?${params}`, { method: "POST", body: query });
      return { ok: response.ok, text: await response.text() };
    };
    for (const attack of ["INSERT INTO loupe.requests SELECT * FROM loupe.requests", "DROP TABLE loupe.requests", "SELECT * FROM url('http://127.0.0.1:1/', CSV, 'a String')", "SELECT * FROM numbers(3)", "SET readonly = 0", "SELECT 1 SETTINGS readonly = 0", "CREATE TABLE loupe.x (a UInt8) ENGINE = Memory"]) {
      expect({ attack, ...(await raw(attack)) }).toEqual({ attack, ok: false, text: expect.stringMatching(/^Code: 164, .*readonly mode/) });
    }
    const [row] = await server.rows<{ n: string }>("SELECT count() AS n FROM loupe.requests");
    expect(Number(row!.n)).toBe(records.length + 10);
  });
});

describe("what the guard lets through, and what it runs", () => {
  const rewrite = { table: "`loupe`.requests", views: new Map([["sessions", "SELECT 1 AS one"]]) };
  test("a backslash escapes a quote, as ClickHouse reads it: one string, nothing run after it", async () => {
    expect((await sql.queryReadOnly("SELECT 'a\\'; DROP TABLE requests; --' AS s", LIMITS)).rows).toEqual([["a'; DROP TABLE requests; --"]]);
    const [row] = await server.rows<{ n: string }>("SELECT count() AS n FROM system.tables WHERE database = 'loupe' AND name = 'requests'");
    expect(Number(row!.n)).toBe(1);
  });

  test("requests becomes the log's table read with FINAL, after its alias; a view its subquery; comments and the last ; go", () => {
    expect(vetClickHouseQuery("select count() from requests -- all\n;", rewrite)).toBe("select count() from `loupe`.requests AS requests FINAL");
    expect(vetClickHouseQuery("SELECT r.id FROM REQUESTS AS r WHERE 1", rewrite)).toBe("SELECT r.id FROM `loupe`.requests AS r FINAL WHERE 1");
    expect(vetClickHouseQuery("SELECT s.id FROM requests s JOIN requests t USING id", rewrite)).toBe("SELECT s.id FROM `loupe`.requests s FINAL JOIN `loupe`.requests t FINAL USING id");
    expect(vetClickHouseQuery("SELECT * FROM sessions /* the view */ LIMIT 1", rewrite)).toBe("SELECT * FROM (SELECT 1 AS one) AS sessions LIMIT 1");
    expect(vetClickHouseQuery("SELECT extract(DAY FROM started_at), 'FROM x' FROM requests ARRAY JOIN tags AS t, [1] AS u", rewrite)).toBe(
      "SELECT extract(DAY FROM started_at), 'FROM x' FROM `loupe`.requests AS requests FINAL ARRAY JOIN tags AS t, [1] AS u",
    );
  });
});

/** The same question in each dialect, and the answer's rows as plain values. */
const QUESTIONS: [string, string, string][] = [
  ["calls per provider", "SELECT provider, count() AS n FROM requests GROUP BY provider ORDER BY provider", "SELECT provider, count(*) AS n FROM requests GROUP BY 1 ORDER BY 1"],
  [
    "exact cost per provider",
    "SELECT provider, toString(sum(cost_usd)) AS cost FROM requests GROUP BY provider ORDER BY provider",
    "SELECT provider, sum(cost_usd)::VARCHAR AS cost FROM requests GROUP BY 1 ORDER BY 1",
  ],
  ["calls per UTC day", "SELECT toString(toDate(started_at)) AS day, count() AS n FROM requests GROUP BY day ORDER BY day", "SELECT started_at::DATE::VARCHAR AS day, count(*) AS n FROM requests GROUP BY 1 ORDER BY 1"],
  [
    "tokens of the errors",
    "SELECT count() AS n, sum(input_tokens) AS i, sum(output_tokens) AS o FROM requests WHERE status >= 400 OR error_type IS NOT NULL",
    "SELECT count(*) AS n, sum(input_tokens)::BIGINT AS i, sum(output_tokens)::BIGINT AS o FROM requests WHERE status >= 400 OR error_type IS NOT NULL",
  ],
  [
    "the sessions view",
    "SELECT session_id, calls, errors, unpriced_calls, input_tokens, output_tokens, toString(cost_usd) AS cost, providers, models FROM sessions ORDER BY session_id",
    "SELECT session_id, calls, errors, unpriced_calls, input_tokens, output_tokens, cost_usd::VARCHAR AS cost, providers, models FROM sessions ORDER BY session_id",
  ],
  [
    "the daily_usage view",
    "SELECT toString(day) AS day, provider, model, calls, errors, cache_read_tokens, toString(cost_usd) AS cost, unpriced_calls, p50_duration_ms, p95_ttfb_ms FROM daily_usage ORDER BY day, provider, model",
    "SELECT day::VARCHAR AS day, provider, model, calls, errors, cache_read_tokens, cost_usd::VARCHAR AS cost, unpriced_calls, p50_duration_ms, p95_ttfb_ms FROM daily_usage ORDER BY day, provider, model",
  ],
  [
    "the model_usage view",
    "SELECT provider, model, calls, priced_calls, unpriced_calls, toString(cost_usd) AS cost, toString(avg_cost_usd) AS avg, cache_hit_ratio FROM model_usage ORDER BY provider, model",
    "SELECT provider, model, calls, priced_calls, unpriced_calls, cost_usd::VARCHAR AS cost, avg_cost_usd::VARCHAR AS avg, cache_hit_ratio FROM model_usage ORDER BY provider, model",
  ],
];

/** Rows with numbers and numeric strings alike (ClickHouse quotes 64-bit integers, DuckDB BIGINTs; chdb's test session does not). */
const plain = (result: QueryResult) => result.rows.map((row) => row.map((v) => (typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v)));

describe("ordinary analytics queries, answered as DuckDB answers them", () => {
  test.each(QUESTIONS)("%s (ClickHouse 18.16)", async (_, clickhouse, duckdb) => {
    const expected = await duck.queryReadOnly(duckdb, LIMITS);
    expect(expected.rows.length).toBeGreaterThan(0);
    expect(plain(await sql.queryReadOnly(clickhouse, LIMITS))).toEqual(plain(expected));
  });

  test.each(QUESTIONS.filter(([name]) => !name.includes("cost") && !name.includes("view")))("%s (chdb)", async (_, clickhouse, duckdb) => {
    // (Today's ClickHouse prints a Decimal without its trailing zeros: the cost questions are 18.16's.)
    expect(plain(await createClickHouseSql(chdb).queryReadOnly(clickhouse, LIMITS))).toEqual(plain(await duck.queryReadOnly(duckdb, LIMITS)));
  });

  test("the views run on today's ClickHouse too", async () => {
    for (const view of ["sessions", "daily_usage", "model_usage"]) {
      const result = await createClickHouseSql(chdb).queryReadOnly(`SELECT * FROM ${view}`, LIMITS);
      expect(result.rows.length).toBe((await duck.queryReadOnly(`SELECT * FROM ${view}`, LIMITS)).rows.length);
    }
  });

  test("everyday queries run as written (intervals, IN lists, arrays, CASE, lambdas, ARRAY JOIN after an alias, the views)", async () => {
    for (const query of [
      "SELECT model, count() FROM requests WHERE started_at > toDateTime('2026-11-01 00:00:00') - INTERVAL 1 DAY AND provider IN ('openai', 'anthropic') AND has(tags, 'ci') GROUP BY model ORDER BY count() DESC LIMIT 10",
      "SELECT CASE WHEN status >= 400 THEN 'err' ELSE 'ok' END AS s, count() FROM requests GROUP BY s",
      "SELECT arrayMap(x -> concat(x, '!'), tags) FROM requests WHERE notEmpty(tags) LIMIT 3",
      "SELECT tag, count() FROM requests AS r ARRAY JOIN r.tags AS tag GROUP BY tag ORDER BY tag",
      "SELECT s.session_id, s.calls FROM sessions AS s WHERE s.calls > 1 ORDER BY s.calls DESC",
    ]) {
      expect((await sql.queryReadOnly(query, LIMITS)).rows.length).toBeGreaterThan(0);
      expect((await createClickHouseSql(chdb).queryReadOnly(query, LIMITS)).rows.length).toBeGreaterThan(0);
    }
  });

  test("columns in order and rows as arrays; more rows than asked for: truncated", async () => {
    const result = await sql.queryReadOnly("SELECT id, started_at_us FROM requests ORDER BY started_at_us, id", { maxRows: 10, timeoutMs: 10_000 });
    expect(result.columns).toEqual(["id", "started_at_us"]);
    expect(result.truncated).toBe(true);
    const expected = await duck.queryReadOnly("SELECT id FROM requests ORDER BY started_at, id", { maxRows: 10, timeoutMs: 10_000 });
    expect(result.rows.map((row) => row[0])).toEqual(expected.rows.map((row) => row[0]));
    const all = await sql.queryReadOnly("SELECT id FROM requests", LIMITS);
    expect(all).toMatchObject({ truncated: false });
    expect(all.rows.length).toBe(records.length);
  });

  test("a mistake in the query is the caller's (UnsafeQueryError, ClickHouse's message)", async () => {
    await expect(sql.queryReadOnly("SELECT nosuch FROM requests", LIMITS)).rejects.toThrow(UnsafeQueryError);
    await expect(sql.queryReadOnly("SELECT nosuch FROM requests", LIMITS)).rejects.toThrow(/Unknown identifier: nosuch/);
  });

  test("a query past its time is a QueryTimeoutError, and the next one runs", async () => {
    // Long, in small pieces: 200 products of the table with itself twice, over one-byte columns (~1.2M rows, three
    // hashes each, ~15 MB a piece). 18.16 checks max_execution_time only while it reads the table, which is quick, so
    // the client's abort (the timeout plus its grace) is what stops it; the work outlasts that on any machine. A
    // product of five tables over the string ids made blocks of several GiB: a fast machine hit ClickHouse's memory
    // limit before the timeout.
    const product = `SELECT sum(cityHash64(a.status, x, y) + sipHash64(y, a.status, x) + murmurHash3_64(x, y, a.status)) % 7 AS n FROM requests AS a CROSS JOIN
      (SELECT toUInt8(1) AS x, y FROM requests AS b CROSS JOIN (SELECT toUInt8(2) AS y FROM requests AS c))`;
    const heavy = `SELECT sum(n) FROM (${Array.from({ length: 200 }, () => product).join(" UNION ALL ")})`;
    const started = Date.now();
    await expect(sql.queryReadOnly(heavy, { maxRows: 10, timeoutMs: 1000 })).rejects.toBeInstanceOf(QueryTimeoutError);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await sql.queryReadOnly("SELECT 1 AS one", LIMITS)).rows).toEqual([[1]]);
  });
});
