import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Endpoint, ResponseFacts } from "../../src/providers/contract.ts";
import { declareProvider } from "../../src/providers/declare-provider.ts";
import { providers } from "../../src/providers/registry.ts";
import { loadPriceBook } from "../../src/pricing/load-prices.ts";
import type { CallEvent } from "../../src/recording/call-event.ts";
import { recordCall, recordedLine } from "../../src/recording/recorder.ts";
import type { RequestRecord } from "../../src/record.ts";
import { openDuckDBStore, type DuckDBStore } from "../../src/sinks/duckdb/duckdb-store.ts";
import type { Usage } from "../../src/usage/usage.ts";
import { anyJson, looseJson, runs, text, TIMEOUT, utf8 } from "./arbitraries.ts";

/**
 * Every provider's usage readers (whole bodies and stream events) on JSON of
 * any shape: no throw, and usage that the record and its cost can hold —
 * counts are absent or non-negative safe integers, a provider's own cost is
 * absent or a finite non-negative amount. Then the whole way down: whatever
 * an upstream (or a client) sends, the record it makes is one DuckDB stores.
 */

/** Paths of every wire format Loupe reads; each provider serves some of them. */
const PATHS = [
  "/v1/chat/completions",
  "/v1/responses",
  "/v1/embeddings",
  "/v1/completions",
  "/openai/v1/chat/completions",
  "/openai/deployments/dep/chat/completions",
  "/openai/deployments/dep/embeddings",
  "/v1/messages",
  "/v1beta/models/m:generateContent",
  "/v1beta/models/m:streamGenerateContent",
  "/v1beta/models/m:embedContent",
  "/v1/projects/p/locations/us-central1/publishers/google/models/m:generateContent",
  "/v1/projects/p/locations/us-central1/publishers/google/models/m:streamGenerateContent",
  "/v1/projects/p/locations/us-central1/publishers/anthropic/models/m:rawPredict",
  "/v1/projects/p/locations/us-central1/publishers/anthropic/models/m:streamRawPredict",
  "/v2/chat",
  "/api/chat",
  "/api/generate",
  "/api/embed",
  "/model/m/converse",
  "/model/m/converse-stream",
  "/model/m/invoke",
  "/model/m/invoke-with-response-stream",
];

const declared = [declareProvider({ id: "compat", baseUrl: "http://compat.test", dialect: "openai" }), declareProvider({ id: "msgs", baseUrl: "http://msgs.test", dialect: "anthropic" })];
const allProviders = [...Object.values(providers), ...declared];

interface Reader {
  name: string;
  provider: string;
  path: string;
  endpoint: Endpoint;
}

const readers: Reader[] = allProviders.flatMap((provider) =>
  PATHS.flatMap((path) => {
    const endpoint = provider.endpoint("POST", path);
    return endpoint && (endpoint.readResponse || endpoint.createStreamReader) ? [{ name: `${provider.id} ${path}`, provider: provider.id, path, endpoint }] : [];
  }),
);

/** Every key a reader looks for, so generated bodies reach its branches. */
const KEYS = [
  ...["usage", "choices", "finish_reason", "model", "id", "error", "type", "code", "message", "status", "incomplete_details", "reason", "response", "delta", "x_groq"],
  ...["prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "completion_tokens_details", "input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details"],
  ...["cached_tokens", "cache_write_tokens", "reasoning_tokens", "cost", "cost_in_usd_ticks", "total_cost", "prompt_cache_hit_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"],
  ...["cache_creation", "ephemeral_1h_input_tokens", "thinking_tokens", "stop_reason", "usageMetadata", "promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "toolUsePromptTokenCount"],
  ...["cachedContentTokenCount", "candidates", "finishReason", "modelVersion", "responseId", "billed_units", "tokens", "prompt_eval_count", "eval_count", "total_duration", "done", "done_reason"],
  ...["inputTokens", "outputTokens", "inputTokenCount", "outputTokenCount", "cacheReadInputTokens", "cacheWriteInputTokens", "cacheReadInputTokenCount", "cacheWriteInputTokenCount", "cacheDetails", "ttl"],
  ...["stopReason", "output", "amazon-bedrock-invocationMetrics", "inputTextTokenCount", "bytes", "Message", "__type", "__proto__", "constructor", "toString"],
];
const TYPES = ["message_start", "message_delta", "message_stop", "error", "message-start", "message-end", "message", "response.completed"];

/** A body as an upstream's JSON would be parsed (own `__proto__` keys and all). */
const body = fc.oneof({ weight: 4, arbitrary: looseJson(KEYS, [...TYPES, "message", "exception", "in_progress", "completed"]) }, { weight: 1, arbitrary: anyJson }).map((value) => JSON.parse(JSON.stringify(value)) as unknown);

/** One stream event: JSON of any shape (sometimes wrapped as Bedrock wraps model events), `[DONE]`, or not JSON at all. */
const streamEvent = fc.tuple(
  fc.oneof(
    { weight: 5, arbitrary: body.map((value) => JSON.stringify(value)) },
    { weight: 2, arbitrary: body.map((value) => JSON.stringify({ bytes: Buffer.from(JSON.stringify(value)).toString("base64") })) },
    { weight: 1, arbitrary: fc.constantFrom("[DONE]", "", "{", "null", '{"bytes":"%%%"}') },
    { weight: 1, arbitrary: text(20) },
  ),
  fc.option(fc.constantFrom(...TYPES, "chunk", "metadata", "messageStop", "exception:throttlingException", "error:InternalFailure", "malformed", "ping"), { nil: undefined }),
);

const COUNTS = new Set<keyof Usage>(["inputTokens", "cacheReadTokens", "cacheWriteTokens", "cacheWrite1hTokens", "outputTokens", "reasoningTokens"]);

/** What a record's BIGINT columns and the integer cost arithmetic can take. */
function expectValidFacts(facts: ResponseFacts): void {
  for (const key of ["responseModel", "responseId", "finishReason", "errorType", "errorMessage"] as const) {
    expect(facts[key] === undefined || typeof facts[key] === "string").toBe(true);
  }
  if (facts.usage === undefined) return;
  for (const [key, value] of Object.entries(facts.usage)) {
    if (value === undefined) continue;
    // A charge whose nano-USD is a safe integer: exact arithmetic, and a DECIMAL(38,9) holds it.
    if (key === "providerCostUsd") expect({ key, value, ok: value >= 0 && Number.isSafeInteger(Math.round(value * 1e9)) }).toEqual({ key, value, ok: true });
    else expect({ key, value, ok: COUNTS.has(key as keyof Usage) && Number.isSafeInteger(value) && value >= 0 }).toEqual({ key, value, ok: true });
  }
}

/** Reads a stream as the observer does: an event the reader cannot read is its problem, never the stream's. */
function readStream(endpoint: Endpoint, events: [string, string | undefined][]): ResponseFacts {
  const reader = endpoint.createStreamReader!();
  for (const [data, event] of events) {
    try {
      reader.onEvent(data, event);
    } catch (error) {
      // Only an event that is not JSON (or wraps text that is not) may be refused.
      expect(error).toBeInstanceOf(SyntaxError);
    }
  }
  return reader.result();
}

const readerAt = (provider: string, path: string) => readers.find((r) => r.provider === provider && r.path === path)!.endpoint;

describe("usage readers", () => {
  test("found by the properties below: a count that is a fraction or past 2^53, and a charge too large or negative, read as not reported", () => {
    const chat = readerAt("openrouter", "/v1/chat/completions");
    expect(chat.readResponse!({ usage: { prompt_tokens: 10.5, completion_tokens: 1e20, cost: 1e300 } }).usage).toEqual({
      inputTokens: undefined, cacheReadTokens: undefined, cacheWriteTokens: undefined, outputTokens: undefined, reasoningTokens: undefined, providerCostUsd: undefined,
    });
    expect(chat.readResponse!({ usage: { prompt_tokens: 3, cost: -1 } }).usage?.providerCostUsd).toBeUndefined();
    expect(readerAt("ollama", "/api/chat").readResponse!({ eval_count: Number.MAX_VALUE, prompt_eval_count: 2 }).usage).toEqual({ inputTokens: 2, outputTokens: undefined });
    // Each part a safe integer, the sum not: not reported either.
    expect(readerAt("anthropic", "/v1/messages").readResponse!({ usage: { input_tokens: 2 ** 53 - 1, cache_read_input_tokens: 2 ** 53 - 1 } }).usage?.inputTokens).toBeUndefined();
  });

  test("every provider has a reader here (a new provider is fuzzed too)", () => {
    const covered = new Set(readers.map((r) => r.provider));
    expect(allProviders.map((p) => p.id).filter((id) => !covered.has(id))).toEqual([]);
  });

  test.each(readers.filter((r) => r.endpoint.readResponse).map((r) => [r.name, r] as const))(
    "%s: a body of any shape reads to valid facts",
    (_name, { endpoint }) => {
      fc.assert(
        fc.property(body, (value) => {
          expectValidFacts(endpoint.readResponse!(value));
        }),
        runs(150),
      );
    },
    TIMEOUT,
  );

  test.each(readers.filter((r) => r.endpoint.createStreamReader).map((r) => [r.name, r] as const))(
    "%s: events of any shape read to valid facts; only non-JSON may be refused",
    (_name, { endpoint }) => {
      fc.assert(
        fc.property(fc.array(streamEvent, { maxLength: 8 }), (events) => {
          expectValidFacts(readStream(endpoint, events));
        }),
        runs(100),
      );
    },
    TIMEOUT,
  );
});

// --- The whole way down: any answer's record is one DuckDB stores ----------

const priceBook = loadPriceBook(undefined);
let store: DuckDBStore;
beforeAll(async () => {
  store = await openDuckDBStore(":memory:");
});
afterAll(async () => {
  await store.close();
});

/** A call as the proxy journals it: the client's facts (model, tags: any text) and the upstream's answer, as a body or as stream facts. */
const call = fc.record({
  reader: fc.constantFrom(...readers.map((r) => r.name)),
  model: fc.option(text(16), { nil: undefined }),
  session: fc.option(text(8), { nil: undefined }),
  tags: fc.option(fc.array(text(6), { maxLength: 2 }), { nil: undefined }),
  path: text(16),
  status: fc.constantFrom(200, 400, 429, 500),
  body,
  events: fc.option(fc.array(streamEvent, { maxLength: 6 }), { nil: undefined }),
  logBody: fc.constantFrom("meta" as const, "full" as const),
});

let sequence = 0;
function toEvent(c: typeof call extends fc.Arbitrary<infer T> ? T : never): { event: CallEvent; bytes: Uint8Array | undefined } {
  const reader = readers.find((r) => r.name === c.reader)!;
  const streamed = c.events !== undefined && reader.endpoint.createStreamReader !== undefined;
  const bytes = streamed ? undefined : utf8.encode(JSON.stringify(c.body));
  const event: CallEvent = {
    event: 2,
    id: `fuzz-${++sequence}`,
    startedAt: Date.parse("2026-06-01T00:00:00Z"),
    durationMs: 1,
    ttfbMs: 1,
    provider: reader.provider,
    method: "POST",
    path: `/${reader.provider}${c.path}`,
    upstreamPath: reader.path,
    status: c.status,
    request: { model: c.model, streamed },
    tags: { sessionId: c.session, tags: c.tags },
    client: undefined,
    logBody: c.logBody,
    requestBody: c.logBody === "full" ? JSON.stringify({ model: c.model }) : undefined,
    requestBytes: 10,
    responseBytes: bytes?.byteLength ?? 0,
    upstreamRequestId: undefined,
    truncated: false,
    traceId: undefined,
    ...(streamed ? { response: readStream(reader.endpoint, c.events!) } : { encoding: null, captureBytes: c.logBody === "full" ? 64 : 0 }),
  };
  return { event, bytes };
}

describe("records from any answer", () => {
  test("found by the property below: lone surrogates (a client's model, an upstream's model or usage key) are stored as U+FFFD, not refused with the whole batch", async () => {
    const { event, bytes } = toEvent({ reader: "openai /v1/chat/completions", model: "gpt\ud800", session: undefined, tags: ["t\udfff"], path: "", status: 200, body: { model: "m\udc00", usage: { prompt_tokens: 1, "k\ud83d": 2 } }, events: undefined, logBody: "meta" });
    const { record } = recordCall(event, bytes, priceBook).recorded;
    await store.append(`${recordedLine({ record })}\n`);
    const stored = await store.queryReadOnly(`SELECT model, response_model, tags, usage_raw FROM requests WHERE id = '${record.id}'`);
    expect(stored.rows).toEqual([["gpt\ufffd", "m\ufffd", ["t\ufffd"], '{"prompt_tokens":1,"k\ufffd":2}']]);
  });

  test(
    "are made without throwing, and DuckDB stores a batch of them (one bad record would hold up every later one)",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 8 }), async (calls) => {
          const made = calls.map(toEvent).map(({ event, bytes }) => recordCall(event, bytes, priceBook, (id) => allProviders.find((p) => p.id === id)).recorded);
          const lines = made.map(recordedLine);
          await store.append(`${lines.join("\n")}\n`);
          const ids = made.map(({ record }) => `'${record.id}'`).join(", ");
          const stored = await store.queryReadOnly(`SELECT id, input_tokens, output_tokens, cost_usd FROM requests WHERE id IN (${ids}) ORDER BY id`);
          const expected = made.map(({ record }: { record: RequestRecord }) => [record.id, record.input_tokens, record.output_tokens, record.cost_usd]).sort(([a], [b]) => (String(a) < String(b) ? -1 : 1));
          expect(stored.rows.map(([id, input, output, cost]) => [id, input === null ? null : Number(input), output === null ? null : Number(output), cost])).toEqual(expected);
        }),
        runs(60),
      );
    },
    TIMEOUT * 2,
  );
});
