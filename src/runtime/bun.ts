import { loadFileMapping } from "./file-mapping.ts";
import { ensureFetchConcurrency } from "./fetch-concurrency.ts";
import { listenerUrl, type Runtime } from "./runtime.ts";

/** Bun: the primary runtime, and the one in the compiled executable. */
export const bunRuntime: Runtime = {
  describe: () => `Bun ${Bun.version}`,
  // Bun queues outgoing fetches past 256 at once unless told otherwise at start-up.
  prepareToServe: ensureFetchConcurrency,
  loadFileMapping,
  serve({ hostname, port, fetch }) {
    const server = Bun.serve({
      hostname,
      port,
      fetch: (request, server) => fetch(request, server.requestIP(request)?.address ?? ""),
      // A model may think for minutes before its first byte: never cut a quiet connection.
      idleTimeout: 0,
      // Loupe counts every body as it arrives (proxy/forward.ts, server.ts) and answers 413 in the
      // route's dialect; Bun's own limit would refuse first, in no dialect.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    });
    return {
      url: listenerUrl(server.hostname ?? hostname, server.port ?? port),
      stop: () => server.stop(true),
    };
  },
};
