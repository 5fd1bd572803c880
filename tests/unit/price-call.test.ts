import { describe, expect, test } from "bun:test";
import { loadPriceBook } from "../../src/pricing/load-prices.ts";
import type { Endpoint } from "../../src/providers/contract.ts";
import { priceCall, type CallSummary } from "../../src/recording/build-record.ts";
import { tempDir } from "../support/gateway.ts";

/**
 * How a call's cost is decided (recording/build-record.ts): a provider whose
 * models run locally (`freeUnlessPriced`) costs exactly 0 where any other
 * provider's call would be unpriced (NULL), and the operator's price file
 * still prices it.
 */
const chat: Endpoint = { operation: "chat", billable: true };

const summary = (over: Partial<CallSummary> = {}): CallSummary => ({
  id: "c",
  startedAt: Date.parse("2026-11-01T10:00:00Z"),
  durationMs: 1,
  ttfbMs: 1,
  provider: "local",
  pricingProvider: "local",
  endpoint: chat,
  method: "POST",
  path: "/local/api/chat",
  status: 200,
  request: { model: "llama3.2", streamed: false },
  tags: {},
  client: undefined,
  response: { usage: { inputTokens: 26, outputTokens: 298 } },
  logBody: "meta",
  requestBody: undefined,
  responseBody: undefined,
  requestBytes: 1,
  responseBytes: 1,
  upstreamRequestId: undefined,
  truncated: false,
  ...over,
});

const book = loadPriceBook(undefined);

describe("a provider whose models are free unless priced", () => {
  test("without a price: exactly 0, source free (NULL for any other provider)", () => {
    expect(priceCall(summary(), book)).toEqual({});
    expect(priceCall(summary({ freeUnlessPriced: true }), book)).toEqual({ nano: 0n, source: "free" });
  });

  test("without usage (a stream cut short), or with an upstream error: still free", () => {
    expect(priceCall(summary({ freeUnlessPriced: true, response: {} }), book)).toEqual({ nano: 0n, source: "free" });
    expect(priceCall(summary({ freeUnlessPriced: true, status: 500, response: {} }), book)).toEqual({ nano: 0n, source: "free" });
  });

  test("the operator's price file naming the provider prices it", async () => {
    const file = `${tempDir()}/prices.json`;
    await Bun.write(file, JSON.stringify({ models: [{ provider: "local", model: "llama3*", prices: { input_mtok: 1, output_mtok: 2 } }] }));
    const priced = priceCall(summary({ freeUnlessPriced: true }), loadPriceBook(file));
    // 26 × $1 + 298 × $2 per million = 622 µ$
    expect(priced).toMatchObject({ nano: 622_000n, source: "override" });
    // A model the file does not name stays free.
    expect(priceCall(summary({ freeUnlessPriced: true, request: { model: "qwen3", streamed: false } }), loadPriceBook(file))).toEqual({ nano: 0n, source: "free" });
  });
});
