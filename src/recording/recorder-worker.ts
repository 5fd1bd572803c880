/**
 * Runs the DuckDB store on its own thread, and beside it the export half of
 * telemetry: both are fed the journal's sealed segments. DuckDB's automatic
 * checkpoints (which can stall a commit for a second), span encoding and
 * metric aggregation then never hold up the event loop that proxies requests,
 * and with background priority they wait while calls need the CPU.
 *
 * Telemetry goes at the backend's pace: once DuckDB has a segment, the file
 * moves to a spool folder, and its records' spans are encoded only as fast as
 * the export backlog empties. A burst waits on disk, not in memory, and a
 * spool left by a crash is sent at the next start.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { lowerStoragePriority } from "../runtime/background-priority.ts";
import type { CallTelemetry } from "../telemetry/call-tracer.ts";
import { createTelemetryExport, type TelemetryExport } from "../sinks/otlp/create-telemetry.ts";
import type { RequestRecord } from "../record.ts";
import { openDuckDBStore, type DuckDBStore } from "../sinks/duckdb/duckdb-store.ts";
import type { WorkerEvent, WorkerReply, WorkerRequest } from "./worker-protocol.ts";

declare const self: Worker;
let store: DuckDBStore | undefined;
let backgroundPriority = false;
let telemetry: TelemetryExport | undefined;
let spoolDir = "";
const spool: string[] = [];
let spooling: Promise<void> | undefined;
let spooled = 0;

/** Spans and metrics of the records in NDJSON text that carry an `otel` part (record-writer.ts). */
async function emitTelemetry(exporter: TelemetryExport, ndjson: string): Promise<void> {
  let sinceCheck = 0;
  for (const line of ndjson.split("\n")) {
    // An unescaped `,"otel":` occurs only as the key itself (inside a JSON string the quote would be escaped).
    if (!line.includes(',"otel":')) continue;
    let row: RequestRecord & { otel?: CallTelemetry };
    try {
      row = JSON.parse(line);
    } catch {
      continue; // a torn line (its call never ended): no telemetry, as no record
    }
    if (++sinceCheck === 256) {
      sinceCheck = 0;
      await exporter.whenRoom();
    }
    if (row.otel) exporter.emit(row, row.otel);
  }
}

/** Sends the spooled segments' telemetry, oldest first, each file removed once done. */
function drainSpool(): Promise<void> {
  spooling ??= (async () => {
    while (telemetry && spool.length > 0) {
      const file = spool[0]!;
      await telemetry.whenRoom();
      try {
        await emitTelemetry(telemetry, readFileSync(file, "utf8"));
      } catch {
        // unreadable: nothing to send
      }
      rmSync(file, { force: true });
      spool.shift();
    }
  })().finally(() => (spooling = undefined));
  return spooling;
}

/** Moves stored segments to the spool (the journal forgets them) and starts sending. */
function spoolSegments(paths: string[]): void {
  for (const path of paths) {
    const target = join(spoolDir, `${String(++spooled).padStart(10, "0")}-${basename(path)}`);
    try {
      renameSync(path, target);
      spool.push(target);
    } catch {
      // gone already: nothing to send
    }
  }
  void drainSpool();
}

async function handle(request: WorkerRequest): Promise<unknown> {
  if (request.op === "open") {
    store = await openDuckDBStore(request.path, {
      pricesFile: request.pricesFile,
      onProblem(message) {
        const event: WorkerEvent = { event: "problem", message };
        self.postMessage(event);
      },
    });
    backgroundPriority = request.backgroundPriority;
    if (request.telemetry) {
      telemetry = createTelemetryExport(request.telemetry.config, request.telemetry.version, (message) => {
        const event: WorkerEvent = { event: "log", message: `telemetry: ${message}` };
        self.postMessage(event);
      });
      spoolDir = request.telemetry.spoolDir;
      mkdirSync(spoolDir, { recursive: true });
      // Left by a crash: stored, not yet sent.
      for (const name of readdirSync(spoolDir).sort()) spool.push(join(spoolDir, name));
      spooled = spool.length;
      void drainSpool();
    }
    return null;
  }
  if (!store) throw new Error("store is not open");
  switch (request.op) {
    case "append": {
      const text = new TextDecoder().decode(request.ndjson);
      await store.append(text);
      if (telemetry) void emitTelemetry(telemetry, text);
      return null;
    }
    case "appendFiles": {
      // Stored batches run at background priority: proxying comes first (background-priority.ts).
      if (backgroundPriority) await lowerStoragePriority();
      const added = await store.appendFiles(request.paths, { lenient: request.lenient, missingOnly: request.missingOnly });
      // Replayed records (missingOnly) had their chance at telemetry in the run that wrote them.
      if (telemetry && !request.missingOnly) spoolSegments(request.paths);
      return added;
    }
    case "telemetryStats":
      return telemetry?.stats() ?? null;
    case "telemetryShutdown":
      await drainSpool();
      return telemetry?.shutdown() ?? null;
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
