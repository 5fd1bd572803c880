import { REQUEST_COLUMNS, type ColumnType, type RequestRecord } from "../../record.ts";

/**
 * Table `requests` in ClickHouse: the record's columns (record.ts) in types
 * that ClickHouse 18.16 (Debian's package) and current releases both have.
 * What 18.16 lacks, and how the table does without it:
 *
 * - DateTime64: the instant is `started_at_us` (Int64 µs since the epoch, what
 *   DuckDB's TIMESTAMPTZ keeps); `started_at` (DateTime, whole seconds, UTC) is
 *   computed from it for partitions and for people's SQL.
 * - Decimals sent as JSON strings: money goes in as `cost_nano` (Int64
 *   nano-USD, the same digits as DECIMAL(38,9)); `cost_usd` is computed from it
 *   as Decimal(38,9), so sums stay exact.
 * - Insert deduplication tokens: a record is stored once because the sink
 *   inserts only missing ids when a batch may be in already (replay, retry),
 *   and the engine is a ReplacingMergeTree keyed on (started_at_us, id), so a
 *   duplicate that slipped through (two replicas replaying the same journal,
 *   which the deployment rules out) is merged away and `FINAL` reads it once.
 * - Booleans: UInt8. JSON columns: String.
 * - query_params: the analytics queries inline literals (clickhouse-sql.ts).
 */

/** The columns computed by ClickHouse from others: never sent, always read. */
export const COMPUTED_COLUMNS = {
  started_at: "DateTime('UTC') DEFAULT toDateTime(intDiv(started_at_us, 1000000), 'UTC')",
  cost_usd: "Nullable(Decimal(38, 9)) DEFAULT CAST(cost_nano AS Nullable(Decimal(38, 9))) / 1000000000",
} as const;

/** Record columns that are never null: no Nullable wrapper (cheaper to store and to aggregate). */
const NOT_NULL = new Set<keyof RequestRecord>(["id", "duration_ms", "provider", "method", "path", "status", "streamed", "request_bytes", "response_bytes", "truncated", "billable", "attempts"]);

const BASE_TYPES: Record<ColumnType, string> = {
  VARCHAR: "String",
  TIMESTAMPTZ: "Int64",
  DOUBLE: "Float64",
  INTEGER: "Int32",
  BIGINT: "Int64",
  BOOLEAN: "UInt8",
  "DECIMAL(38,9)": "Int64",
  "VARCHAR[]": "Array(String)",
  JSON: "String",
};

/** The name a record column has in ClickHouse when its value is stored differently. */
const RENAMED: Partial<Record<keyof RequestRecord, string>> = { started_at: "started_at_us", cost_usd: "cost_nano" };

/** The stored columns, in the record's order: the name, and the ClickHouse type. */
export const CLICKHOUSE_COLUMNS: readonly (readonly [string, string])[] = REQUEST_COLUMNS.map(([name, type]) => {
  const base = BASE_TYPES[type];
  // Arrays cannot be Nullable: a call without tags has [].
  const nullable = !NOT_NULL.has(name) && type !== "VARCHAR[]" && name !== "started_at";
  return [RENAMED[name] ?? name, nullable ? `Nullable(${base})` : base] as const;
});

/** What the sink sends: every stored column, computed ones left to ClickHouse. */
export const INSERT_COLUMNS = CLICKHOUSE_COLUMNS.map(([name]) => name);

/** Every column of the table, stored then computed, with its definition. */
export function columnDefinitions(): [string, string][] {
  return [...CLICKHOUSE_COLUMNS.map(([name, type]) => [name, type] as [string, string]), ...Object.entries(COMPUTED_COLUMNS)];
}

/** Quotes an identifier (a database name) for ClickHouse. */
export const quoteName = (name: string) => `\`${name.replaceAll("\\", "\\\\").replaceAll("`", "\\`")}\``;

/**
 * The table, ordered for the analytics queries (a time range first) and
 * partitioned by month (retention drops whole partitions).
 */
export function createTableSql(database: string): string {
  const columns = columnDefinitions()
    .map(([name, type]) => `${name} ${type}`)
    .join(",\n  ");
  return `CREATE TABLE IF NOT EXISTS ${quoteName(database)}.requests (\n  ${columns}\n) ENGINE = ReplacingMergeTree\nPARTITION BY toYYYYMM(started_at)\nORDER BY (started_at_us, id)`;
}
