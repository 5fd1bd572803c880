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
  /** Records DuckDB refused and the sink kept aside (`<db>.rejected.ndjson`). */
  onRejected?: (count: number, message: string) => void;
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

/**
 * Starts the recording worker's thread, which loads its modules and DuckDB's
 * library at once: started first thing, it does so while the main thread
 * loads the rest of Loupe (bench/startup.ts). Nothing is opened until
 * `startRecordingWorker` is given it.
 */
export function spawnRecordingThread(): RecordingThread {
  // In the executable the worker is an entry point beside main.ts's (scripts/build.ts), named from there: its
  // bytecode keeps the import.meta.url of the source file it was built from, which need not exist where it runs.
  const worker = isExecutable()
    ? new Worker("./recording-worker.ts", { type: "module" })
    : new Worker(new URL("./recording-worker.ts", import.meta.url).href, { type: "module" });
  let warmedUp!: () => void;
  const warmUp = new Promise<void>((resolve) => (warmedUp = resolve));
  const thread: RecordingThread = {
    worker,
    failed: undefined,
    async stop() {
      // Terminated while DuckDB's addon initializes, the process aborts (Bun 1.4.5: an uncaught Napi::Error).
      await warmUp;
      worker.terminate();
    },
  };
  // An error before `startRecordingWorker` listens (its module failed to load) would otherwise go unseen, and `open` wait forever.
  worker.addEventListener("error", (event) => {
    thread.failed ??= event.message;
    warmedUp();
  });
  // `open` does not wait for the answer (id 0): a library that fails to load fails `open` again, with its reason.
  worker.addEventListener("message", (event: MessageEvent<WorkerReply | WorkerEvent>) => {
    if ("id" in event.data && event.data.id === 0) warmedUp();
  });
  worker.postMessage({ id: 0, op: "warmUp", args: [] } satisfies WorkerRequest);
  return thread;
}

const isExecutable = () => typeof Bun !== "undefined" && Bun.isStandaloneExecutable;

export interface RecordingThread {
  readonly worker: Worker;
  /** The thread's error, once it failed. */
  failed: string | undefined;
  /** Ends the thread unused (the command is not `serve` after all), once it has loaded DuckDB. */
  stop(): Promise<void>;
}

/** Opens the recording worker (recording-worker.ts) on `thread`, a new one unless one was started ahead. */
export async function startRecordingWorker(options: RecordingWorkerOptions, events: RecordingWorkerEvents = {}, thread = spawnRecordingThread()): Promise<RecordingWorker> {
  const { worker } = thread;
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let closed = false;

  worker.onmessage = (event: MessageEvent<WorkerReply | WorkerEvent>) => {
    if ("event" in event.data) {
      const message = event.data;
      if (message.event === "records") events.onRecords?.(message.records);
      else if (message.event === "problem") events.onProblem?.(message.message);
      else if (message.event === "notice") events.onNotice?.(message.message);
      else if (message.event === "rejected") events.onRejected?.(message.count, message.message);
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

  if (thread.failed !== undefined) {
    worker.terminate();
    throw new Error(`recording worker failed: ${thread.failed}`);
  }
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
