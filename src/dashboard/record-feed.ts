import type { LiveRecord } from "../recording/live-record.ts";

/**
 * New records for the live tail (`GET /api/stream`), fanned out to every
 * connected dashboard. The recording worker sends them only while someone
 * listens (`onDemand`), so a gateway nobody watches does no extra work.
 */
export interface RecordFeed {
  publish(records: readonly LiveRecord[]): void;
  subscribe(listener: (records: readonly LiveRecord[]) => void): () => void;
  readonly listeners: number;
}

export function createRecordFeed(onDemand: (listening: boolean) => void = () => {}): RecordFeed {
  const listeners = new Set<(records: readonly LiveRecord[]) => void>();
  return {
    publish(records) {
      for (const listener of listeners) listener(records);
    },
    subscribe(listener) {
      listeners.add(listener);
      if (listeners.size === 1) onDemand(true);
      return () => {
        if (listeners.delete(listener) && listeners.size === 0) onDemand(false);
      };
    },
    get listeners() {
      return listeners.size;
    },
  };
}
