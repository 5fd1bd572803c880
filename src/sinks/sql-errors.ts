/**
 * What running people's SQL (`/api/sql`, `loupe sql`) answers, whichever
 * store holds the log: DuckDB's sandbox and vetting (duckdb/sql-sandbox.ts,
 * duckdb/sql-guard.ts) or ClickHouse's (clickhouse/clickhouse-sql.ts). The
 * errors are answered by name (errors.ts): a refused query is 400, one that
 * ran too long 408.
 */

export interface QueryResult {
  columns: string[];
  rows: unknown[][];
  /** More rows matched than were returned. */
  truncated?: boolean;
}

export interface QueryLimits {
  maxRows: number;
  timeoutMs: number;
}

export class UnsafeQueryError extends Error {
  override name = "UnsafeQueryError";
}

/** The store cannot run a user's query as written (an unknown column, a cast that fails …): the caller's to fix. */
export class InvalidQueryError extends Error {
  override name = "InvalidQueryError";
}

export class QueryTimeoutError extends Error {
  override name = "QueryTimeoutError";
  constructor(readonly timeoutMs: number) {
    super(`query timed out after ${timeoutMs} ms`);
  }
}
