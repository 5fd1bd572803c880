import type { Server } from "bun";

/**
 * An HTTP backend's front door that a test can break: `up` forwards each
 * request to `target` (a real backend: the OTLP receiver), `hang` accepts
 * and never answers (a backend stuck on a lock), `down` closes the port
 * (connection refused), and `up` again reopens it on the same port.
 */
export interface FaultyFront {
  url: string;
  mode(): "up" | "hang" | "down";
  set(mode: "up" | "hang" | "down"): Promise<void>;
  /** Requests answered (forwarded) and left hanging so far. */
  counts: { forwarded: number; hung: number };
  stop(): Promise<void>;
}

export async function startFaultyFront(target: string): Promise<FaultyFront> {
  let mode: "up" | "hang" | "down" = "up";
  const counts = { forwarded: 0, hung: 0 };
  const hanging: (() => void)[] = [];
  const listen = (port: number): Server<undefined> =>
    Bun.serve({
      hostname: "127.0.0.1",
      port,
      idleTimeout: 0,
      async fetch(request) {
        if (mode === "hang") {
          counts.hung++;
          // Never answered while hanging; let go (with a 503) when the test moves on, so no socket outlives it.
          return new Promise<Response>((resolve) => hanging.push(() => resolve(new Response(null, { status: 503 }))));
        }
        counts.forwarded++;
        const url = new URL(request.url);
        return fetch(`${target}${url.pathname}${url.search}`, { method: request.method, headers: request.headers, body: await request.arrayBuffer() });
      },
    });
  let server: Server<undefined> | undefined = listen(0);
  const port = server.port!;
  const release = () => hanging.splice(0).forEach((let_go) => let_go());
  return {
    url: `http://127.0.0.1:${port}`,
    mode: () => mode,
    counts,
    async set(next) {
      if (next !== "hang") release();
      if (next === "down" && server) {
        await server.stop(true);
        server = undefined;
      }
      if (next !== "down" && !server) server = listen(port);
      mode = next;
    },
    async stop() {
      release();
      await server?.stop(true);
      server = undefined;
    },
  };
}
