import type { TelemetryConfig } from "../telemetry/otel-config.ts";

export type WorkerRequest = { id: number } & (
  | { op: "open"; path: string; backgroundPriority: boolean; pricesFile: string | undefined; telemetry?: { config: TelemetryConfig; version: string; spoolDir: string } | undefined }
  | { op: "append"; ndjson: Uint8Array }
  | { op: "appendFiles"; paths: string[]; lenient: boolean; missingOnly: boolean }
  | { op: "telemetryStats" }
  | { op: "telemetryShutdown" }
  | { op: "query"; sql: string; limits?: { maxRows: number; timeoutMs: number } | undefined }
  | { op: "checkpoint" }
  | { op: "exportParquet"; dir: string; since?: string | undefined }
  | { op: "prune"; days: number }
  | { op: "analytics"; method: string; args: unknown[] }
  | { op: "close" }
);

export type WorkerReply = { id: number } & ({ ok: true; value: unknown } | { ok: false; name: string; message: string });

/** Sent by the worker unasked. */
export type WorkerEvent = { event: "log" | "problem"; message: string };
