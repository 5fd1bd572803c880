import type { DuckDBAppender, DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { REQUEST_COLUMNS, type ColumnType, type RequestRecord } from "../record.ts";
import { loadDuckDB, type DuckDBModule } from "./load-duckdb.ts";

export interface QueryResult {
  columns: string[];
  rows: unknown[][];
}

/** The DuckDB side of the record store. One process holds the file (DuckDB's rule). */
export interface DuckDBStore {
  /** Appends records in one transaction (appender flush). Throws on failure; nothing is half-written. */
  append(records: readonly RequestRecord[]): Promise<void>;
  /** Appends the records whose id is not stored yet (journal replay). Returns how many were new. */
  appendMissing(records: readonly RequestRecord[]): Promise<number>;
  /** Runs one read-only statement (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN). */
  queryReadOnly(sql: string): Promise<QueryResult>;
  checkpoint(): Promise<void>;
  close(): Promise<void>;
}

export class ReadOnlyQueryError extends Error {
  override name = "ReadOnlyQueryError";
}

const createTableSql = (table: string) =>
  `CREATE TABLE IF NOT EXISTS ${table} (${REQUEST_COLUMNS.map(([name, type]) => `${name} ${type}`).join(", ")})`;

/** Opens (and creates or migrates) the database file. */
export async function openDuckDBStore(path: string): Promise<DuckDBStore> {
  const duckdb = await loadDuckDB();
  const instance: DuckDBInstance = await duckdb.DuckDBInstance.create(path);
  const connection = await instance.connect();
  await connection.run(createTableSql("requests"));
  await addMissingColumns(connection);
  const appendRows = createRowAppender(duckdb);
  let appender: DuckDBAppender | undefined;

  return {
    async append(records) {
      if (records.length === 0) return;
      appender ??= await connection.createAppender("requests");
      try {
        appendRows(appender, records);
        appender.flushSync();
      } catch (error) {
        // The appender is unusable after a failed row: drop it and its buffer.
        try {
          appender.clear();
          appender.closeSync();
        } catch {
          // already broken
        }
        appender = undefined;
        throw error;
      }
    },
    async appendMissing(records) {
      if (records.length === 0) return 0;
      await connection.run(`CREATE OR REPLACE TEMP TABLE replay AS SELECT * FROM requests LIMIT 0`);
      const staging = await connection.createAppender("replay", "main", "temp");
      appendRows(staging, records);
      staging.closeSync();
      const result = await connection.run(
        `INSERT INTO requests SELECT * FROM (SELECT DISTINCT ON (id) * FROM temp.replay) r WHERE r.id NOT IN (SELECT id FROM requests)`,
      );
      await connection.run(`DROP TABLE temp.replay`);
      return Number(result.rowsChanged);
    },
    async queryReadOnly(sql) {
      await assertReadOnly(duckdb, connection, sql);
      const reader = await connection.runAndReadAll(sql);
      return { columns: reader.columnNames(), rows: reader.getRowsJson() as unknown[][] };
    },
    async checkpoint() {
      await connection.run("CHECKPOINT");
    },
    async close() {
      appender?.closeSync();
      connection.closeSync();
      instance.closeSync();
    },
  };
}

async function addMissingColumns(connection: DuckDBConnection): Promise<void> {
  const reader = await connection.runAndReadAll(
    `SELECT column_name FROM information_schema.columns WHERE table_name = 'requests' AND table_schema = 'main'`,
  );
  const existing = new Set(reader.getRowsJson().map((row) => String(row[0])));
  for (const [name, type] of REQUEST_COLUMNS) {
    if (!existing.has(name)) await connection.run(`ALTER TABLE requests ADD COLUMN ${name} ${type}`);
  }
}

type Appender = (appender: DuckDBAppender, records: readonly RequestRecord[]) => void;

function createRowAppender(duckdb: DuckDBModule): Appender {
  const stringList = duckdb.LIST(duckdb.VARCHAR);
  const write: Record<ColumnType, (a: DuckDBAppender, v: NonNullable<unknown>) => void> = {
    VARCHAR: (a, v) => a.appendVarchar(String(v)),
    JSON: (a, v) => a.appendVarchar(String(v)),
    TIMESTAMPTZ: (a, v) => a.appendTimestampTZ(new duckdb.DuckDBTimestampTZValue(BigInt(Date.parse(String(v))) * 1000n)),
    DOUBLE: (a, v) => a.appendDouble(Number(v)),
    INTEGER: (a, v) => a.appendInteger(Number(v)),
    BIGINT: (a, v) => a.appendBigInt(BigInt(v as number)),
    BOOLEAN: (a, v) => a.appendBoolean(Boolean(v)),
    "DECIMAL(38,9)": (a, v) => a.appendDecimal(new duckdb.DuckDBDecimalValue(decimalToNano(String(v)), 38, 9)),
    "VARCHAR[]": (a, v) => a.appendList(v as string[], stringList),
  };
  return (appender, records) => {
    for (const record of records) {
      for (const [name, type] of REQUEST_COLUMNS) {
        const value = record[name];
        if (value === null || value === undefined) appender.appendNull();
        else write[type](appender, value);
      }
      appender.endRow();
    }
  };
}

/** `"0.015384000"` → `15384000n` (scale 9), exactly. */
export function decimalToNano(text: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d{0,9}))?$/.exec(text);
  if (!match) throw new Error(`not a decimal with at most 9 places: ${text}`);
  const nano = BigInt(match[2] ?? "0") * 1_000_000_000n + BigInt((match[3] ?? "").padEnd(9, "0"));
  return match[1] ? -nano : nano;
}

async function assertReadOnly(duckdb: DuckDBModule, connection: DuckDBConnection, sql: string): Promise<void> {
  const allowed = new Set<number>([
    duckdb.StatementType.SELECT,
    duckdb.StatementType.EXPLAIN,
  ]);
  let extracted;
  try {
    extracted = await connection.extractStatements(sql);
  } catch (error) {
    throw new ReadOnlyQueryError((error as Error).message);
  }
  if (extracted.count !== 1) throw new ReadOnlyQueryError(`expected one statement, got ${extracted.count}`);
  const prepared = await extracted.prepare(0);
  const type = prepared.statementType;
  prepared.destroySync();
  if (!allowed.has(type)) {
    throw new ReadOnlyQueryError(`only read-only statements are allowed (got ${duckdb.StatementType[type] ?? type})`);
  }
}
