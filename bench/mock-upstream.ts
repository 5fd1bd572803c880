/**
 * The bench's upstream: as cheap as a Bun server can answer, so it is never
 * what is measured. Run as its own process (`bun bench/mock-upstream.ts`); it
 * prints `{"url": "http://127.0.0.1:PORT"}` on stdout once listening.
 *
 *   POST /v1/chat/completions  an OpenAI chat completion (~1 KB JSON, recorded fixture)
 *   POST /v1/messages          an Anthropic SSE stream (8 events), first event at once,
 *                              then one event every BENCH_STREAM_GAP_MS (default 1 ms)
 *   GET  /_stats               requests seen, by the `x-bench-target` request header
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

const FIXTURES = join(import.meta.dir, "..", "tests", "fixtures");
export const CHAT_JSON = readFileSync(join(FIXTURES, "openai", "chat-nonstream.json"), "utf8");
export const STREAM_SSE = readFileSync(join(FIXTURES, "anthropic", "messages-stream-cache.CONSTRUCTED.sse"), "utf8");

if (import.meta.main) {
  const gapMs = Number(process.env.BENCH_STREAM_GAP_MS ?? 1);
  const encoder = new TextEncoder();
  const chatBytes = encoder.encode(CHAT_JSON);
  const events = STREAM_SSE.split(/(?<=\n\n)/)
    .filter((e) => e.trim() !== "")
    .map((e) => encoder.encode(e));
  const jsonHeaders = { "content-type": "application/json", "x-request-id": "req_bench_1", "openai-processing-ms": "1" };
  const sseHeaders = { "content-type": "text/event-stream; charset=utf-8", "request-id": "req_bench_1", "cache-control": "no-cache" };
  const seen: Record<string, number> = {};

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: Number(process.env.BENCH_MOCK_PORT ?? 0),
    idleTimeout: 0,
    async fetch(req) {
      const path = req.url.slice(req.url.indexOf("/", 8));
      if (path === "/_stats") return Response.json(seen);
      const target = req.headers.get("x-bench-target") ?? "unknown";
      seen[target] = (seen[target] ?? 0) + 1;
      await req.arrayBuffer(); // a real upstream reads the request
      if (path === "/v1/chat/completions") return new Response(chatBytes, { headers: jsonHeaders });
      if (path === "/v1/messages") {
        let i = 0;
        const stream = new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (i > 0) await Bun.sleep(gapMs);
            controller.enqueue(events[i++]!);
            if (i >= events.length) controller.close();
          },
        });
        return new Response(stream, { headers: sseHeaders });
      }
      return Response.json({ error: { message: `bench mock: nothing at ${path}` } }, { status: 404 });
    },
  });
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.port}` }));
}
