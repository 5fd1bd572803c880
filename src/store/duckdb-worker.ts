/**
 * Runs the DuckDB store on its own thread. Appender flushes and DuckDB's
 * automatic checkpoints (which can stall a commit for a second) then never
 * hold up the event loop that proxies requests.
 */
import { openDuckDBStore, type DuckDBStore } from "./duckdb-store.ts";
import type { WorkerReply, WorkerRequest } from "./worker-protocol.ts";
import { lowerStoragePriority } from "../runtime/background-priority.ts";

declare const self: Worker;
let store: DuckDBStore | undefined;
let backgroundPriority = false;

async function handle(request: WorkerRequest): Promise<unknown> {
  if (request.op === "open") {
    store = await openDuckDBStore(request.path);
    backgroundPriority = request.backgroundPriority;
    return null;
  }
  if (!store) throw new Error("store is not open");
  switch (request.op) {
    case "append":
      return store.append(request.ndjson);
    case "appendMissing":
      return store.appendMissing(request.ndjson);
    case "appendFiles":
      // Stored batches run at background priority: proxying comes first (background-priority.ts).
      if (backgroundPriority) await lowerStoragePriority();
      return store.appendFiles(request.paths, { lenient: request.lenient, missingOnly: request.missingOnly });
    case "query":
      return store.queryReadOnly(request.sql, request.limits);
    case "checkpoint":
      return store.checkpoint();
    case "exportParquet":
      return store.exportParquet(request.dir, request.since);
    case "prune":
      return store.prune(request.days);
    case "analytics": {
      const method = (store.analytics as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[request.method];
      if (!method) throw new Error(`no analytics method ${request.method}`);
      return method(...request.args);
    }
    case "close":
      store.close();
      store = undefined;
      return null;
  }
}

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  let reply: WorkerReply;
  try {
    reply = { id: request.id, ok: true, value: await handle(request) };
  } catch (error) {
    const e = error as Error;
    reply = { id: request.id, ok: false, name: e.name, message: e.message };
  }
  self.postMessage(reply);
};
