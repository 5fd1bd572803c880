import type { FileMapping } from "./file-mapping.ts";

/**
 * What Loupe needs from the runtime beyond web standards and node: modules,
 * one implementation per runtime (bun.ts, deno.ts); main.ts picks one at start.
 * Pieces that run in the storage worker (background-priority.ts) and the
 * compiled executable's DuckDB (sinks/duckdb/load-duckdb.ts) check for Bun
 * themselves, as a worker cannot be handed this object.
 */
export interface Runtime {
  /** Name and version, e.g. `Bun 1.4.5`, for the start-up line. */
  describe(): string;
  /**
   * Before `serve` does anything else: settings the runtime reads only at
   * process start. Resolves `undefined` to go on, or the exit code of a child
   * that ran the program instead (fetch-concurrency.ts).
   */
  prepareToServe(): Promise<number | undefined>;
  /** Shared memory mappings for the journal's files; null: the journal writes with write(2). */
  loadFileMapping(): Promise<FileMapping | null>;
  /** Listens at once on `hostname:port` (0: any free port). */
  serve(options: ServeOptions): Listener;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  /**
   * Answers every request, told the address of the peer that sent it (the
   * login throttle counts by it: dashboard/login-throttle.ts). It limits
   * request bodies itself (LOUPE_MAX_BODY_BYTES), to answer 413 in the route's
   * dialect: the runtime sets no limit of its own.
   */
  fetch(request: Request, clientAddress: string): Response | Promise<Response>;
}

export interface Listener {
  /** `http://host:port`, IPv6 hosts in brackets. */
  readonly url: string;
  /** Closes the port; open connections end with it on Bun, with the process on Deno. */
  stop(): Promise<void>;
}

export function listenerUrl(hostname: string, port: number): string {
  return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}
