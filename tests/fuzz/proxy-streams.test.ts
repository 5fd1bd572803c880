import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { createGate, NO_LIMITS } from "../../src/gate/create-gate.ts";
import { createAccessBook } from "../../src/keys/access-book.ts";
import { createSecrets } from "../../src/keys/secrets.ts";
import { tempDir } from "../support/gateway.ts";
import { harness } from "../support/app-harness.ts";
import { anyChunks, cutAnywhere, runs, text, TIMEOUT, utf8 } from "./arbitraries.ts";

/**
 * The same promise at the proxy, where it matters: whatever bytes an upstream
 * streams, however cut, the client's stream never errors — passed through it
 * is the upstream's bytes exactly; translated (a routing rule to the other
 * chat format) it ends in the client dialect's closing or error event — and
 * the call is recorded.
 */

const dir = tempDir("loupe-fuzz-proxy-");
const config = join(dir, "config.json");
writeFileSync(
  config,
  JSON.stringify({ routing: [{ match: { model: "routed" }, to: { provider: "anthropic", model: "claude-x" } }, { match: { model: "claude-routed" }, to: { provider: "openai", model: "gpt-x" } }] }),
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A call routed to another provider goes with that provider's stored key.
const env = { LOUPE_CONFIG: config, LOUPE_SECRET: "fuzz-secret-0123456789abcdef" };
const secrets = createSecrets(env.LOUPE_SECRET);
const book = createAccessBook(secrets, {
  keys: [],
  providerKeys: [
    { id: "pk_fuzzfuzzfuzz", provider: "anthropic", project: null, sealed: secrets.seal("sk-ant-stored"), fingerprint: "00000000", created_at: new Date().toISOString() },
    { id: "pk_fuzzfuzzfuzy", provider: "openai", project: null, sealed: secrets.seal("sk-stored"), fingerprint: "00000001", created_at: new Date().toISOString() },
  ],
  limits: [],
});
const gate = createGate(loadConfig({ env }), book, NO_LIMITS);

/** An upstream answering with these chunks, as a stream of the given content type. */
function appStreaming(chunks: Uint8Array[], contentType: string) {
  return harness(
    () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            for (const chunk of chunks) controller.enqueue(chunk);
            controller.close();
          },
        }),
        { status: 200, headers: { "content-type": contentType } },
      ),
    env,
    { gate },
  );
}

/** A streamed chat call; `includeUsage`: the client asked for stream usage itself, so Loupe edits nothing. */
const chat = (model: string, includeUsage = false) =>
  new Request("http://gw.test/openai/v1/chat/completions", {
    method: "POST",
    headers: { authorization: "Bearer sk-1", "content-type": "application/json" },
    body: JSON.stringify({ model, stream: true, messages: [{ role: "user", content: "hi" }], ...(includeUsage ? { stream_options: { include_usage: true } } : {}) }),
  });

/** SSE-ish upstream bytes: event lines of Messages and Chat, JSON fragments, anything; cut anywhere. */
const sseish = fc
  .array(
    fc.oneof(
      fc.constantFrom("event: message_start\n", 'data: {"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":3}}}\n\n', 'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'),
      fc.constantFrom('data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}\n\n', 'data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}\n\n'),
      fc.constantFrom('data: {"type":"message_stop"}\n\n', 'data: {"choices":[{"delta":{"content":"y"}}]}\n\n', "data: [DONE]\n\n", ": ping\n\n", "\r\n", "data: {", 'event: error\ndata: {"type":"error","error":{"message":"boom"}}\n\n'),
      text(20),
    ),
    { maxLength: 10 },
  )
  .chain((parts) => cutAnywhere(utf8.encode(parts.join(""))));

describe("streams through the proxy", () => {
  test(
    "passed through: the client reads the upstream's bytes exactly, and one record is made",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(sseish, anyChunks), fc.constantFrom("text/event-stream", "application/x-ndjson", "application/json"), async (chunks, type) => {
          const app = appStreaming(chunks, type);
          const response = await app.fetch(chat("gpt-x", true));
          expect(Buffer.from(await response.arrayBuffer())).toEqual(Buffer.concat(chunks));
          expect(app.records()).toHaveLength(1);
        }),
        runs(100),
      );
    },
    TIMEOUT,
  );

  test(
    "with the stream usage Loupe asked for taken out again: the client reads the upstream's text (UTF-8 decoded, as any SSE client reads it), and one record is made",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(sseish, anyChunks), async (chunks) => {
          const app = appStreaming(chunks, "text/event-stream");
          const response = await app.fetch(chat("gpt-x"));
          const sent = new TextDecoder().decode(Buffer.concat(chunks));
          // Only the usage chunk and the `"usage":null` Loupe's request added are taken out; these chunks have neither.
          expect(await response.text()).toBe(sent);
          expect(app.records()).toHaveLength(1);
        }),
        runs(100),
      );
    },
    TIMEOUT,
  );

  test(
    "translated (Chat client, Messages upstream): the client's stream ends in [DONE] or an error chunk, and one record is made",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(sseish, anyChunks), async (chunks) => {
          const app = appStreaming(chunks, "text/event-stream");
          const response = await app.fetch(chat("routed"));
          const body = await response.text();
          const last = body.trimEnd().split("\n\n").at(-1) ?? "";
          expect({ body, ends: last === "data: [DONE]" || last.startsWith('data: {"error":') }).toEqual({ body, ends: true });
          expect(app.records()).toHaveLength(1);
          expect(app.records()[0]).toMatchObject({ routed_provider: "anthropic" });
        }),
        runs(100),
      );
    },
    TIMEOUT,
  );

  test(
    "translated (Messages client, Chat upstream): the client's stream ends in message_stop or an error event, and one record is made",
    async () => {
      const messages = () =>
        new Request("http://gw.test/anthropic/v1/messages", {
          method: "POST",
          headers: { "x-api-key": "sk-ant-1", "anthropic-version": "2023-06-01", "content-type": "application/json" },
          body: JSON.stringify({ model: "claude-routed", max_tokens: 10, stream: true, messages: [{ role: "user", content: "hi" }] }),
        });
      await fc.assert(
        fc.asyncProperty(fc.oneof(sseish, anyChunks), async (chunks) => {
          const app = appStreaming(chunks, "text/event-stream");
          const body = await (await app.fetch(messages())).text();
          const last = body.trimEnd().split("\n\n").at(-1) ?? "";
          expect({ body, ends: last.startsWith("event: message_stop\n") || last.startsWith("event: error\n") }).toEqual({ body, ends: true });
          expect(app.records()).toHaveLength(1);
          expect(app.records()[0]).toMatchObject({ routed_provider: "openai" });
        }),
        runs(100),
      );
    },
    TIMEOUT,
  );
});
