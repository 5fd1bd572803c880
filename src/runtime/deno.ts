import { listenerUrl, type Runtime } from "./runtime.ts";

/** The part of Deno's global that is used here (the type checker knows Bun's globals only). */
declare const Deno: {
  version: { deno: string };
  serve(
    options: { hostname: string; port: number; onListen(address: { hostname: string; port: number }): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { readonly addr: { hostname: string; port: number }; shutdown(): Promise<void> };
};

/**
 * Deno 2 (`deno task start`). Documented fallbacks, as Deno has no bun:ffi:
 * the journal writes with write(2) instead of a shared mapping, storage runs
 * at normal priority, and the process is not started again with start-only
 * settings (those in fetch-concurrency.ts are Bun's).
 */
export const denoRuntime: Runtime = {
  name: "deno",
  describe: () => `Deno ${Deno.version.deno}`,
  prepareToServe: async () => undefined,
  loadFileMapping: async () => null,
  serve({ hostname, port, fetch }) {
    // Deno.serve has no idle timeout on a request in progress and no body size limit of its own.
    const server = Deno.serve({ hostname, port, onListen() {} }, fetch);
    return {
      url: listenerUrl(server.addr.hostname, server.addr.port),
      async stop() {
        // shutdown() closes the port at once, then waits for open connections: the process exits first.
        void server.shutdown();
      },
    };
  },
};
