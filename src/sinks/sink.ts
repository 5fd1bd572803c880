/**
 * Where records go. A sink takes record segments (NDJSON files, one record
 * per line, as the recorder wrote them) and knows nothing of providers,
 * prices or the proxy. Each sink has its own cursor in the record queue
 * (recording/record-queue.ts): a slow or failing sink holds up no other.
 */
export interface RecordSink {
  /** The sink's name, its cursor's key: `duckdb`, `otlp` (and `clickhouse` in part 9). */
  readonly name: string;
  /**
   * Takes the records of these segments, oldest first; resolves once the sink
   * has them (it may then be given the next ones), rejects if it could not
   * (they are offered again later). `replay`: some may be there already, from
   * a run that stopped before its acknowledgement was saved.
   */
  take(paths: readonly string[], options: { replay: boolean }): Promise<void>;
}
