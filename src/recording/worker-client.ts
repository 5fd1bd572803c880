import type { AccessStore } from "../keys/access-store.ts";
import type { AnalyticsStore } from "../sinks/analytics.ts";
import type { DuckDBStore } from "../sinks/duckdb/duckdb-store.ts";
import type { RecordingSink } from "./journal-writer.ts";
import type { LiveRecord } from "./live-record.ts";
import type { AnalyticsCall, RecordingWorkerApi, RecordingWorkerOptions, WorkerEvent, WorkerReply, WorkerRequest } from "./worker-protocol.ts";

export interface RecordingWorkerEvents {
  /** The worker's own log lines (telemetry failures). */
  onLog?: (message: string) => void;
  /** What happened to the DuckDB file and what was done (duckdb-file.ts): each said once. */
  onNotice?: (message: string) => void;
  /** A call's response could not be read while its record was made (the record is stored anyway), or a sink failed. */
  onProblem?: (message: string) => void;
  /** New records stored, while the live tail is on. */
  onRecords?: (records: LiveRecord[]) => void;
}

/** The recording worker as the main thread sees it: the journal writer's sink, and the store's reads. */
export interface RecordingWorker extends RecordingSink, Pick<DuckDBStore, "queryReadOnly" | "checkpoint" | "exportParquet" | "prune"> {
  /** Records a previous run left in the journal, recorded and stored when the worker started. */
  readonly recovered: number;
  analytics: AnalyticsStore;
  /** The access definitions in the file the worker holds. */
  access: AccessStore;
  telemetryStats: RecordingWorkerApi["telemetryStats"];
  clickhouseStats: RecordingWorkerApi["clickhouseStats"];
  liveTail: RecordingWorkerApi["liveTail"];
  /** Sends every record's spans and metrics still to go (before `close`). */
  shutdownTelemetry(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the recording worker (recording-worker.ts) and opens it. */
export async function startRecordingWorker(options: RecordingWorkerOptions, events: RecordingWorkerEvents = {}): Promise<RecordingWorker> {
  const worker = new Worker(new URL("./recording-worker.ts", import.meta.url).href, { type: "module" });
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let closed = false;

  worker.onmessage = (event: MessageEvent<WorkerReply | WorkerEvent>) => {
    if ("event" in event.data) {
      const message = event.data;
      if (message.event === "records") events.onRecords?.(message.records);
      else if (message.event === "problem") events.onProblem?.(message.message);
      else if (message.event === "notice") events.onNotice?.(message.message);
      else events.onLog?.(message.message);
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
    for (const entry of waiting.values()) entry.reject(new Error(`recording worker failed: ${event.message}`));
    waiting.clear();
  };

  /** Asks the worker; the answer has the type the interface gives the method. */
  function call<K extends WorkerRequest["op"]>(op: K, ...args: Parameters<RecordingWorkerApi[K]>): ReturnType<RecordingWorkerApi[K]> {
    if (closed) return Promise.reject(new Error("the recording worker is closed")) as ReturnType<RecordingWorkerApi[K]>;
    const id = nextId++;
    return new Promise<unknown>((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, op, args });
    }) as ReturnType<RecordingWorkerApi[K]>;
  }

  const ask = <M extends keyof AnalyticsStore>(method: M) =>
    (async (...args: Parameters<AnalyticsStore[M]>) => {
      const text = await call("analytics", { method, args } as AnalyticsCall);
      return text === undefined ? undefined : (JSON.parse(text) as unknown);
    }) as AnalyticsStore[M];
  const analytics: AnalyticsStore = {
    listRequests: ask("listRequests"),
    getRequest: ask("getRequest"),
    summary: ask("summary"),
    timeseries: ask("timeseries"),
    breakdown: ask("breakdown"),
    sessions: ask("sessions"),
    session: ask("session"),
    users: ask("users"),
    projects: ask("projects"),
    usageSummary: ask("usageSummary"),
    rateLimits: ask("rateLimits"),
  };

  const recovered = await call("open", options);
  return {
    recovered,
    analytics,
    access: {
      loadAccess: () => call("loadAccess"),
      saveAccess: (stored) => call("saveAccess", stored),
      audit: (entry) => call("audit", entry),
      listAudit: (limit) => call("listAudit", limit),
      touchKeys: (used) => call("touchKeys", used),
    },
    recordFiles: (paths) => call("recordFiles", [...paths]),
    recordEvents: (list) => call("recordEvents", [...list]),
    telemetryStats: () => call("telemetryStats"),
    clickhouseStats: () => call("clickhouseStats"),
    liveTail: (on) => call("liveTail", on),
    shutdownTelemetry: () => call("shutdownTelemetry"),
    queryReadOnly: (sql, limits) => call("queryReadOnly", sql, limits),
    checkpoint: () => call("checkpoint"),
    exportParquet: (dir, since) => call("exportParquet", dir, since),
    prune: (days) => call("prune", days),
    async close() {
      try {
        await call("close");
      } finally {
        closed = true;
        worker.terminate();
      }
    },
  };
}
