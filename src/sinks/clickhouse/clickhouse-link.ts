import { ClickHouseError } from "@clickhouse/client";
import { ClickHouseUnavailableError, openClickHouseStore, redactUrl, type ClickHouseOptions, type ClickHouseRow, type ClickHouseStore } from "./clickhouse-store.ts";

/** The ClickHouse side's health, for `/livez` and the start-up log. */
export interface ClickHouseStats {
  url: string;
  database: string;
  /** The store opened (credentials checked, table there) and the last request succeeded. */
  connected: boolean;
  version: string | null;
  /** Rows this process inserted. */
  inserted: number;
  /** The last failure, while not connected. */
  last_error: string | null;
}

/**
 * ClickHouse as the gateway holds it: opened when first needed and opened
 * again after a failure, so a ClickHouse that is down at start (or goes away)
 * only makes records wait in the journal. Each use that fails closes the
 * store; the next one opens it again (the pipeline spaces the tries).
 */
export interface ClickHouseLink {
  /** Opens now if not open; throws what went wrong. */
  open(): Promise<ClickHouseStore>;
  insert(rows: readonly ClickHouseRow[], options?: { missingOnly?: boolean }): Promise<number>;
  /** Runs `use` on the open store; a failure marks the link down. */
  use<T>(use: (store: ClickHouseStore) => Promise<T>): Promise<T>;
  stats(): ClickHouseStats;
  close(): Promise<void>;
}

/** Server errors that mean the store must be opened again: unknown database or table, authentication failed, wrong password. */
const LINK_ERROR_CODES = new Set(["60", "81", "192", "193", "516"]);

/**
 * ClickHouse's error code when the server answered with an error: the client's
 * `code`, or `Code: N` at the start of the message (how 18.16 words its
 * errors, which the client does not parse); undefined for a failure to reach it.
 */
function serverErrorCode(error: unknown): string | undefined {
  if (error instanceof ClickHouseError && /^\d+$/.test(error.code)) return error.code;
  return /^Code: (\d+)/.exec(String((error as Error)?.message ?? ""))?.[1];
}

export function createClickHouseLink(options: ClickHouseOptions): ClickHouseLink {
  let store: ClickHouseStore | undefined;
  let opening: Promise<ClickHouseStore> | undefined;
  let lastError: string | null = null;
  let version: string | null = null;
  let inserted = 0;
  let closed = false;

  function open(): Promise<ClickHouseStore> {
    if (store) return Promise.resolve(store);
    if (closed) return Promise.reject(new Error("ClickHouse link closed"));
    opening ??= openClickHouseStore(options).then(
      (opened) => {
        store = opened;
        version = opened.version;
        lastError = null;
        opening = undefined;
        return opened;
      },
      (error: Error) => {
        lastError = error.message;
        opening = undefined;
        throw error;
      },
    );
    return opening;
  }

  async function use<T>(work: (store: ClickHouseStore) => Promise<T>): Promise<T> {
    const current = await open();
    try {
      const result = await work(current);
      lastError = null;
      return result;
    } catch (error) {
      // ClickHouse answered with an error (a query it refused): the connection is fine, the caller's problem.
      const code = serverErrorCode(error);
      if (code !== undefined && !LINK_ERROR_CODES.has(code)) throw error;
      lastError = `ClickHouse at ${redactUrl(options.url)}: ${(error as Error).message}`;
      // The server is gone or the table is (credentials changed, database dropped): the next use checks it all again.
      if (store === current) store = undefined;
      void current.close().catch(() => {});
      throw new ClickHouseUnavailableError(lastError, { cause: error });
    }
  }

  return {
    open,
    use,
    async insert(rows, insertOptions) {
      const sent = await use((s) => s.insert(rows, insertOptions));
      inserted += sent;
      return sent;
    },
    stats: () => ({ url: redactUrl(options.url), database: options.database, connected: store !== undefined && lastError === null, version, inserted, last_error: lastError }),
    async close() {
      closed = true;
      await store?.close().catch(() => {});
      store = undefined;
    },
  };
}
