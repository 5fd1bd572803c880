import type { AccessStore } from "../keys/access-store.ts";
import type { DeclaredProvider } from "../providers/declare-provider.ts";
import type { AnalyticsStore } from "../sinks/analytics.ts";
import type { ClickHouseStats } from "../sinks/clickhouse/clickhouse-link.ts";
import type { QueryLimits, QueryResult } from "../sinks/duckdb/duckdb-store.ts";
import type { ParquetExportResult } from "../sinks/duckdb/parquet-export.ts";
import type { TelemetryStats } from "../sinks/otlp/create-telemetry.ts";
import type { TelemetryConfig } from "../telemetry/otel-config.ts";
import type { UnjournaledEvent } from "./journal-writer.ts";
import type { LiveRecord } from "./live-record.ts";

/** How the recording worker starts: where things are, and what to export. */
export interface RecordingWorkerOptions {
  /** The DuckDB file (`:memory:` allowed). */
  db: string;
  /** The journal folder: call events, the record queue and the price snapshot live there. */
  journalDir: string;
  backgroundPriority: boolean;
  /** LOUPE_JOURNAL_FSYNC is interval or always: record segments are synced before their journal segments go (pipeline.ts). */
  durable?: boolean | undefined;
  /** The operator's price file of this run (its calls are priced with it). */
  pricesFile: string | undefined;
  /** The providers this run's config file declares (its calls' records name them). */
  providers?: readonly DeclaredProvider[] | undefined;
  /** OpenTelemetry export, when on: the OTLP sink. */
  telemetry?: { config: TelemetryConfig; version: string } | undefined;
  /** The shared log, when on: the ClickHouse sink, and the store the analytics, SQL and exports read. */
  clickhouse?: { url: string; database: string; user?: string | undefined; password?: string | undefined; required: boolean } | undefined;
}

/** One analytics question, as it crosses to the worker. */
export type AnalyticsCall = { [M in keyof AnalyticsStore]: { method: M; args: Parameters<AnalyticsStore[M]> } }[keyof AnalyticsStore];

/**
 * Everything the main thread asks of the recording worker (recording-worker.ts
 * answers, worker-client.ts asks): the one typed interface of the boundary.
 * Arguments and results are plain data (structured clone).
 */
export interface RecordingWorkerApi {
  /** Loads DuckDB's library ahead of `open`, while the main thread loads the rest of Loupe (worker-client.ts). */
  warmUp(): Promise<void>;
  /** Opens DuckDB and the sinks, and records what a previous run left in the journal; returns how many records that made. */
  open(options: RecordingWorkerOptions): Promise<number>;
  recordFiles(paths: string[]): Promise<void>;
  recordEvents(events: UnjournaledEvent[]): Promise<void>;
  telemetryStats(): Promise<(TelemetryStats & { backlogSegments: number }) | null>;
  clickhouseStats(): Promise<(ClickHouseStats & { backlog_segments: number }) | null>;
  /** Sends every record's spans and metrics still to go, then stops export (SIGTERM). */
  shutdownTelemetry(): Promise<void>;
  queryReadOnly(sql: string, limits: QueryLimits | undefined): Promise<QueryResult>;
  checkpoint(): Promise<void>;
  exportParquet(dir: string, since: string | undefined): Promise<ParquetExportResult>;
  prune(days: number): Promise<number>;
  /**
   * The answer as JSON text (analytics answers are plain JSON data): one string crosses the boundary much faster
   * than a structured clone of thousands of objects (a 6,000-call session: 6 ms to write and 6 to read instead of 33).
   */
  analytics(call: AnalyticsCall): Promise<string | undefined>;
  /** Access definitions (keys, provider keys, limits, audit) in the DuckDB file this worker holds (sinks/duckdb/access-tables.ts). */
  loadAccess: AccessStore["loadAccess"];
  saveAccess: AccessStore["saveAccess"];
  audit: AccessStore["audit"];
  listAudit: AccessStore["listAudit"];
  touchKeys: AccessStore["touchKeys"];
  /** While on, each batch of new records stored in DuckDB is sent as a `records` event (the dashboard's live tail). */
  liveTail(on: boolean): Promise<void>;
  close(): Promise<void>;
}

export type WorkerOp = keyof RecordingWorkerApi;

export type WorkerRequest = { [K in WorkerOp]: { id: number; op: K; args: Parameters<RecordingWorkerApi[K]> } }[WorkerOp];

export type WorkerReply = { id: number } & ({ ok: true; value: unknown } | { ok: false; name: string; message: string });

/** Sent by the worker unasked. `notice`: a line for the operator, said once by the worker already (never throttled again). */
export type WorkerEvent =
  | { event: "log" | "problem" | "notice"; message: string }
  | { event: "records"; records: LiveRecord[] }
  /** Records DuckDB refused, kept aside (duckdb-sink.ts): how many, and the line that says where. */
  | { event: "rejected"; count: number; message: string };
