/**
 * The baseline: a bare pass-through proxy with no parsing, recording or
 * header policy. `UPSTREAM=http://127.0.0.1:9999 bun bench/bare-proxy.ts`
 * prints `{"url": …}` on stdout once listening (PORT=0 by default).
 */
const upstream = process.env.UPSTREAM ?? "http://127.0.0.1:9999";
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  idleTimeout: 0,
  async fetch(req) {
    const headers = new Headers(req.headers);
    headers.delete("host");
    const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
    const path = req.url.slice(req.url.indexOf("/", 8));
    return fetch(upstream + path, { method: req.method, headers, body, redirect: "manual" });
  },
});
console.log(JSON.stringify({ url: `http://127.0.0.1:${server.port}` }));
