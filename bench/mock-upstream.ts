/**
 * The bench's upstream: as cheap as a Bun server can answer, so it is never
 * what is measured. Run as its own process (`bun bench/mock-upstream.ts`); it
 * prints `{"url": "http://127.0.0.1:PORT"}` on stdout once listening.
 *
 *   POST /v1/chat/completions  an OpenAI chat completion (~1 KB JSON, recorded fixture)
 *   POST /v1/messages          an Anthropic SSE stream (8 events), first event at once,
 *                              then one event every BENCH_STREAM_GAP_MS (default 1 ms); a body
 *                              without `"stream": true` gets a recorded Messages JSON answer instead
 *   POST /api/chat             an Ollama NDJSON stream (application/x-ndjson), one line per
 *                              chunk, paced the same way (bench/streams.ts)
 *   POST /model/{id}/converse-stream
 *                              a Bedrock ConverseStream (application/vnd.amazon.eventstream),
 *                              one binary message per chunk, paced the same way (bench/streams.ts)
 *   GET  /_stats               requests seen, by the `x-bench-target` request header
 *   GET  /_auth                the same, by target and then by the `authorization` header they
 *                              carried (bench/keys.ts: the stored provider key replaced the client's)
 *   GET  /_models              with BENCH_MOCK_MODELS=1: by target, then path and the body's `model`
 *                              (bench/routing.ts: a routed call reached the upstream with the rule's model)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

const FIXTURES = join(import.meta.dir, "..", "tests", "fixtures");
export const CHAT_JSON = readFileSync(join(FIXTURES, "openai", "chat-nonstream.json"), "utf8");
export const STREAM_SSE = readFileSync(join(FIXTURES, "anthropic", "messages-stream-cache.CONSTRUCTED.sse"), "utf8");
/** The Anthropic stream as the mock sends it: one SSE event per chunk. */
export const SSE_CHUNKS: Uint8Array[] = STREAM_SSE.split(/(?<=\n\n)/)
  .filter((e) => e.trim() !== "")
  .map((e) => new TextEncoder().encode(e));
/** An Ollama /api/chat stream (2 lines), one NDJSON line (with its newline) per chunk. */
export const NDJSON_CHUNKS: Uint8Array[] = readFileSync(join(FIXTURES, "ollama", "api-chat-stream.documented.ndjson"), "utf8")
  .split(/(?<=\n)/)
  .filter((l) => l.trim() !== "")
  .map((l) => new TextEncoder().encode(l));
export const MESSAGES_JSON = readFileSync(join(FIXTURES, "anthropic", "messages-nonstream-basic.json"), "utf8");
export const BEDROCK_STREAM = new Uint8Array(readFileSync(join(FIXTURES, "bedrock", "converse-stream.CONSTRUCTED.eventstream.bin")));
/** A Bedrock ConverseStream, one event-stream message per chunk (each starts with its total length, 4 bytes big-endian). */
export const EVENTSTREAM_CHUNKS: Uint8Array[] = splitEventStream(BEDROCK_STREAM);

export function splitEventStream(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; ) {
    const length = at + 4 <= bytes.byteLength ? view.getUint32(at) : 0;
    if (length < 16 || at + length > bytes.byteLength) throw new Error(`event stream: bad message length ${length} at byte ${at}`);
    out.push(bytes.subarray(at, at + length));
    at += length;
  }
  return out;
}

if (import.meta.main) {
  const gapMs = Number(process.env.BENCH_STREAM_GAP_MS ?? 1);
  const encoder = new TextEncoder();
  const chatBytes = encoder.encode(CHAT_JSON);
  const messagesBytes = encoder.encode(MESSAGES_JSON);
  // Reading each body's model costs the mock a decode and a regex per call: only bench/routing.ts asks for it.
  const countModels = process.env.BENCH_MOCK_MODELS === "1";
  const jsonHeaders = { "content-type": "application/json", "x-request-id": "req_bench_1", "openai-processing-ms": "1" };
  const messagesHeaders = { "content-type": "application/json", "request-id": "req_bench_1" };
  const sseHeaders = { "content-type": "text/event-stream; charset=utf-8", "request-id": "req_bench_1", "cache-control": "no-cache" };
  const ndjsonHeaders = { "content-type": "application/x-ndjson" };
  const eventStreamHeaders = { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "00000000-bench-0000-0000-000000000001" };
  /** The first chunk at once, then one every gapMs. */
  const paced = (chunks: Uint8Array[], headers: Record<string, string>) => {
    let i = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (i > 0) await Bun.sleep(gapMs);
        controller.enqueue(chunks[i++]!);
        if (i >= chunks.length) controller.close();
      },
    });
    return new Response(stream, { headers });
  };
  const seen: Record<string, number> = {};
  const auth: Record<string, Record<string, number>> = {};
  const models: Record<string, Record<string, number>> = {};

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: Number(process.env.BENCH_MOCK_PORT ?? 0),
    idleTimeout: 0,
    async fetch(req) {
      const path = req.url.slice(req.url.indexOf("/", 8));
      if (path === "/_stats") return Response.json(seen);
      if (path === "/_auth") return Response.json(auth);
      if (path === "/_models") return Response.json(models);
      const target = req.headers.get("x-bench-target") ?? "unknown";
      seen[target] = (seen[target] ?? 0) + 1;
      const byAuth = (auth[target] ??= {});
      const authorization = req.headers.get("authorization") ?? "(none)";
      byAuth[authorization] = (byAuth[authorization] ?? 0) + 1;
      // A real upstream reads the request; /v1/messages and the model count look into it.
      const text = countModels || path === "/v1/messages" ? await req.text() : (await req.arrayBuffer(), "");
      if (countModels) {
        const key = `${path} ${/"model"\s*:\s*"([^"]*)"/.exec(text)?.[1] ?? "(none)"}`;
        const byModel = (models[target] ??= {});
        byModel[key] = (byModel[key] ?? 0) + 1;
      }
      if (path === "/v1/chat/completions") return new Response(chatBytes, { headers: jsonHeaders });
      if (path === "/v1/messages") return /"stream"\s*:\s*true/.test(text) ? paced(SSE_CHUNKS, sseHeaders) : new Response(messagesBytes, { headers: messagesHeaders });
      if (path === "/api/chat") return paced(NDJSON_CHUNKS, ndjsonHeaders);
      if (path.startsWith("/model/") && path.endsWith("/converse-stream")) return paced(EVENTSTREAM_CHUNKS, eventStreamHeaders);
      return Response.json({ error: { message: `bench mock: nothing at ${path}` } }, { status: 404 });
    },
  });
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.port}` }));
}
