import { describe, expect, test } from "bun:test";
import { loadPriceBook } from "../../src/pricing/load-prices.ts";
import type { CallEvent } from "../../src/recording/call-event.ts";
import { createRecorder, recordCall } from "../../src/recording/recorder.ts";

const priceBook = loadPriceBook(undefined);
const ANTHROPIC = `sk-ant-api03-${"a1B2c3D4e5".repeat(9)}`;
const GOOGLE = `AIzaSy${"Q9x8W7v6U5".repeat(3)}abc`;
const BEARER = `eyJhbGciOiJIUzI1NiJ9.${"payload12".repeat(4)}.sig`;

const call = (over: Partial<CallEvent> = {}): CallEvent => ({
  event: 2,
  id: "call-1",
  startedAt: Date.parse("2026-11-01T10:00:00Z"),
  durationMs: 10,
  ttfbMs: 9,
  provider: "openai",
  method: "POST",
  path: `/openai/v1/chat/completions?key=${GOOGLE}`,
  status: 401,
  request: { model: "gpt-5.4", streamed: false },
  tags: {},
  client: undefined,
  logBody: "full",
  requestBody: JSON.stringify({ model: "gpt-5.4", messages: [{ role: "user", content: `my key is ${ANTHROPIC}, keep it safe` }] }),
  requestBytes: 100,
  responseBytes: 100,
  upstreamRequestId: undefined,
  truncated: false,
  upstreamPath: "/v1/chat/completions",
  encoding: null,
  captureBytes: 65_536,
  traceId: undefined,
  ...over,
});

const errorBody = new TextEncoder().encode(JSON.stringify({ error: { message: `Incorrect API key provided: ${GOOGLE}`, type: "invalid_request_error", code: "invalid_api_key" } }));

describe("the recorder masks secrets in everything a record or a span carries", () => {
  test("a full call's bodies, error message, preview and path (body read by the recorder)", () => {
    const { record } = recordCall(call(), errorBody, priceBook).recorded;
    const stored = JSON.stringify(record);
    expect(stored).not.toContain(ANTHROPIC.slice(-20));
    expect(stored).not.toContain(GOOGLE.slice(-20));
    expect(record.request_body).toContain("my key is sk-ant-***, keep it safe");
    expect(record.prompt_preview).toBe("my key is sk-ant-***, keep it safe");
    expect(record.response_body).toContain("Incorrect API key provided: AIza***");
    expect(record.error_message).toBe("Incorrect API key provided: AIza***");
    expect(record.path).toBe("/openai/v1/chat/completions?key=AIza***");
  });

  test("facts observed in flight: Loupe's own error text, the provider's message and raw usage", () => {
    const { record } = recordCall(
      call({
        errorType: "upstream_unreachable",
        errorMessage: `fetch https://upstream/?key=${GOOGLE} failed`,
        response: { errorMessage: `Bearer ${BEARER} rejected`, usageRaw: { note: `sk-proj-${"x".repeat(40)}`, input_tokens: 3 } },
        responseBody: `{"echo":"${ANTHROPIC}"}`,
      }),
      undefined,
      priceBook,
    ).recorded;
    expect(record.error_message).toBe("fetch https://upstream/?key=AIza*** failed");
    expect(record.response_body).toBe('{"echo":"sk-ant-***"}');
    expect(JSON.parse(record.usage_raw!)).toEqual({ note: "sk-proj-***", input_tokens: 3 });
  });

  test("span content: input and output messages", () => {
    const { telemetry } = recordCall(
      call({
        status: 200,
        telemetry: {
          endTime: 0,
          serverAddress: "api.openai.com",
          serverPort: 443,
          captureContent: true,
          requestContent: { inputMessages: [{ role: "user", parts: [{ type: "text", content: `use ${ANTHROPIC}` }] }] },
          outputContent: [{ role: "assistant", parts: [{ type: "text", content: `echo ${GOOGLE}` }], finish_reason: "stop" }],
        },
      }),
      undefined,
      priceBook,
    ).recorded;
    const spanContent = JSON.stringify([telemetry?.details.requestContent, telemetry?.details.outputContent]);
    expect(spanContent).toContain("use sk-ant-***");
    expect(spanContent).toContain("echo AIza***");
    expect(spanContent).not.toContain(ANTHROPIC.slice(-20));
    expect(spanContent).not.toContain(GOOGLE.slice(-20));
  });

  test("a record an earlier version journaled is masked as it passes", () => {
    const recorder = createRecorder(priceBook, () => {});
    const line = recorder.line(JSON.stringify({ id: "old-1", billable: true, request_body: `{"k":"${ANTHROPIC}"}` }));
    expect(JSON.parse(line).request_body).toBe('{"k":"sk-ant-***"}');
  });
});
