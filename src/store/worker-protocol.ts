import type { RequestRecord } from "../record.ts";

export type WorkerRequest = { id: number } & (
  | { op: "open"; path: string }
  | { op: "append"; records: RequestRecord[] }
  | { op: "appendMissing"; records: RequestRecord[] }
  | { op: "query"; sql: string }
  | { op: "checkpoint" }
  | { op: "close" }
);

export type WorkerReply = { id: number } & ({ ok: true; value: unknown } | { ok: false; name: string; message: string });
