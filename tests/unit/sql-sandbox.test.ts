// DuckDB's sandbox on its own: no AST vetting anywhere in this file.
// "DuckDB alone" runs statements on a plain connection of the locked instance
// (in a read-only transaction, as user queries run); "the sandboxed runner" is
// runUserQuery without a vetting step. Controls run the same statements on an
// instance that is not locked, to show they would work there.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REQUEST_COLUMNS } from "../../src/record.ts";
import { openDuckDBStore } from "../../src/sinks/duckdb/duckdb-store.ts";
import { loadDuckDB } from "../../src/sinks/duckdb/load-duckdb.ts";
import { QueryTimeoutError, UnsafeQueryError } from "../../src/sinks/duckdb/sql-guard.ts";
import { openSandboxedDatabase, type SandboxedDatabase } from "../../src/sinks/duckdb/sql-sandbox.ts";

const createRequests = `CREATE TABLE requests (${REQUEST_COLUMNS.map(([name, type]) => `${name} ${type}`).join(", ")})`;
const insertRows = `INSERT INTO requests (id, started_at, provider, model, input_tokens, cost_usd, usage_raw, tags) VALUES
  ('a', '2026-01-01 10:00:00+00', 'openai', 'gpt-x', 10, 0.000123456, '{"input_tokens": 10}', ['t1']),
  ('b', '2026-01-02 11:30:00+00', 'anthropic', 'claude-y', 5, 1.5, NULL, NULL),
  ('c', '2026-01-03 09:00:00+00', 'anthropic', 'claude-y', NULL, NULL, NULL, NULL)`;

const LIMITS = { maxRows: 1000, timeoutMs: 10_000 };

let dir: string; // outside the sandbox's private folder
let dbFile: string;
let db: SandboxedDatabase;
let setup: DuckDBConnection;
let open: DuckDBInstance; // the control: not locked
let openConnection: DuckDBConnection;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "loupe-sandbox-test-"));
  writeFileSync(join(dir, "outside.csv"), "a,b\n1,2\n");
  dbFile = join(dir, "db.duckdb");
  db = await openSandboxedDatabase(dbFile);
  setup = await db.instance.connect();
  await setup.run(createRequests);
  await setup.run(insertRows);
  await setup.run("CREATE SEQUENCE counter");
  await setup.run("SET GLOBAL TimeZone = 'UTC'");
  await db.lock(setup);

  const duckdb = await loadDuckDB();
  open = await duckdb.DuckDBInstance.create(":memory:", { autoinstall_known_extensions: "false", autoload_known_extensions: "false" });
  openConnection = await open.connect();
  await openConnection.run(createRequests);
  await openConnection.run(insertRows);
});

afterAll(() => {
  setup.closeSync();
  db.instance.closeSync();
  db.removePrivateDir();
  openConnection.closeSync();
  open.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `sql` on a plain connection of the locked instance, in a read-only transaction; the error message, or "ran". */
async function duckdbAlone(sql: string): Promise<string> {
  const connection = await db.instance.connect();
  try {
    await connection.run("BEGIN TRANSACTION READ ONLY");
    await connection.run(sql);
    return "ran";
  } catch (error) {
    return (error as Error).message;
  } finally {
    await connection.run("ROLLBACK").catch(() => undefined);
    connection.closeSync();
  }
}

async function rowCount(): Promise<number> {
  return Number((await setup.runAndReadAll("SELECT count(*) FROM requests")).getRows()[0]![0]);
}

const NO_FILES = "Permission Error:";
const LOCKED = "the configuration has been locked";
const READ_ONLY = "transaction is launched in read-only mode";

describe("DuckDB alone refuses (locked instance, read-only transaction, no vetting)", () => {
  const out = () => join(dir, "written");
  const hostile: [label: string, sql: () => string, refusal: string][] = [
    ["read_csv", () => "SELECT * FROM read_csv('/etc/passwd')", NO_FILES],
    ["read_csv of a file next to the database", () => `SELECT * FROM read_csv('${dir}/outside.csv')`, NO_FILES],
    ["read_text", () => "SELECT * FROM read_text('/etc/passwd')", NO_FILES],
    ["read_blob", () => "SELECT * FROM read_blob('/etc/passwd')", NO_FILES],
    ["glob", () => "SELECT * FROM glob('/*')", NO_FILES],
    // With external access off DuckDB does not even try the file.
    ["a replacement scan", () => "SELECT * FROM '/etc/passwd'", "Table with name /etc/passwd does not exist"],
    ["sniff_csv", () => "SELECT * FROM sniff_csv('/etc/passwd')", NO_FILES],
    ["an escape from the private folder with ..", () => `SELECT * FROM read_text('${db.privateDir}/../../etc/passwd')`, NO_FILES],
    ["COPY … TO", () => `COPY requests TO '${out()}.csv'`, NO_FILES],
    ["COPY (query) TO parquet", () => `COPY (SELECT * FROM requests) TO '${out()}.parquet' (FORMAT parquet)`, NO_FILES],
    ["COPY … FROM", () => "COPY requests FROM '/etc/passwd'", NO_FILES],
    ["ATTACH a file", () => `ATTACH '${out()}.db' AS other`, NO_FILES],
    ["EXPORT DATABASE", () => `EXPORT DATABASE '${out()}-export'`, NO_FILES],
    ["IMPORT DATABASE", () => `IMPORT DATABASE '${dir}'`, NO_FILES],
    ["INSTALL", () => "INSTALL httpfs", NO_FILES],
    ["LOAD", () => "LOAD httpfs", NO_FILES],
    ["SET enable_external_access", () => "SET enable_external_access = true", LOCKED],
    ["SET GLOBAL enable_external_access", () => "SET GLOBAL enable_external_access = true", LOCKED],
    ["SET allowed_directories", () => "SET allowed_directories = ['/']", LOCKED],
    ["SET allowed_paths", () => "SET allowed_paths = ['/etc/passwd']", LOCKED],
    ["SET lock_configuration", () => "SET lock_configuration = false", LOCKED],
    ["RESET lock_configuration", () => "RESET lock_configuration", LOCKED],
    ["SET disabled_filesystems", () => "SET disabled_filesystems = ''", LOCKED],
    ["SET autoload_known_extensions", () => "SET autoload_known_extensions = true", LOCKED],
    ["PRAGMA threads", () => "PRAGMA threads = 1", LOCKED],
    ["PRAGMA enable_profiling", () => "PRAGMA enable_profiling = 'json'", LOCKED],
    ["PRAGMA profiling_output", () => `PRAGMA profiling_output = '${out()}.json'`, LOCKED],
    ["SET memory_limit", () => "SET memory_limit = '1TB'", LOCKED],
    ["CREATE TABLE", () => "CREATE TABLE t (a INTEGER)", READ_ONLY],
    ["CREATE TABLE AS", () => "CREATE TABLE t AS SELECT * FROM requests", READ_ONLY],
    ["CREATE VIEW", () => "CREATE VIEW v AS SELECT 1", READ_ONLY],
    ["INSERT", () => "INSERT INTO requests (id) VALUES ('x')", READ_ONLY],
    ["UPDATE", () => "UPDATE requests SET model = 'x'", READ_ONLY],
    ["DELETE", () => "DELETE FROM requests", READ_ONLY],
    ["DROP TABLE", () => "DROP TABLE requests", READ_ONLY],
    ["ALTER TABLE", () => "ALTER TABLE requests ADD COLUMN x INTEGER", READ_ONLY],
  ];

  test.each(hostile)("%s", async (_label, sql, refusal) => {
    expect(await duckdbAlone(sql())).toContain(refusal);
  });

  test("a symlink in the private folder does not lead out of it", async () => {
    const link = join(db.privateDir, "link");
    symlinkSync(dir, link);
    try {
      expect(await duckdbAlone(`SELECT * FROM read_csv('${link}/outside.csv')`)).toContain(NO_FILES);
    } finally {
      rmSync(link, { force: true });
    }
  });

  test("nothing was written, nothing changed", async () => {
    expect(await rowCount()).toBe(3);
    expect(readdirSync(dir).filter((name) => name.startsWith("written"))).toEqual([]);
  });

  test("the settings are in force on a connection made after locking", async () => {
    const connection = await db.instance.connect();
    try {
      const reader = await connection.runAndReadAll(
        "SELECT current_setting('enable_external_access'), current_setting('lock_configuration'), current_setting('autoload_known_extensions'), current_setting('TimeZone')",
      );
      expect(reader.getRowsJson()).toEqual([[false, true, false, "UTC"]]);
    } finally {
      connection.closeSync();
    }
  });

  // The controls: the same statements work where the sandbox is not applied.
  const controls: [label: string, sql: () => string][] = [
    ["read_csv", () => `SELECT * FROM read_csv('${dir}/outside.csv')`],
    ["read_text", () => `SELECT * FROM read_text('${dir}/outside.csv')`],
    ["a replacement scan", () => `SELECT * FROM '${dir}/outside.csv'`],
    ["glob", () => `SELECT * FROM glob('${dir}/*')`],
    ["COPY … TO", () => `COPY requests TO '${dir}/control/out.csv'`],
    ["ATTACH a file", () => `ATTACH '${dir}/control/control.db' AS control`],
    ["SET allowed_directories", () => `SET allowed_directories = ['${dir}']`],
    ["INSERT", () => "INSERT INTO requests (id) VALUES ('x')"],
    ["CREATE TABLE", () => "CREATE TABLE control_t (a INTEGER)"],
  ];
  test.each(controls)("control, on an instance not locked: %s runs", async (_label, sql) => {
    mkdirSync(join(dir, "control"), { recursive: true });
    await openConnection.run(sql());
  });
});

describe("the sandboxed runner (no vetting)", () => {
  async function refusal(sql: string): Promise<Error> {
    let caught: unknown;
    try {
      await db.runUserQuery(sql, LIMITS);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnsafeQueryError);
    expect((caught as Error).name).toBe("UnsafeQueryError");
    return caught as Error;
  }

  test("reads the records, and rows committed after locking too", async () => {
    expect(await db.runUserQuery("SELECT id FROM requests ORDER BY id", LIMITS)).toEqual({ columns: ["id"], rows: [["a"], ["b"], ["c"]], truncated: false });
    await setup.run("INSERT INTO requests (id) VALUES ('d')");
    try {
      expect((await db.runUserQuery("SELECT count(*)::INTEGER FROM requests", LIMITS)).rows).toEqual([[4]]);
    } finally {
      await setup.run("DELETE FROM requests WHERE id = 'd'");
    }
  });

  const refusedByDuckDB: [sql: string, message: string][] = [
    ["SELECT * FROM read_csv('/etc/passwd')", `refused by DuckDB's sandbox: Permission Error: Cannot access file "/etc/passwd"`],
    ["SELECT content FROM read_text('/etc/passwd')", "refused by DuckDB's sandbox: Permission Error"],
    ["SELECT * FROM read_blob('/etc/passwd')", "refused by DuckDB's sandbox: Permission Error"],
    ["SELECT * FROM glob('/*')", "refused by DuckDB's sandbox: Permission Error"],
    ["COPY requests TO '/tmp/loupe-sandbox-test.csv'", "refused by DuckDB's sandbox: Permission Error"],
    ["SELECT * FROM read_json('/etc/passwd')", "refused by DuckDB's sandbox: Permission Error"],
    // Not SELECTs: refused before they run (DuckDB alone refuses them too, see above).
    ["ATTACH '/tmp/loupe-sandbox-test.db'", "only SELECT statements are allowed (got ATTACH)"],
    ["INSTALL httpfs", "only SELECT statements are allowed (got LOAD)"],
    ["LOAD httpfs", "only SELECT statements are allowed (got LOAD)"],
    ["SET enable_external_access = true", "only SELECT statements are allowed (got SET)"],
    ["SET allowed_directories = ['/']", "only SELECT statements are allowed (got SET)"],
    ["PRAGMA threads = 1", "only SELECT statements are allowed (got SET)"],
    ["INSERT INTO requests (id) VALUES ('x')", "only SELECT statements are allowed (got INSERT)"],
    ["DELETE FROM requests", "only SELECT statements are allowed (got DELETE)"],
    ["CREATE TABLE t AS SELECT 1", "only SELECT statements are allowed (got CREATE)"],
    ["DROP TABLE requests", "only SELECT statements are allowed (got DROP)"],
    ["ATTACH ':memory:' AS m", "only SELECT statements are allowed (got ATTACH)"],
    ["SET VARIABLE v = 1", "only SELECT statements are allowed (got SET)"],
    ["CALL enable_logging()", "only SELECT statements are allowed (got CALL)"],
    ["CHECKPOINT", "only SELECT statements are allowed (got CALL)"],
    ["VACUUM", "only SELECT statements are allowed (got VACUUM)"],
    ["BEGIN", "only SELECT statements are allowed (got TRANSACTION)"],
    ["EXPLAIN ANALYZE DELETE FROM requests", "only SELECT statements are allowed (got EXPLAIN DELETE)"],
    ["/* c */ EXPLAIN ANALYZE DELETE FROM requests", "only SELECT statements are allowed (got EXPLAIN)"],
    ["SELECT 1; DELETE FROM requests", "only one statement is allowed (got 2)"],
  ];

  test.each(refusedByDuckDB)("refuses %p", async (sql, message) => {
    expect((await refusal(sql)).message).toContain(message);
  });

  test("a SELECT that writes (nextval advances a sequence) is refused: the query runs in a read-only transaction", async () => {
    expect((await refusal("SELECT nextval('counter')")).message).toBe(
      `refused by DuckDB's sandbox: TransactionContext Error: Cannot write to database "db" - transaction is launched in read-only mode`,
    );
    // Never advanced: the first value is still to come.
    expect((await setup.runAndReadAll("SELECT nextval('counter')::INTEGER")).getRows()).toEqual([[1]]);
  });

  test("COPY onto the database file itself, which DuckDB's file sandbox allows, is refused by DuckDB's statement type", async () => {
    // DuckDB always lets an instance reach its own files; with USE_TMP_FILE
    // false this COPY would overwrite the database (checked with DuckDB 1.5).
    const size = statSync(dbFile).size;
    expect((await refusal(`COPY (SELECT 'x') TO '${dbFile}' (FORMAT csv, USE_TMP_FILE false)`)).message).toBe(
      "only SELECT statements are allowed (got COPY)",
    );
    expect((await refusal(`EXPLAIN ANALYZE COPY (SELECT 'x') TO '${dbFile}' (FORMAT csv, USE_TMP_FILE false)`)).message).toBe(
      "only SELECT statements are allowed (got EXPLAIN COPY)",
    );
    expect(statSync(dbFile).size).toBe(size);
    expect(await rowCount()).toBe(3);
  });

  test("refused statements had no effect", async () => {
    expect(await rowCount()).toBe(3);
    expect(existsSync("/tmp/loupe-sandbox-test.csv")).toBe(false);
    expect(existsSync("/tmp/loupe-sandbox-test.db")).toBe(false);
    const databases = await setup.runAndReadAll("SELECT database_name FROM duckdb_databases() WHERE NOT internal ORDER BY 1");
    expect(databases.getRowsJson()).toEqual([["db"]]);
  });

  test("other errors pass unchanged (a binder error is not a refusal)", async () => {
    let caught: unknown;
    try {
      await db.runUserQuery("SELECT no_such_column FROM requests", LIMITS);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    expect(caught).not.toBeInstanceOf(UnsafeQueryError);
    expect((caught as Error).message).toContain("no_such_column");
  });

  test("each query has a connection of its own: what one sets does not reach the next", async () => {
    // The same two statements on one connection give a fixed value.
    const connection = await db.instance.connect();
    await connection.run("SELECT setseed(0.42)");
    const seeded = (await connection.runAndReadAll("SELECT random()")).getRows()[0]![0];
    connection.closeSync();

    await db.runUserQuery("SELECT setseed(0.42)", LIMITS);
    const next = (await db.runUserQuery("SELECT random()", LIMITS)).rows[0]![0];
    expect(next).not.toBe(seeded);
  });

  test("a long query is interrupted after timeoutMs; the next one runs", async () => {
    const started = performance.now();
    let caught: unknown;
    try {
      await db.runUserQuery("SELECT count(*) FROM range(1000000000) a, range(1000000000) b", { maxRows: 10, timeoutMs: 200 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(QueryTimeoutError);
    expect((caught as Error).name).toBe("QueryTimeoutError");
    expect(performance.now() - started).toBeLessThan(5_000);
    expect((await db.runUserQuery("SELECT 42 AS answer", LIMITS)).rows).toEqual([[42]]);
  });

  test("the row limit holds", async () => {
    const result = await db.runUserQuery("SELECT * FROM range(100000)", { maxRows: 10, timeoutMs: 10_000 });
    expect(result.rows.length).toBe(10);
    expect(result.truncated).toBe(true);
  });

  test("a vetting step runs first, on the query's connection", async () => {
    const seen: DuckDBConnection[] = [];
    await expect(
      db.runUserQuery("SELECT 1", LIMITS, async (connection) => {
        seen.push(connection);
        throw new UnsafeQueryError("vetted out");
      }),
    ).rejects.toThrow("vetted out");
    expect(seen.length).toBe(1);
  });
});

describe("Loupe's own file access on the locked instance", () => {
  test("reads files from elsewhere through copies in the private folder; errors name the original", async () => {
    const segment = join(dir, "00000001.ndjson");
    writeFileSync(segment, '{"id": "j1"}\n{"id": "j2"}\n');
    expect(await duckdbAlone(`SELECT * FROM read_json('${segment}')`)).toContain(NO_FILES);
    const ids = await db.withCopies([segment], async ([copy]) => (await setup.runAndReadAll(`SELECT id FROM read_json('${copy}') ORDER BY id`)).getRowsJson());
    expect(ids).toEqual([["j1"], ["j2"]]);
    expect(readdirSync(db.privateDir)).toEqual([]); // the copy is gone

    const broken = join(dir, "00000002.ndjson");
    writeFileSync(broken, '{"id": \n');
    let message = "";
    try {
      await db.withCopies([broken], (copies) => setup.run(`SELECT * FROM read_json('${copies[0]}', format = 'newline_delimited')`));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(broken);
    expect(message).not.toContain(db.privateDir);
  });

  test("exports Parquet into a folder made after locking, with the since day", async () => {
    const target = join(dir, "export", "made-later");
    const all = await db.exportParquet(setup, target);
    expect(all).toMatchObject({ rows: 3, files: 3, dir: target });
    expect(readdirSync(target).sort()).toEqual(["date=2026-01-01", "date=2026-01-02", "date=2026-01-03"]);
    expect(readdirSync(db.privateDir)).toEqual([]); // the snapshot is gone

    const recent = await db.exportParquet(setup, target, new Date("2026-01-02T23:00:00Z"));
    expect(recent).toMatchObject({ rows: 2, files: 2 });
    const back = await openConnection.runAndReadAll(
      `SELECT id, cost_usd::VARCHAR, usage_raw, tags, started_at::VARCHAR, date::VARCHAR FROM read_parquet('${target}/**/*.parquet', hive_partitioning = true) ORDER BY id`,
    );
    expect(back.getRowsJson()).toEqual([
      ["a", "0.000123456", '{"input_tokens": 10}', ["t1"], "2026-01-01 10:00:00+00", "2026-01-01"],
      ["b", "1.500000000", null, null, "2026-01-02 11:30:00+00", "2026-01-02"],
      ["c", null, null, null, "2026-01-03 09:00:00+00", "2026-01-03"],
    ]);
  });

  test("an invalid since is refused before anything is written", async () => {
    await expect(db.exportParquet(setup, join(dir, "never"), new Date("nope"))).rejects.toThrow(RangeError);
    expect(existsSync(join(dir, "never"))).toBe(false);
  });
});

describe("the store", () => {
  test("loads record segments from the journal folder, exports anywhere and answers user SQL on its locked instance", async () => {
    const home = mkdtempSync(join(tmpdir(), "loupe-sandbox-store-"));
    try {
      const journal = join(home, "db.duckdb.journal");
      mkdirSync(journal);
      const line = (id: string, day: string) => JSON.stringify({ id, started_at: `${day}T12:00:00Z`, provider: "openai", method: "POST", path: "/v1/x", status: 200 });
      writeFileSync(join(journal, "00000001.ndjson"), `${line("s1", "2026-02-01")}\n${line("s2", "2026-02-02")}\n`);
      writeFileSync(join(journal, "00000002.ndjson"), `${line("s3", "2026-02-03")}\n`);
      const store = await openDuckDBStore(join(home, "db.duckdb"));
      try {
        expect(await store.appendFiles([join(journal, "00000001.ndjson")])).toBe(2);
        expect(await store.appendFiles([join(journal, "00000002.ndjson")], { missingOnly: true })).toBe(1);
        await store.append(`${line("s4", "2026-02-04")}\n`);
        expect((await store.queryReadOnly("SELECT count(*)::INTEGER FROM requests")).rows).toEqual([[4]]);
        const exported = await store.exportParquet(join(home, "parquet"), "2026-02-02");
        expect(exported).toMatchObject({ rows: 3, files: 3 });
        await expect(store.queryReadOnly("SELECT * FROM read_csv('/etc/passwd')")).rejects.toThrow(UnsafeQueryError);
        await expect(store.queryReadOnly("SELECT count(*) FROM range(1000000000) a, range(1000000000) b", { maxRows: 1, timeoutMs: 200 })).rejects.toThrow(
          QueryTimeoutError,
        );
        expect(await store.prune(100_000)).toBe(0);
        await store.checkpoint();
      } finally {
        await store.close();
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
