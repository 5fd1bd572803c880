import { createRoutingSettings } from "../../src/routing/routing-settings.ts";
import { createCircuitBreaker } from "../../src/routing/circuit-breaker.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { z } from "zod";
import { collectProviderSettings, loadConfig, type Config } from "../../src/config.ts";
import { LoupeError } from "../../src/errors.ts";
import { loadPriceBook } from "../../src/pricing/load-prices.ts";
import type { FrameDecoder, PrepareContext, Provider, UpstreamRequest } from "../../src/providers/contract.ts";
import { defineOpenAICompatible } from "../../src/providers/define-openai-compatible.ts";
import { forward, type ProxyDeps } from "../../src/proxy/forward.ts";
import type { CallEvent } from "../../src/recording/call-event.ts";
import { recordCall } from "../../src/recording/recorder.ts";
import { createUpstreamDeadlines } from "../../src/proxy/upstream-deadline.ts";
import type { RequestRecord } from "../../src/record.ts";

/**
 * The optional provider hooks, exercised through the proxy with providers
 * made up for the purpose: `upstream.prepare` (the last word on the upstream
 * request), `frames` (a body framing the observer does not know), and a
 * `settings` fragment merged into config.
 */

interface Seen {
  path: string;
  headers: Headers;
  body: string;
}
const seen: Seen[] = [];
let upstream: Server<undefined>;

/** A toy binary framing: 2-byte big-endian length, then that many bytes of JSON. */
function frame(json: unknown): Uint8Array {
  const payload = new TextEncoder().encode(JSON.stringify(json));
  const out = new Uint8Array(2 + payload.length);
  new DataView(out.buffer).setUint16(0, payload.length);
  out.set(payload, 2);
  return out;
}
const FRAMED = Buffer.concat([frame({ type: "start", model: "m-1" }), frame({ type: "delta", text: "hi" }), frame({ type: "stop", usage: { in: 12, out: 34 } })]);

function createToyFrames(): FrameDecoder {
  let pending = new Uint8Array(0);
  const utf8 = new TextDecoder();
  return {
    feed(chunk, emit) {
      const joined = new Uint8Array(pending.length + chunk.length);
      joined.set(pending), joined.set(chunk, pending.length);
      let at = 0;
      while (joined.length - at >= 2) {
        const size = (joined[at]! << 8) | joined[at + 1]!;
        if (joined.length - at - 2 < size) break;
        emit(utf8.decode(joined.subarray(at + 2, at + 2 + size)), undefined);
        at += 2 + size;
      }
      pending = joined.slice(at);
    },
    end() {},
  };
}

beforeAll(() => {
  upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      seen.push({ path: url.pathname + url.search, headers: request.headers, body: await request.text() });
      if (url.pathname.endsWith("/framed")) {
        // Cut at odd places: frames arrive split across chunks.
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < FRAMED.length; i += 5) controller.enqueue(FRAMED.subarray(i, i + 5));
            controller.close();
          },
        });
        return new Response(stream, { headers: { "content-type": "application/x-toy-frames" } });
      }
      const chunk = { id: "c1", model: "gpt-4o-mini", choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage: { prompt_tokens: 7, completion_tokens: 3 } };
      return new Response(`data: ${JSON.stringify(chunk)}\n\ndata: [DONE]\n\n`, { headers: { "content-type": "text/event-stream" } });
    },
  });
});
afterAll(() => upstream.stop(true));

const priceBook = loadPriceBook(undefined);
/** The proxy's deps, with the recorder run on each event it writes (the records it would get). */
function depsFor(config: Config, records: RequestRecord[]): ProxyDeps {
  const record = (line: string, body?: Uint8Array) => void records.push(recordCall(JSON.parse(line) as CallEvent, body, priceBook).recorded.record);
  return {
    config,
    routing: createRoutingSettings(config.routing),
    providerOf: () => undefined,
    breaker: createCircuitBreaker(),
    record,
    recordLater: record,
    baseUrlOf: (adapter) => (config.upstreams as Record<string, string | undefined>)[adapter.id] || adapter.upstream.baseUrl,
    fetch: (url, init) => fetch(url, init),
    onInternalError: (message) => {
      throw new Error(message);
    },
    onFailure: (error) => {
      throw error;
    },
    deadlines: createUpstreamDeadlines(5_000),
  };
}

const base = () => `http://127.0.0.1:${upstream.port}`;
const chatBody = JSON.stringify({ model: "gpt-4o-mini", stream: true, messages: [] });
const post = (path: string, body = chatBody) => new Request(`http://loupe.test${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer client-key" }, body });

describe("upstream.prepare", () => {
  const calls: { request: UpstreamRequest; context: PrepareContext }[] = [];
  const acme: Provider = {
    ...defineOpenAICompatible({ id: "acme", baseUrl: "https://api.acme.test" }),
    upstream: {
      baseUrl: "https://api.acme.test",
      async prepare(request, context) {
        calls.push({ request, context });
        if (request.headers["x-test-fail"] === "auth") throw new LoupeError("unauthorized", "no acme credentials configured");
        if (request.headers["x-test-fail"] === "bug") throw new Error("signer exploded");
        const body = new TextEncoder().encode(JSON.stringify({ ...JSON.parse(new TextDecoder().decode(request.body)), deployment: context.settings.deployment }));
        return { ...request, url: request.url.replace("/v1/", `/deployments/${String(context.settings.deployment)}/`), headers: { ...request.headers, authorization: "Bearer injected" }, body };
      },
    },
  };
  const config = { ...loadConfig({ env: { LOUPE_OPENAI_BASE_URL: "http://unused.test" } }), upstreams: { acme: "" }, providerSettings: { acme: { deployment: "east-1" } } } as unknown as Config;

  test("its URL, headers and body are what the upstream gets; it sees the provider's settings and the endpoint", async () => {
    const records: RequestRecord[] = [];
    const withBase = { ...config, upstreams: { acme: base() } } as unknown as Config;
    const response = await forward(post("/acme/v1/chat/completions"), { adapter: acme, upstreamPath: "/v1/chat/completions" }, depsFor(withBase, records));
    expect(response.status).toBe(200);
    await response.text();
    const got = seen.at(-1)!;
    expect(got.path).toBe("/deployments/east-1/chat/completions");
    expect(got.headers.get("authorization")).toBe("Bearer injected");
    expect(JSON.parse(got.body)).toMatchObject({ model: "gpt-4o-mini", deployment: "east-1" });
    const { request, context } = calls.at(-1)!;
    expect(request.url).toBe(`${base()}/v1/chat/completions`);
    expect(request.headers.authorization).toBe("Bearer client-key");
    expect(context).toMatchObject({ settings: { deployment: "east-1" }, path: "/v1/chat/completions", endpoint: { operation: "chat" } });
    expect(records).toMatchObject([{ provider: "acme", status: 200, input_tokens: 7, output_tokens: 3 }]);
  });

  test("a LoupeError it throws is answered in the provider's dialect with its status, and recorded", async () => {
    const records: RequestRecord[] = [];
    const request = new Request("http://loupe.test/acme/v1/chat/completions", { method: "POST", headers: { "x-test-fail": "auth" }, body: chatBody });
    const response = await forward(request, { adapter: acme, upstreamPath: "/v1/chat/completions" }, depsFor(config, records));
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: { message: "no acme credentials configured", type: "invalid_request_error", param: null, code: "unauthorized" } });
    expect(records).toMatchObject([{ provider: "acme", status: 401, error_type: "unauthorized" }]);
  });

  test("any other error is a 500, recorded", async () => {
    const records: RequestRecord[] = [];
    const request = new Request("http://loupe.test/acme/v1/chat/completions", { method: "POST", headers: { "x-test-fail": "bug" }, body: chatBody });
    const response = await forward(request, { adapter: acme, upstreamPath: "/v1/chat/completions" }, depsFor(config, records));
    expect(response.status).toBe(500);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain("signer exploded");
    expect(records).toMatchObject([{ status: 500, error_type: "internal" }]);
  });
});

describe("frames", () => {
  const toy: Provider = {
    ...defineOpenAICompatible({ id: "toy", baseUrl: "https://api.toy.test" }),
    frames: (contentType) => (contentType.startsWith("application/x-toy-frames") ? createToyFrames : undefined),
    endpoint: () => ({
      operation: "chat",
      billable: true,
      readRequest: () => ({ model: "m-1", streamed: true }),
      createStreamReader() {
        const facts: { responseModel?: string; usage?: { inputTokens: number; outputTokens: number } } = {};
        return {
          onEvent(data) {
            const event = JSON.parse(data);
            if (event.type === "start") facts.responseModel = event.model;
            if (event.usage) facts.usage = { inputTokens: event.usage.in, outputTokens: event.usage.out };
          },
          result: () => facts,
        };
      },
    }),
  };

  test("a provider's decoder reads its binary stream as it passes; the client gets the bytes unchanged", async () => {
    const records: RequestRecord[] = [];
    const config = { ...loadConfig({ env: {} }), upstreams: { toy: base() } } as unknown as Config;
    const response = await forward(post("/toy/framed"), { adapter: toy, upstreamPath: "/framed" }, depsFor(config, records));
    expect(Buffer.from(await response.arrayBuffer()).equals(FRAMED)).toBe(true);
    expect(records).toMatchObject([{ provider: "toy", response_model: "m-1", input_tokens: 12, output_tokens: 34, streamed: true }]);
  });

  test("other content types keep the usual decoders (SSE here)", async () => {
    const records: RequestRecord[] = [];
    const config = { ...loadConfig({ env: {} }), upstreams: { toy: base() } } as unknown as Config;
    const sse: Provider = { ...toy, endpoint: defineOpenAICompatible({ id: "toy", baseUrl: "https://api.toy.test" }).endpoint };
    const response = await forward(post("/toy/v1/chat/completions"), { adapter: sse, upstreamPath: "/v1/chat/completions" }, depsFor(config, records));
    await response.text();
    expect(records).toMatchObject([{ input_tokens: 7, output_tokens: 3 }]);
  });
});

describe("settings", () => {
  const regional = { id: "regional", settings: z.object({ region: z.string().min(1), maxRetries: z.coerce.number().int().default(2) }) };

  test("a provider's fragment is merged into config: <id><Key>, LOUPE_<ID>_<KEY>, --<id>-<key>", () => {
    expect(collectProviderSettings([regional]).owners).toEqual([
      { key: "regionalRegion", id: "regional", name: "region" },
      { key: "regionalMaxRetries", id: "regional", name: "maxRetries" },
    ]);
    const fromEnv = loadConfig({ env: { LOUPE_REGIONAL_REGION: "eu-west-1", LOUPE_REGIONAL_BASE_URL: "https://eu.regional.test/" }, providers: [regional] });
    expect(fromEnv.providerSettings as unknown).toEqual({ regional: { region: "eu-west-1", maxRetries: 2 } });
    expect(fromEnv.upstreams as unknown).toEqual({ regional: "https://eu.regional.test" });
    const fromFlag = loadConfig({ env: {}, flags: { "--regional-region": "us-east-2", "--regional-max-retries": "5" }, providers: [regional] });
    expect(fromFlag.providerSettings as unknown).toEqual({ regional: { region: "us-east-2", maxRetries: 5 } });
    expect(() => loadConfig({ env: { LOUPE_REGIONAL_REGION: "", LOUPE_REGIONAL_MAX_RETRIES: "many" }, providers: [regional] })).toThrow(/--regional-max-retries \/ LOUPE_REGIONAL_MAX_RETRIES/);
  });

  test("every registered provider's base URL comes from LOUPE_<ID>_BASE_URL or --<id>-base-url", () => {
    expect(loadConfig({ env: { LOUPE_GROQ_BASE_URL: "http://127.0.0.1:9/" } }).upstreams).toEqual({ groq: "http://127.0.0.1:9" });
    expect(loadConfig({ env: {}, flags: { "--groq-base-url": "https://groq.internal.test" } }).upstreams).toEqual({ groq: "https://groq.internal.test" });
    expect(loadConfig({ env: {} }).providerSettings).toEqual({});
  });
});
