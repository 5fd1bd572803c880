import { listenerUrl, type Runtime } from "./runtime.ts";

/** The part of Deno's global that is used here (the type checker knows Bun's globals only). */
declare const Deno: {
  version: { deno: string };
  serve(
    options: { hostname: string; port: number; onListen(address: { hostname: string; port: number }): void },
    handler: (request: Request, info: { remoteAddr: { hostname?: string } }) => Response | Promise<Response>,
  ): { readonly addr: { hostname: string; port: number }; shutdown(): Promise<void> };
};

/**
 * Deno 2 (`deno task start`). Documented fallbacks, as Deno has no bun:ffi:
 * the journal writes with write(2) instead of a shared mapping, storage runs
 * at normal priority, and the process is not started again with start-only
 * settings (those in fetch-concurrency.ts are Bun's).
 */
export const denoRuntime: Runtime = {
  describe: () => `Deno ${Deno.version.deno}`,
  prepareToServe: async () => undefined,
  loadFileMapping: async () => null,
  serve({ hostname, port, fetch }) {
    // Deno.serve has no idle timeout on a request in progress and no body size limit of its own.
    const server = Deno.serve({ hostname, port, onListen() {} }, (request, info) => fetch(askingForIdentity(request), info.remoteAddr.hostname ?? ""));
    return {
      url: listenerUrl(server.addr.hostname, server.addr.port),
      async stop() {
        // shutdown() closes the port at once, then waits for open connections: the process exits first.
        void server.shutdown();
      },
    };
  },
};

/**
 * Deno's fetch decodes every content coding it knows (gzip, br) and has no
 * switch to leave the bytes alone (denoland/deno#12291), yet keeps the
 * `content-encoding` header: the client would get decoded bytes labelled gzip.
 * Bun forwards the encoded bytes (`decompress: false`); on Deno the upstream is
 * asked for the identity coding instead (RFC 9110 §12.5.3), which every client
 * accepts. The incoming request's headers are immutable, hence a new Request
 * (same body stream, and its signal follows the client's).
 */
function askingForIdentity(request: Request): Request {
  const accepted = request.headers.get("accept-encoding");
  if (accepted === null || accepted === "identity") return request;
  const headers = new Headers(request.headers);
  headers.set("accept-encoding", "identity");
  return new Request(request, { headers });
}
