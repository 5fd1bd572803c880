import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { REQUEST_COLUMNS } from "../../src/record.ts";
import { loadDuckDB } from "../../src/sinks/duckdb/load-duckdb.ts";
import { assertSafeQuery, QueryTimeoutError, runLimited, UnsafeQueryError } from "../../src/sinks/duckdb/sql-guard.ts";

const allowedTables = ["requests", "daily_usage"] as const;

let instance: DuckDBInstance;
let connection: DuckDBConnection;

beforeAll(async () => {
  const duckdb = await loadDuckDB();
  instance = await duckdb.DuckDBInstance.create(":memory:");
  connection = await instance.connect();
  await connection.run(`CREATE TABLE requests (${REQUEST_COLUMNS.map(([name, type]) => `${name} ${type}`).join(", ")})`);
  await connection.run(`
    INSERT INTO requests (id, started_at, duration_ms, provider, method, path, status, model, streamed,
                          input_tokens, output_tokens, cost_usd, tags, usage_raw, request_bytes, response_bytes, truncated)
    VALUES
      ('a', '2026-01-01 10:00:00+00', 120.5, 'openai', 'POST', '/v1/chat/completions', 200, 'gpt-x', false,
       10, 20, 0.000123456, ['team-a', 'batch'], '{"input_tokens": 10, "output_tokens": 20}', 100, 200, false),
      ('b', '2026-01-01 11:30:00+00', 80, 'anthropic', 'POST', '/v1/messages', 200, 'claude-y', true,
       5, 7, 1.5, ['team-b'], '{"input_tokens": 5, "output_tokens": 7}', 50, 60, false),
      ('c', '2026-01-02 09:00:00+00', 3000, 'anthropic', 'POST', '/v1/messages', 529, 'claude-y', true,
       null, null, null, null, null, 50, 0, false)`);
  await connection.run(`
    CREATE VIEW daily_usage AS
    SELECT date_trunc('day', started_at) AS day, model, count(*) AS n, sum(input_tokens) AS input_tokens, sum(cost_usd) AS cost_usd
    FROM requests GROUP BY ALL`);
  // Exists, but is not in the allowlist.
  await connection.run(`CREATE TABLE hidden AS SELECT 'leak' AS v`);
});

afterAll(() => {
  connection.closeSync();
  instance.closeSync();
});

const allowed: string[] = [
  "SELECT count(*) FROM requests",
  "select model, sum(input_tokens) AS tokens, avg(duration_ms) FROM requests GROUP BY model ORDER BY 2 DESC",
  "WITH m AS (SELECT model, count(*) AS n FROM requests GROUP BY 1) SELECT * FROM m WHERE n > 0",
  "SELECT r.id, d.n FROM requests r JOIN daily_usage d ON d.model = r.model",
  "SELECT id, row_number() OVER (PARTITION BY model ORDER BY started_at) AS rn, sum(cost_usd) OVER w FROM requests WINDOW w AS (ORDER BY started_at)",
  "SELECT * FROM requests WHERE cost_usd > (SELECT avg(cost_usd) FROM requests)",
  "SELECT unnest(tags) AS tag FROM requests",
  "SELECT tag, count(*) FROM (SELECT unnest(tags) AS tag FROM requests) GROUP BY tag",
  "SELECT * FROM range(10)",
  "SELECT x * 2 FROM generate_series(1, 5) t(x)",
  "DESCRIBE requests",
  "describe main.requests",
  "SHOW TABLES",
  "SUMMARIZE daily_usage",
  "SELECT upper(model), lower(provider), regexp_replace(path, '/v1', ''), length(id), concat_ws('-', provider, model) FROM requests",
  "SELECT date_trunc('hour', started_at) AS h, count(*) FROM requests GROUP BY h",
  "SELECT quantile_cont(duration_ms, 0.95), quantile_cont(duration_ms, [0.5, 0.99]) FROM requests",
  "SELECT json_extract(usage_raw, '$.input_tokens'), usage_raw->>'$.output_tokens' FROM requests",
  "VALUES (1, 'a'), (2, 'b')",
  "FROM requests LIMIT 1",
  "SELECT * FROM MAIN.REQUESTS, main.daily_usage LIMIT 1",
  "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT sum(n) FROM t",
  "SELECT model FROM requests UNION SELECT model FROM daily_usage",
  "SELECT r.id, u.tag FROM requests r, LATERAL (SELECT * FROM unnest(r.tags)) u(tag)",
  "SELECT id FROM requests WHERE EXISTS (SELECT 1 FROM daily_usage d WHERE d.model = requests.model)",
  "PIVOT requests ON provider IN ('openai', 'anthropic') USING count(*)",
  "EXPLAIN SELECT count(*) FROM requests",
  "SELECT * FROM requests QUALIFY row_number() OVER (PARTITION BY model ORDER BY started_at DESC) = 1",
  "SELECT list_transform([1, 2, 3], x -> x * 2), [y * 2 FOR y IN [1, 2]]",
  "SELECT count(*) FILTER (WHERE status >= 400) AS errors FROM requests",
  "SELECT * FROM json_each('{\"a\": 1}')",
  "-- a comment\nSELECT 'x.csv' AS not_a_file, '/etc/passwd' AS nor_this",
  "WITH hidden AS (SELECT 1 AS v) SELECT * FROM hidden", // a CTE shadows the table
  "WITH a AS (SELECT 1 AS v), b AS (SELECT * FROM a) SELECT * FROM b",
  "SELECT NULL::JSON, '{}'::JSON -> '$.a', [1, 2][1], {'k': 1}.k, 'abc' LIKE 'a%', extract(year FROM started_at) FROM requests",
  "SELECT * FROM (SHOW TABLES)",
  "EXPLAIN ANALYZE SELECT model, count(*) FROM requests GROUP BY model",
  "SELECT 1;",
];

const refused: [sql: string, message: string][] = [
  ["INSERT INTO requests (id) VALUES ('x')", "only SELECT statements are allowed (got INSERT)"],
  ["UPDATE requests SET model = 'x'", "only SELECT statements are allowed (got UPDATE)"],
  ["DELETE FROM requests", "only SELECT statements are allowed (got DELETE)"],
  ["WITH x AS (SELECT 1) DELETE FROM requests", "only SELECT statements are allowed (got WITH … DELETE)"],
  ["DROP TABLE requests", "only SELECT statements are allowed (got DROP TABLE)"],
  ["CREATE TABLE t AS SELECT 1", "only SELECT statements are allowed (got CREATE TABLE)"],
  ["ALTER TABLE requests ADD COLUMN x INTEGER", "only SELECT statements are allowed (got ALTER TABLE)"],
  ["COPY requests TO '/tmp/loupe-sql-guard-test.csv'", "only SELECT statements are allowed (got COPY)"],
  ["COPY requests FROM '/etc/passwd'", "only SELECT statements are allowed (got COPY)"],
  ["COPY (SELECT 1) TO '/tmp/loupe-sql-guard-test.parquet' (FORMAT parquet)", "only SELECT statements are allowed (got COPY)"],
  ["ATTACH '/tmp/loupe-sql-guard-test.db' AS x", "only SELECT statements are allowed (got ATTACH)"],
  ["INSTALL httpfs", "only SELECT statements are allowed (got INSTALL)"],
  ["LOAD httpfs", "only SELECT statements are allowed (got LOAD)"],
  ["SET enable_external_access = false", "only SELECT statements are allowed (got SET)"],
  ["PRAGMA database_list", "only SELECT statements are allowed (got PRAGMA)"],
  ["CALL duckdb_settings()", "only SELECT statements are allowed (got CALL)"],
  ["EXPORT DATABASE '/tmp/loupe-sql-guard-test'", "only SELECT statements are allowed (got EXPORT DATABASE)"],
  ["IMPORT DATABASE '/tmp/loupe-sql-guard-test'", "only SELECT statements are allowed (got IMPORT DATABASE)"],
  ["CREATE SECRET (TYPE s3, KEY_ID 'a', SECRET 'b')", "only SELECT statements are allowed (got CREATE SECRET)"],
  ["CHECKPOINT", "only SELECT statements are allowed (got CHECKPOINT)"],
  ["EXPLAIN INSERT INTO requests (id) VALUES ('x')", "only SELECT statements are allowed (got EXPLAIN INSERT)"],
  ["SELECT 1; DROP TABLE requests", "only one statement is allowed (got 2)"],
  ["SELECT 1; SELECT 2", "only one statement is allowed (got 2)"],
  ["EXPLAIN ANALYZE COPY requests TO '/tmp/loupe-sql-guard-test.csv'", "only SELECT statements are allowed (got EXPLAIN COPY)"],
  ["/* x */ EXPLAIN SELECT 1", "only SELECT statements are allowed (got EXPLAIN)"],
  ["   ", "no statement given"],
  ["", "no statement given"],
  ["SELECT FROM WHERE", "could not parse the query"],
  ["SELECT * FROM read_csv('/etc/passwd')", "table function read_csv is not allowed"],
  ["SELECT * FROM system.main.read_csv('/etc/passwd')", "table function read_csv is not allowed"],
  ["SELECT * FROM '/etc/passwd'", "reading files or URLs is not allowed (FROM '/etc/passwd')"],
  ["SELECT * FROM 'x.parquet'", "reading files or URLs is not allowed (FROM 'x.parquet')"],
  ['SELECT * FROM "x.csv"', "reading files or URLs is not allowed (FROM 'x.csv')"],
  ["FROM 'https://example.com/data.csv'", "reading files or URLs is not allowed (FROM 'https://example.com/data.csv')"],
  ["DESCRIBE '/etc/passwd'", "reading files or URLs is not allowed (FROM '/etc/passwd')"],
  ["SELECT * FROM read_text('/etc/passwd')", "table function read_text is not allowed"],
  ["SELECT * FROM glob('*')", "table function glob is not allowed"],
  ["SELECT * FROM sniff_csv('/etc/passwd')", "table function sniff_csv is not allowed"],
  ["SELECT * FROM parquet_scan('x.parquet')", "table function parquet_scan is not allowed"],
  ["SELECT * FROM requests WHERE id IN (SELECT column0 FROM read_csv('/etc/passwd'))", "table function read_csv is not allowed"],
  ["WITH x AS (SELECT * FROM read_csv_auto('/etc/passwd')) SELECT * FROM x", "table function read_csv_auto is not allowed"],
  ["SELECT * FROM requests r JOIN LATERAL (SELECT * FROM read_json(r.path)) j ON true", "table function read_json is not allowed"],
  ["SELECT model FROM requests UNION ALL SELECT * FROM read_parquet('x.parquet')", "table function read_parquet is not allowed"],
  ["SELECT (SELECT count(*) FROM read_blob('/etc/*'))", "table function read_blob is not allowed"],
  ["SELECT * FROM requests ORDER BY (SELECT 1 FROM read_csv('/etc/passwd') LIMIT 1)", "table function read_csv is not allowed"],
  ["EXPLAIN SELECT * FROM read_csv('/etc/passwd')", "table function read_csv is not allowed"],
  ["SELECT * FROM query('SELECT * FROM hidden')", "table function query is not allowed"],
  ["SELECT * FROM duckdb_settings()", "table function duckdb_settings is not allowed"],
  ["SELECT * FROM histogram(hidden, v)", "table function histogram is not allowed"],
  ["SELECT getenv('HOME')", "function getenv is not allowed"],
  ["SELECT current_setting('secret_directory')", "function current_setting is not allowed"],
  ["SELECT model FROM requests WHERE model = getvariable('x')", "function getvariable is not allowed"],
  ["SELECT pg_sleep(10)", "function pg_sleep is not allowed"],
  ["SELECT * FROM hidden", "table hidden is not allowed (allowed: requests, daily_usage)"],
  ["SELECT (SELECT max(v) FROM hidden)", "table hidden is not allowed"],
  ["SELECT * FROM information_schema.tables", "table information_schema.tables is not allowed"],
  ["SELECT * FROM duckdb_tables", "table duckdb_tables is not allowed"],
  ["SELECT * FROM memory.main.requests", "table memory.main.requests is not allowed"],
  // A CTE's body does not see the CTE itself: DuckDB reads the table `hidden` there.
  ["WITH hidden AS (SELECT * FROM hidden) SELECT * FROM hidden", "table hidden is not allowed"],
  // A CTE defined in a subquery is not visible outside of it.
  ["SELECT * FROM (WITH hidden AS (SELECT 1) SELECT * FROM hidden), hidden", "table hidden is not allowed"],
  // The anchor of a recursive CTE does not see the CTE either.
  ["WITH RECURSIVE hidden AS (SELECT * FROM hidden UNION ALL SELECT * FROM hidden) SELECT * FROM hidden LIMIT 1", "table hidden is not allowed"],
  ["SELECT * FROM unnest((SELECT list(v) FROM hidden))", "table hidden is not allowed"],
  ["SELECT * FROM (DESCRIBE hidden)", "table hidden is not allowed"],
  ["SELECT * FROM json_each((SELECT content FROM read_text('/etc/passwd')))", "table function read_text is not allowed"],
  ["SELECT list_transform([1], x -> getenv('HOME'))", "function getenv is not allowed"],
  ["SELECT main.current_setting('temp_directory')", "function current_setting is not allowed"],
  ["SELECT pg_get_viewdef(1)", "function pg_get_viewdef is not allowed"],
  ["SELECT * FROM temp.main.requests", "table temp.main.requests is not allowed"],
  // Unknown names would auto-install an extension: refused before binding.
  ["SELECT st_point(1, 2)", "function st_point is not available"],
  ["SELECT '1.2.3.4'::INET", "type inet is not available"],
  ["SHOW databases", "SHOW databases is not allowed"],
  ["SHOW ALL TABLES", "SHOW __show_tables_expanded is not allowed"],
  ["PIVOT requests ON model USING count(*)", "cannot be vetted"],
  // Left to this vetting by DuckDB's sandbox (sql-sandbox.ts): lock_configuration
  // does not stop these, and a file logger outside the allowed folder makes every
  // later statement of the instance fail.
  ["SELECT * FROM enable_logging(storage = 'file', storage_path = '/tmp')", "table function enable_logging is not allowed"],
  ["SELECT * FROM enable_profiling(format = 'json', save_location = '/tmp/loupe-sql-guard-test.json')", "table function enable_profiling is not allowed"],
  ["SELECT * FROM checkpoint()", "table function checkpoint is not allowed"],
  ["SELECT * FROM force_checkpoint()", "table function force_checkpoint is not allowed"],
  ["CALL enable_logging()", "only SELECT statements are allowed (got CALL)"],
];

describe("assertSafeQuery", () => {
  test.each(allowed)("allows %p", async (sql) => {
    await assertSafeQuery(connection, sql, { allowedTables });
    // And it really runs.
    const result = await runLimited(connection, sql, { maxRows: 100, timeoutMs: 10_000 });
    expect(Array.isArray(result.rows)).toBe(true);
  });

  test.each(refused)("refuses %p", async (sql, message) => {
    let caught: unknown;
    try {
      await assertSafeQuery(connection, sql, { allowedTables });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnsafeQueryError);
    expect((caught as Error).name).toBe("UnsafeQueryError");
    expect((caught as Error).message).toContain(message);
  });

  test("refused statements were not run", async () => {
    const reader = await connection.runAndReadAll("SELECT count(*)::INTEGER FROM requests");
    expect(reader.getRowsJson()).toEqual([[3]]);
    expect(await Bun.file("/tmp/loupe-sql-guard-test.csv").exists()).toBe(false);
  });

  test("the allowlist is the caller's", async () => {
    await assertSafeQuery(connection, "SELECT * FROM hidden", { allowedTables: ["hidden"] });
    await expect(assertSafeQuery(connection, "SELECT * FROM requests", { allowedTables: ["hidden"] })).rejects.toThrow(
      "table requests is not allowed (allowed: hidden)",
    );
  });
});

describe("runLimited", () => {
  test("stops reading after maxRows and says so", async () => {
    const result = await runLimited(connection, "SELECT * FROM range(100000) t(n)", { maxRows: 100, timeoutMs: 10_000 });
    expect(result.columns).toEqual(["n"]);
    expect(result.rows.length).toBe(100);
    expect(result.rows[99]).toEqual(["99"]); // BIGINT: a string, as getRowsJson gives it
    expect(result.truncated).toBe(true);
  });

  test("not truncated when the result fits, also exactly", async () => {
    const fewer = await runLimited(connection, "SELECT * FROM range(5)", { maxRows: 10, timeoutMs: 10_000 });
    expect(fewer.rows.length).toBe(5);
    expect(fewer.truncated).toBe(false);
    const exact = await runLimited(connection, "SELECT * FROM range(10)", { maxRows: 10, timeoutMs: 10_000 });
    expect(exact.rows.length).toBe(10);
    expect(exact.truncated).toBe(false);
    const zero = await runLimited(connection, "SELECT * FROM range(10)", { maxRows: 0, timeoutMs: 10_000 });
    expect(zero.rows).toEqual([]);
    expect(zero.truncated).toBe(true);
  });

  test("rows are JSON-safe", async () => {
    const result = await runLimited(
      connection,
      "SELECT id, started_at, cost_usd, tags, usage_raw, input_tokens, streamed, 12345678901234567890::HUGEINT AS big FROM requests ORDER BY id",
      { maxRows: 10, timeoutMs: 10_000 },
    );
    expect(result.columns).toEqual(["id", "started_at", "cost_usd", "tags", "usage_raw", "input_tokens", "streamed", "big"]);
    expect(result.rows.length).toBe(3);
    expect(() => JSON.stringify(result.rows)).not.toThrow();
    expect(result.rows[0]?.[0]).toBe("a");
    expect(result.rows[0]?.[3]).toEqual(["team-a", "batch"]);
  });

  test("interrupts a long query after timeoutMs; the connection stays usable", async () => {
    const started = performance.now();
    let caught: unknown;
    try {
      await runLimited(connection, "SELECT count(*) FROM range(1000000000) a, range(1000000000) b", { maxRows: 10, timeoutMs: 200 });
    } catch (error) {
      caught = error;
    }
    const elapsed = performance.now() - started;
    expect(caught).toBeInstanceOf(QueryTimeoutError);
    expect((caught as Error).message).toBe("query timed out after 200 ms");
    expect(elapsed).toBeLessThan(5_000);
    const after = await runLimited(connection, "SELECT 42 AS answer", { maxRows: 10, timeoutMs: 10_000 });
    expect(after).toEqual({ columns: ["answer"], rows: [[42]], truncated: false }); // INTEGER: a number
  });

  test("a streaming query is interrupted while rows are being read too", async () => {
    // Rows come quickly but the filter makes the scan slow: the interrupt lands during fetches.
    let caught: unknown;
    try {
      await runLimited(connection, "SELECT a.range FROM range(1000000000) a, range(1000) b WHERE a.range % 1000000007 = 1000000006", {
        maxRows: 10,
        timeoutMs: 200,
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(QueryTimeoutError);
  });

  test("runs only what DuckDB prepares as a SELECT (or an EXPLAIN of one), vetted or not", async () => {
    await expect(runLimited(connection, "CREATE TABLE gate AS SELECT 1", { maxRows: 10, timeoutMs: 10_000 })).rejects.toThrow(
      new UnsafeQueryError("only SELECT statements are allowed (got CREATE)"),
    );
    await expect(runLimited(connection, "EXPLAIN ANALYZE INSERT INTO requests (id) VALUES ('gate')", { maxRows: 10, timeoutMs: 10_000 })).rejects.toThrow(
      new UnsafeQueryError("only SELECT statements are allowed (got EXPLAIN INSERT)"),
    );
    await expect(runLimited(connection, "-- x\nEXPLAIN ANALYZE SELECT 1", { maxRows: 10, timeoutMs: 10_000 })).rejects.toThrow(
      new UnsafeQueryError("only SELECT statements are allowed (got EXPLAIN)"),
    );
    const tables = await connection.runAndReadAll("SELECT count(*)::INTEGER FROM duckdb_tables() WHERE table_name = 'gate'");
    expect(tables.getRowsJson()).toEqual([[0]]);
    expect((await connection.runAndReadAll("SELECT count(*)::INTEGER FROM requests")).getRowsJson()).toEqual([[3]]);
  });

  test("runs one statement only", async () => {
    await expect(runLimited(connection, "SELECT 1; SELECT 2", { maxRows: 10, timeoutMs: 10_000 })).rejects.toThrow(
      "only one statement is allowed (got 2)",
    );
  });
});
