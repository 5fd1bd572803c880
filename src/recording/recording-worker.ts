/**
 * The recording worker: its own thread, at background priority, off the
 * request path. It turns the journal's sealed segments into records (the one
 * record maker: recorder.ts) and feeds them to the sinks side by side —
 * DuckDB, and OTLP when telemetry is on (pipeline.ts). It also answers the
 * analytics and SQL questions, as DuckDB's file is held here. DuckDB's
 * automatic checkpoints (which can stall a commit for a second), record
 * making, span encoding and metric aggregation then never hold up the event
 * loop that proxies requests; with background priority they wait while calls
 * need the CPU.
 */
import { readFileSync } from "node:fs";
import { lowerStoragePriority } from "../runtime/background-priority.ts";
import type { AnalyticsStore } from "../sinks/analytics.ts";
import type { ClickHouseLink } from "../sinks/clickhouse/clickhouse-link.ts";
import type { createClickHouseSql } from "../sinks/clickhouse/clickhouse-sql.ts";
import { createDuckDBSink } from "../sinks/duckdb/duckdb-sink.ts";
import { openDuckDBFile } from "../sinks/duckdb/duckdb-file.ts";
import type { DuckDBStore } from "../sinks/duckdb/duckdb-store.ts";
import { loadDuckDB } from "../sinks/duckdb/load-duckdb.ts";
import { createTelemetryExport, type TelemetryExport } from "../sinks/otlp/create-telemetry.ts";
import { createOtlpSink } from "../sinks/otlp/otlp-sink.ts";
import type { RecordSink } from "../sinks/sink.ts";
import { toLiveRecord, type LiveRecord } from "./live-record.ts";
import { openPipeline, type Pipeline } from "./pipeline.ts";
import { journalPriceBook, snapshotPrices } from "./price-snapshot.ts";
import { journalProviders, snapshotProviders } from "./provider-snapshot.ts";
import type { RecordingWorkerApi, WorkerEvent, WorkerReply, WorkerRequest } from "./worker-protocol.ts";

declare const self: Worker;
/** How long SIGTERM waits for the OTLP sink to send what is queued. */
const SHUTDOWN_EXPORT_MS = 10_000;
/** How long a read waits for ClickHouse to take this replica's latest records before it answers without them. */
const CLICKHOUSE_CATCH_UP_MS = 2_000;
let store: DuckDBStore | undefined;
let pipeline: Pipeline | undefined;
let telemetry: TelemetryExport | undefined;
let clickhouse: ClickHouseLink | undefined;
/** With ClickHouse as the log: the analytics and people's SQL over it (every replica's records). */
let shared: { analytics: AnalyticsStore; sql: ReturnType<typeof createClickHouseSql>; close(): Promise<void> } | undefined;
let backgroundPriority = false;
let liveTail = false;

const post = (event: WorkerEvent) => self.postMessage(event);

/** The live tail: new records, read back from their segments only while the main thread asks for them. */
function postLiveRecords(paths: readonly string[]) {
  if (!liveTail) return;
  try {
    const records: LiveRecord[] = [];
    for (const path of paths) for (const line of readFileSync(path, "utf8").split("\n")) if (line) records.push(toLiveRecord(line));
    if (records.length > 0) post({ event: "records", records });
  } catch (error) {
    post({ event: "problem", message: `live tail: ${(error as Error).message}` });
  }
}

function opened(): { store: DuckDBStore; pipeline: Pipeline } {
  if (!store || !pipeline) throw new Error("the recording worker is not open");
  return { store, pipeline };
}

const api: RecordingWorkerApi = {
  async warmUp() {
    await loadDuckDB();
  },
  async open(options) {
    store = await openDuckDBFile(options.db, { log: (message) => post({ event: "notice", message }) });
    backgroundPriority = options.backgroundPriority;
    const sinks: RecordSink[] = [
      createDuckDBSink(store, { onStored: postLiveRecords, rejectedFile: `${options.db}.rejected.ndjson`, onRejected: (count, message) => post({ event: "rejected", count, message }) }),
    ];
    if (options.telemetry) {
      telemetry = createTelemetryExport(options.telemetry.config, options.telemetry.version, (message) => post({ event: "log", message: `telemetry: ${message}` }));
      sinks.push(createOtlpSink(telemetry));
    }
    if (options.clickhouse) {
      const { required, ...where } = options.clickhouse;
      // The ClickHouse client is loaded only when ClickHouse is configured (start-up time: bench/startup.ts).
      const [{ createClickHouseLink }, { createClickHouseSink }, { createClickHouseAnalytics }, { quoteName }, { createClickHouseSql, createClickHouseSqlSource }] = await Promise.all([
        import("../sinks/clickhouse/clickhouse-link.ts"),
        import("../sinks/clickhouse/clickhouse-sink.ts"),
        import("../sinks/clickhouse/clickhouse-analytics.ts"),
        import("../sinks/clickhouse/clickhouse-schema.ts"),
        import("../sinks/clickhouse/clickhouse-sql.ts"),
      ]);
      clickhouse = createClickHouseLink(where);
      // Unreachable at start: with `required`, the gateway does not start; else records wait in the journal until it answers.
      await clickhouse.open().catch((error: Error) => {
        if (required) throw error;
      });
      sinks.push(createClickHouseSink(clickhouse));
      const link = clickhouse;
      const sqlSource = createClickHouseSqlSource(where);
      shared = {
        analytics: createClickHouseAnalytics({ table: `${quoteName(where.database)}.requests`, rows: (sql) => link.use((store) => store.rows(sql)) }),
        sql: createClickHouseSql(sqlSource),
        close: () => sqlSource.close(),
      };
    }
    // What a previous run left is recorded with the book and declared providers that run used; then this run's take over.
    const leftBook = journalPriceBook(options.journalDir);
    const leftProviders = journalProviders(options.journalDir);
    pipeline = openPipeline({ journalDir: options.journalDir, sinks, priceBook: leftBook, providers: leftProviders, onProblem: (message) => post({ event: "problem", message }), durable: options.durable });
    const recovered = await pipeline.replay(leftBook, leftProviders);
    snapshotPrices(options.journalDir, options.pricesFile);
    snapshotProviders(options.journalDir, options.providers ?? []);
    pipeline.usePriceBook(journalPriceBook(options.journalDir), journalProviders(options.journalDir));
    return recovered;
  },
  async recordFiles(paths) {
    // Recording and storing run at background priority: proxying comes first (background-priority.ts).
    if (backgroundPriority) await lowerStoragePriority();
    await opened().pipeline.recordFiles(paths);
  },
  recordEvents: (events) => opened().pipeline.recordEvents(events),
  async telemetryStats() {
    return telemetry ? { ...telemetry.stats(), backlogSegments: opened().pipeline.backlog("otlp") } : null;
  },
  async clickhouseStats() {
    return clickhouse ? { ...clickhouse.stats(), backlog_segments: opened().pipeline.backlog("clickhouse") } : null;
  },
  async shutdownTelemetry() {
    if (!telemetry) return;
    // Spans still to go get a few seconds; what a dead backend does not take stays in the record queue for the next start.
    await Promise.race([opened().pipeline.drain(), new Promise((resolve) => setTimeout(resolve, SHUTDOWN_EXPORT_MS))]);
    await telemetry.shutdown();
  },
  async queryReadOnly(sql, limits) {
    if (!shared) return opened().store.queryReadOnly(sql, limits);
    await catchUpClickHouse();
    return shared.sql.queryReadOnly(sql, limits);
  },
  checkpoint: () => opened().store.checkpoint(),
  // With ClickHouse as the log, the export is of every replica's records, read back from it.
  exportParquet: (dir, since) =>
    clickhouse
      ? clickhouse.use(async (shared) => (await import("../sinks/clickhouse/clickhouse-export.ts")).exportClickHouseParquet(shared, dir, since))
      : opened().store.exportParquet(dir, since),
  async prune(days) {
    // The shared log too (every replica runs it; deleting what is gone already is a no-op). A mutation, applied in the background.
    if (clickhouse) {
      const cutoffUs = (Date.now() - days * 86_400_000) * 1000;
      await clickhouse.use((shared) => shared.run(`ALTER TABLE ${shared.table} DELETE WHERE started_at_us < ${cutoffUs}`)).catch((error: Error) => post({ event: "problem", message: `retention in ClickHouse: ${error.message}` }));
    }
    return opened().store.prune(days);
  },
  async analytics(call) {
    const analytics = await analyticsStore();
    // One method per question; its arguments crossed the boundary as they were typed (worker-protocol.ts).
    const method = analytics[call.method] as (...args: typeof call.args) => Promise<unknown>;
    const answer = await method.apply(analytics, call.args);
    return answer === undefined ? undefined : JSON.stringify(answer);
  },
  loadAccess: () => opened().store.access.loadAccess(),
  saveAccess: (stored) => opened().store.access.saveAccess(stored),
  audit: (entry) => opened().store.access.audit(entry),
  listAudit: (limit) => opened().store.access.listAudit(limit),
  touchKeys: (used) => opened().store.access.touchKeys(used),
  async liveTail(on) {
    liveTail = on;
  },
  async close() {
    await shared?.close();
    shared = undefined;
    await clickhouse?.close();
    clickhouse = undefined;
    await opened().store.close();
    store = undefined;
    pipeline = undefined;
  },
};

/**
 * Where the analytics questions go: DuckDB, or ClickHouse when it is the log
 * (every replica's records). A read first gives ClickHouse this replica's
 * latest records, for a little while: an answer includes the calls just made.
 */
async function analyticsStore(): Promise<AnalyticsStore> {
  if (!shared) return opened().store.analytics;
  await catchUpClickHouse();
  return shared.analytics;
}

/** Gives ClickHouse this replica's latest records, waiting CLICKHOUSE_CATCH_UP_MS at most. */
async function catchUpClickHouse(): Promise<void> {
  const { pipeline } = opened();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise((resolve) => (timer = setTimeout(resolve, CLICKHOUSE_CATCH_UP_MS)));
  await Promise.race([pipeline.catchUp("clickhouse").catch(() => {}), waited]);
  clearTimeout(timer);
}

/** Calls the method a request names with its arguments. */
function invoke(request: WorkerRequest): Promise<unknown> {
  const method = api[request.op] as (...args: typeof request.args) => Promise<unknown>;
  return method.apply(api, request.args);
}

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  let reply: WorkerReply;
  try {
    reply = { id: request.id, ok: true, value: await invoke(request) };
  } catch (error) {
    const e = error as Error;
    reply = { id: request.id, ok: false, name: e.name, message: e.message };
  }
  self.postMessage(reply);
};
