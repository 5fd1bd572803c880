import type { AnalyticsStore } from "../sinks/analytics.ts";
import type { DuckDBStore, QueryResult } from "../sinks/duckdb/duckdb-store.ts";
import type { TelemetryConfig } from "../telemetry/otel-config.ts";
import type { TelemetryStats } from "../sinks/otlp/create-telemetry.ts";
import type { WorkerEvent, WorkerReply, WorkerRequest } from "./worker-protocol.ts";

type Op = WorkerRequest extends infer R ? (R extends { op: infer O } ? O : never) : never;
type Body<O extends Op> = Omit<Extract<WorkerRequest, { op: O }>, "id" | "op">;

export interface WorkerStoreOptions {
  backgroundPriority: boolean;
  /** Export spans and metrics of the records stored from journal segments (create-telemetry.ts). */
  /** `spoolDir`: where stored segments wait for their telemetry to go out. */
  telemetry?: { config: TelemetryConfig; version: string; spoolDir: string } | undefined;
  /** The worker's own log lines (telemetry failures). */
  onLog?: (message: string) => void;
  /** The operator's price file, for the records the store completes (deferred-record.ts). */
  pricesFile?: string | undefined;
  /** A call's response could not be read while its record was completed (the record is stored anyway). */
  onProblem?: (message: string) => void;
}

/** The store's worker also runs telemetry export: its counters, and its last export at shutdown. */
export interface WorkerStore extends DuckDBStore {
  telemetryStats(): Promise<TelemetryStats>;
  /** Exports the spans and metrics still pending (before `close`). */
  shutdownTelemetry(): Promise<void>;
}

/** The DuckDB store, running in a worker thread (see duckdb-worker.ts). */
export async function openWorkerStore(path: string, options: WorkerStoreOptions): Promise<WorkerStore> {
  const worker = new Worker(new URL("./recorder-worker.ts", import.meta.url).href, { type: "module" });
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let closed = false;

  worker.onmessage = (event: MessageEvent<WorkerReply | WorkerEvent>) => {
    if ("event" in event.data) {
      if (event.data.event === "problem") options.onProblem?.(event.data.message);
      else options.onLog?.(event.data.message);
      return;
    }
    const reply = event.data;
    const entry = waiting.get(reply.id);
    if (!entry) return;
    waiting.delete(reply.id);
    if (reply.ok) entry.resolve(reply.value);
    else {
      // Errors keep their name across the thread boundary (callers tell user errors apart by it).
      const error = new Error(reply.message);
      error.name = reply.name;
      entry.reject(error);
    }
  };
  worker.onerror = (event) => {
    for (const entry of waiting.values()) entry.reject(new Error(`DuckDB worker failed: ${event.message}`));
    waiting.clear();
  };

  function call<O extends Op>(op: O, body: Body<O>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (closed) return Promise.reject(new Error("store is closed"));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, op, ...body }, transfer);
    });
  }
  // Batches cross to the worker as bytes whose buffer is transferred, not copied
  // (posting the string cost ~10 µs per record in bench/).
  const bytes = (ndjson: string | Uint8Array) => (typeof ndjson === "string" ? new TextEncoder().encode(ndjson) : ndjson);

  await call("open", { path, backgroundPriority: options.backgroundPriority, pricesFile: options.pricesFile, telemetry: options.telemetry });
  const analyticsMethods: (keyof AnalyticsStore)[] = ["listRequests", "getRequest", "summary", "timeseries", "breakdown", "sessions", "session", "users", "usageSummary"];
  const analytics = Object.fromEntries(
    analyticsMethods.map((method) => [method, (...args: unknown[]) => call("analytics", { method, args })]),
  ) as unknown as AnalyticsStore;
  return {
    analytics,
    async append(ndjson) {
      const data = bytes(ndjson);
      await call("append", { ndjson: data }, [data.buffer as ArrayBuffer]);
    },
    appendFiles: async (paths, { lenient, missingOnly = false }) => Number(await call("appendFiles", { paths, lenient, missingOnly })),
    telemetryStats: async () => (await call("telemetryStats", {})) as TelemetryStats,
    shutdownTelemetry: async () => void (await call("telemetryShutdown", {})),
    queryReadOnly: async (sql, limits) => (await call("query", { sql, limits })) as QueryResult,
    checkpoint: async () => void (await call("checkpoint", {})),
    exportParquet: async (dir, since) => (await call("exportParquet", { dir, since })) as never,
    prune: async (days) => Number(await call("prune", { days })),
    async close() {
      try {
        await call("close", {});
      } finally {
        closed = true;
        worker.terminate();
      }
    },
  };
}
