import type { Server } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { verifySigV4, type SigV4Check } from "./aws-sigv4.ts";
import { FIXTURES, fixtureHttp, fixtureText, sseEvent, sseEvents } from "./fixtures.ts";

/**
 * A local stand-in for the providers' APIs that answers
 * with recorded wire traffic (tests/fixtures), quirks included. Tests steer it
 * with request headers the gateway forwards like any other:
 *   x-mock-fixture: <fixture path>    answer with this fixture
 *   x-mock-status: <code>             status for a JSON fixture
 *   x-mock-frame: sse                 send a one-line JSON fixture as one SSE event (a documented stream chunk)
 *   x-mock-delay-ms: <ms>             wait before headers
 *   x-mock-event-delay-ms: <ms>       wait between stream events
 *   x-mock-drop-after: <n>            cut the connection after n events
 *   x-mock-stream-usage: when-asked   the stream fixture was recorded with include_usage: send it without
 *                                     usage unless the request asks (as /v1/chat/completions always does)
 *   x-mock-headers: <json object>     add (or replace) these response headers, whatever the answer
 *                                     (rate-limit headers a provider sends with it)
 * A request signed with AWS SigV4 is verified as AWS would (aws-sigv4.ts):
 * a wrong signature is refused with AWS's 403. `*.eventstream.bin` fixtures
 * are sent as AWS event streams, one message per chunk.
 */
export interface CapturedRequest {
  method: string;
  url: string;
  path: string;
  headers: Headers;
  body: Uint8Array;
  json: any;
  /** The SigV4 verdict, for a request signed with it. */
  sigv4?: SigV4Check;
}

export interface MockUpstream {
  url: string;
  requests: CapturedRequest[];
  /** What the mock sent back for each request, byte for byte. */
  sent: Uint8Array<ArrayBuffer>[];
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The content type the mock answers a fixture with. */
export function contentTypeFor(name: string): string {
  if (name.endsWith(".sse")) return "text/event-stream; charset=utf-8";
  if (name.endsWith(".ndjson")) return "application/x-ndjson";
  if (name.endsWith(".eventstream.bin")) return "application/vnd.amazon.eventstream";
  return "application/json";
}

/** Which fixture answers a request when the test did not pick one. */
function defaultFixture(path: string, json: any): string | undefined {
  if (path === "/v1/messages") return json?.stream ? "anthropic/messages-stream-sdk-basic.sse" : "anthropic/messages-nonstream-basic.json";
  if (path === "/v1/messages/count_tokens") return "anthropic/count-tokens-response.CONSTRUCTED.json";
  if (path === "/v1/models" ) return "anthropic/models-list.CONSTRUCTED.json";
  if (path === "/v1/chat/completions") return json?.stream ? "openai/chat-stream-include-usage-modern.CONSTRUCTED.sse" : "openai/chat-nonstream.json";
  // Groq's OpenAI-compatible API lives under /openai/v1.
  if (path === "/openai/v1/chat/completions") return json?.stream ? "groq/chat-stream-x_groq-tail.abridged.sse" : "groq/chat-nonstream.third-party-fixture.json";
  if (path === "/v1/responses") return json?.stream ? "openai/responses-stream-modern.CONSTRUCTED.sse" : "openai/responses-nonstream.json";
  if (path.endsWith(":streamGenerateContent")) return "gemini/streamGenerateContent-2.5-flash-thoughts.js-genai-recording.sse";
  if (path.endsWith(":generateContent")) return "gemini/generateContent-2.5-flash-cache-thoughts.js-genai-recording.json";
  if (path.endsWith(":countTokens")) return "gemini/countTokens.js-genai-recording.json";
  // Ollama's native API (the ollama SDK always sends `stream`; the API itself streams when it is absent).
  if (path === "/api/chat") return json?.stream === false ? "ollama/api-chat-nonstream.documented.json" : "ollama/api-chat-stream.documented.ndjson";
  if (path === "/api/generate") return json?.stream === false ? "ollama/api-generate-nonstream.documented.json" : "ollama/api-generate-stream.documented.ndjson";
  if (path === "/api/embed") return "ollama/api-embed.documented.json";
  // Bedrock Runtime: /model/{modelId}/{action}
  if (path.startsWith("/model/")) {
    if (path.endsWith("/converse")) return "bedrock/converse-nonstream.CONSTRUCTED.json";
    if (path.endsWith("/converse-stream")) return "bedrock/converse-stream.CONSTRUCTED.eventstream.bin";
    if (path.endsWith("/invoke")) return "bedrock/invoke.anthropic.CONSTRUCTED.json";
    if (path.endsWith("/invoke-with-response-stream")) return "bedrock/invoke-with-response-stream.anthropic.CONSTRUCTED.eventstream.bin";
  }
  return undefined;
}

/**
 * OpenAI only sends stream usage when asked (`stream_options.include_usage`):
 * without it, chunks have no `usage` key and there is no usage chunk. The
 * fixtures were recorded with it on, so the "off" stream is derived here by
 * re-serialising each chunk without `usage`.
 */
function withoutStreamUsage(events: string[]): string[] {
  const out: string[] = [];
  for (const event of events) {
    const data = /^data: (.*)$/m.exec(event)?.[1];
    if (!data || !data.startsWith("{")) {
      out.push(event);
      continue;
    }
    const chunk = JSON.parse(data);
    if (Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage) continue;
    delete chunk.usage;
    out.push(event.replace(data, () => JSON.stringify(chunk)));
  }
  return out;
}

export async function startMockUpstream(): Promise<MockUpstream> {
  const requests: CapturedRequest[] = [];
  const sent: Uint8Array<ArrayBuffer>[] = [];
  const encoder = new TextEncoder();

  const server: Server<undefined> = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const extra = req.headers.get("x-mock-headers");
      const response = await answer(req);
      if (extra) for (const [name, value] of Object.entries(JSON.parse(extra) as Record<string, string>)) response.headers.set(name, value);
      return response;
    },
  });

  async function answer(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const body = new Uint8Array(await req.arrayBuffer());
    let json: any;
    try {
      json = body.byteLength ? JSON.parse(new TextDecoder().decode(body)) : undefined;
    } catch {
      json = undefined;
    }
    const captured: CapturedRequest = { method: req.method, url: req.url, path: url.pathname, headers: req.headers, body, json };
    requests.push(captured);
    const h = req.headers;
    if (h.get("authorization")?.startsWith("AWS4-HMAC-SHA256")) {
      captured.sigv4 = await verifySigV4(req, body);
      const refused = captured.sigv4.error;
      if (refused) {
        const answer = JSON.stringify({ message: refused.message });
        sent.push(encoder.encode(answer));
        return new Response(answer, { status: 403, headers: { "content-type": "application/json", "x-amzn-errortype": `${refused.type}:http://internal.amazon.com/coral/com.amazon.coral.service/`, "x-amzn-requestid": "mock-sigv4-refused" } });
      }
    }
    const delay = Number(h.get("x-mock-delay-ms") ?? 0);
    if (delay) await sleep(delay);
    const name = h.get("x-mock-fixture") ?? defaultFixture(url.pathname, json);
    if (!name) return Response.json({ error: { message: `mock: nothing at ${url.pathname}` } }, { status: 404 });

    if (name.endsWith(".http")) {
      const fixture = fixtureHttp(name);
      sent.push(encoder.encode(fixture.body));
      return new Response(fixture.body, { status: fixture.status, headers: fixture.headers });
    }
    if (name.endsWith(".eventstream.bin")) return eventStream(name, h, sent);
    const text = fixtureText(name);
    const status = Number(h.get("x-mock-status") ?? 200);
    const headers = new Headers({ "content-type": contentTypeFor(name), "request-id": "req_mock_1", "x-request-id": "req_mock_1" });
    if (name.includes("error-404-on-stream-endpoint")) {
      // Gemini's recorded quirk: a failed stream answers 404 with a JSON body labelled text/event-stream.
      sent.push(encoder.encode(text));
      return new Response(text, { status: 404, headers: { "content-type": "text/event-stream" } });
    }
    if (h.get("x-mock-frame") === "sse") {
      const event = sseEvent(text);
      sent.push(encoder.encode(event));
      return new Response(event, { status, headers: { ...Object.fromEntries(headers), "content-type": contentTypeFor(".sse") } });
    }
    if (!name.endsWith(".sse") && !name.endsWith(".ndjson")) {
      sent.push(encoder.encode(text));
      return new Response(text, { status, headers });
    }

    let events = name.endsWith(".ndjson") ? text.split(/(?<=\n)/).filter((l) => l.trim()) : sseEvents(text);
    // OpenAI's own recordings (only they hold usage a client did not ask for), and any fixture a test marks so;
    // other providers' fixtures are served as they were sent.
    const usageWhenAsked = (url.pathname === "/v1/chat/completions" && name.startsWith("openai/")) || h.get("x-mock-stream-usage") === "when-asked";
    if (usageWhenAsked && json?.stream_options?.include_usage !== true) events = withoutStreamUsage(events);
    const eventDelay = Number(h.get("x-mock-event-delay-ms") ?? 0);
    const dropAfter = h.has("x-mock-drop-after") ? Number(h.get("x-mock-drop-after")) : Infinity;
    const all: Uint8Array[] = [];
    let i = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (i >= dropAfter) {
          sent.push(concat(all));
          controller.error(new Error("mock: connection dropped"));
          return;
        }
        if (i >= events.length) {
          sent.push(concat(all));
          controller.close();
          return;
        }
        if (eventDelay && i > 0) await sleep(eventDelay);
        const bytes = encoder.encode(events[i++]);
        all.push(bytes);
        controller.enqueue(bytes);
      },
    });
    return new Response(stream, { status, headers });
  }
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    sent,
    stop: () => server.stop(true),
  };
}

/**
 * An AWS event stream fixture (binary), one message per chunk as Bedrock
 * sends them; a length that cannot be a message sends the rest in one chunk.
 */
function eventStream(name: string, h: Headers, sent: Uint8Array<ArrayBuffer>[]): Response {
  const bytes = new Uint8Array(readFileSync(join(FIXTURES, name)));
  const messages: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = bytes.length - at >= 4 ? new DataView(bytes.buffer, at, 4).getUint32(0) : 0;
    const end = size >= 16 && at + size <= bytes.length ? at + size : bytes.length;
    messages.push(bytes.subarray(at, end));
    at = end;
  }
  const eventDelay = Number(h.get("x-mock-event-delay-ms") ?? 0);
  const dropAfter = h.has("x-mock-drop-after") ? Number(h.get("x-mock-drop-after")) : Infinity;
  const all: Uint8Array[] = [];
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i >= dropAfter || i >= messages.length) {
        sent.push(concat(all));
        if (i >= messages.length) controller.close();
        else controller.error(new Error("mock: connection dropped"));
        return;
      }
      if (eventDelay && i > 0) await sleep(eventDelay);
      const message = messages[i++]!;
      all.push(message);
      controller.enqueue(message);
    },
  });
  const headers = { "content-type": contentTypeFor(name), "x-amzn-requestid": "mock-bedrock-request-1", "x-amzn-bedrock-content-type": "application/json" };
  return new Response(stream, { status: Number(h.get("x-mock-status") ?? 200), headers });
}

export function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) out.set(p, offset), (offset += p.byteLength);
  return out;
}
