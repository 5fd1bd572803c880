import { drainPending, Session } from "chdb";
import type { RequestRecord } from "../../src/record.ts";
import { toClickHouseRow } from "../../src/sinks/clickhouse/clickhouse-rows.ts";
import { createTableSql, INSERT_COLUMNS } from "../../src/sinks/clickhouse/clickhouse-schema.ts";
import type { ClickHouseSource } from "../../src/sinks/clickhouse/clickhouse-analytics.ts";
import type { ClickHouseSqlSource, CompactResult } from "../../src/sinks/clickhouse/clickhouse-sql.ts";

/**
 * Today's ClickHouse in process (chdb, an in-memory session) holding table
 * `requests` as the sink makes it, read through the same `source` shape as a
 * ClickHouseStore (and of a ClickHouseSqlSource: settings go in a SETTINGS
 * clause, in order): the analytics and the SQL run on it unchanged. chdb binds
 * one session per process: close it (then `drainPending` runs) before another
 * test file opens one.
 */
export interface ChdbLog extends ClickHouseSource, ClickHouseSqlSource {
  readonly database: string;
  /** Inserts the records as the sink would (toClickHouseRow), in one INSERT. */
  insert(records: readonly RequestRecord[]): void;
  /** The server's version. */
  readonly version: string;
  close(): Promise<void>;
}

export function openChdbLog(database = "loupe"): ChdbLog {
  // 64-bit integers as JSON numbers, as ClickHouseStore.rows asks of a server.
  const session = new Session(undefined, { connectionArgs: ["--output_format_json_quote_64bit_integers=0"] });
  session.query(`CREATE DATABASE IF NOT EXISTS ${database}`);
  session.query(createTableSql(database));
  return {
    database,
    table: `${database}.requests`,
    version: session.query("SELECT version()", "TSV").trim(),
    async rows<T>(sql: string) {
      return session
        .query(sql, "JSONEachRow")
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as T);
    },
    async compact(sql, { settings }) {
      const clause = Object.entries(settings)
        .map(([name, value]) => `${name} = ${typeof value === "number" ? value : `'${value}'`}`)
        .join(", ");
      return JSON.parse(session.query(`${sql} SETTINGS ${clause}`, "JSONCompact")) as CompactResult;
    },
    insert(records) {
      if (records.length === 0) return;
      const lines = records.map((r) => JSON.stringify(toClickHouseRow(r))).join("\n");
      session.query(`INSERT INTO ${database}.requests (${INSERT_COLUMNS.join(", ")}) FORMAT JSONEachRow\n${lines}`);
    },
    async close() {
      session.close();
      await drainPending();
    },
  };
}
