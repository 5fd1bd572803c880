import { loadDuckDB } from "../../src/sinks/duckdb/load-duckdb.ts";

/** Runs `sql` over the Parquet files under `dir` (Hive-partitioned), read as view `p` in an in-memory DuckDB. */
export async function readParquet(dir: string, sql: string): Promise<Record<string, unknown>[]> {
  const duckdb = await loadDuckDB();
  const instance = await duckdb.DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  await connection.run(`CREATE VIEW p AS SELECT * FROM read_parquet('${dir}/**/*.parquet', hive_partitioning = true)`);
  const rows = (await connection.runAndReadAll(sql)).getRowObjectsJson();
  connection.closeSync();
  instance.closeSync();
  return rows as Record<string, unknown>[];
}
