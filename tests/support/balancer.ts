/**
 * A small round-robin load balancer for tests, standing in for nginx in
 * front of several gateways: each request goes to the next backend; one that
 * refuses the connection (dead) is skipped, as nginx's `proxy_next_upstream
 * error` does. Responses, streams included, pass through unbuffered.
 */
export interface Balancer {
  url: string;
  /** Requests each backend answered, by its index. */
  served: number[];
  stop(): Promise<void>;
}

export function startBalancer(backends: () => readonly string[]): Balancer {
  let next = 0;
  const served: number[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      // Buffered once, so the request can go to another backend if the first is dead.
      const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
      const list = backends();
      for (let tried = 0; tried < list.length; tried++) {
        const index = next++ % list.length;
        try {
          const answer = await fetch(`${list[index]}${url.pathname}${url.search}`, { method: request.method, headers: request.headers, body, redirect: "manual", decompress: false } as RequestInit);
          served[index] = (served[index] ?? 0) + 1;
          return new Response(answer.body, { status: answer.status, headers: answer.headers });
        } catch {
          // connection refused: the next backend
        }
      }
      return new Response("no backend answered", { status: 502 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, served, stop: () => server.stop(true) };
}
