import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver.ts";

// A client's key pasted into a prompt, and a key an upstream echoes back: neither may be kept.
const ANTHROPIC_KEY = `sk-ant-api03-${"Qw3_Er4-Ty5Ui6".repeat(3)}`;
const GOOGLE_KEY = `AIzaSy${"Kp2Lm3Nb4V".repeat(3)}xyz`;
const SECRET_PARTS = [ANTHROPIC_KEY.slice("sk-ant-".length), GOOGLE_KEY.slice("AIza".length)];

/** An Anthropic stand-in that echoes a key: in a 401 error when asked to, else in the answer's text. */
function startEchoingUpstream(): Server<undefined> {
  return Bun.serve({
    port: 0,
    async fetch(request) {
      const body = (await request.json()) as { messages: { content: string }[] };
      if (body.messages[0]!.content.includes("fail")) {
        return Response.json({ type: "error", error: { type: "authentication_error", message: `invalid x-api-key: ${GOOGLE_KEY}` } }, { status: 401 });
      }
      return Response.json({
        id: "msg_redaction_1",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-5",
        content: [{ type: "text", text: `Your Google key is ${GOOGLE_KEY}.` }],
        stop_reason: "end_turn",
        usage: { input_tokens: 12, output_tokens: 9 },
      });
    },
  });
}

let upstream: Server<undefined>;
let receiver: OtlpReceiver;
let gw: Gateway;
beforeAll(async () => {
  upstream = startEchoingUpstream();
  receiver = await startOtlpReceiver();
  gw = await startGateway({
    env: {
      LOUPE_ANTHROPIC_BASE_URL: upstream.url.href.replace(/\/$/, ""),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "true",
      OTEL_METRICS_EXPORTER: "none",
    },
  });
});
afterAll(async () => {
  await gw.stop();
  await upstream.stop(true);
  await receiver.stop();
});

async function call(content: string): Promise<{ id: string; status: number; text: string }> {
  const response = await fetch(`${gw.url}/anthropic/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01", "x-loupe-log-body": "full" },
    body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 50, messages: [{ role: "user", content }] }),
  });
  return { id: response.headers.get("x-loupe-request-id")!, status: response.status, text: await response.text() };
}

const clientSpanFor = (spans: ReceivedSpan[], id: string) => spans.find((s) => s.kind === "CLIENT" && s.attributes["loupe.record.id"] === id);

describe("secret redaction: a full call's secrets reach neither the record nor the span", () => {
  test("an upstream error echoing a key: request body, response body and error message are masked in DuckDB", async () => {
    const { id, status, text } = await call(`please fail, my key is ${ANTHROPIC_KEY}`);
    expect(status).toBe(401);
    // The client gets what the upstream said: redaction is for what Loupe keeps.
    expect(text).toContain(GOOGLE_KEY);
    const [row] = await gw.sql(`select request_body, response_body, error_message, prompt_preview, usage_raw from requests where id = '${id}'`);
    expect(row!.request_body).toContain(`my key is sk-ant-***`);
    expect(row!.prompt_preview).toBe("please fail, my key is sk-ant-***");
    expect(row!.response_body).toContain("invalid x-api-key: AIza***");
    expect(row!.error_message).toBe("invalid x-api-key: AIza***");
    for (const part of SECRET_PARTS) expect(JSON.stringify(row)).not.toContain(part);
  });

  test("with content capture on, the span's input and output messages are masked too", async () => {
    const { id, status } = await call(`summarise ${ANTHROPIC_KEY} for me`);
    expect(status).toBe(200);
    const spans = await receiver.waitForSpans((all) => clientSpanFor(all, id) !== undefined);
    const span = clientSpanFor(spans, id)!;
    expect(JSON.parse(span.attributes["gen_ai.input.messages"] as string)).toEqual([{ role: "user", parts: [{ type: "text", content: "summarise sk-ant-*** for me" }] }]);
    expect(span.attributes["gen_ai.output.messages"] as string).toContain("Your Google key is AIza***.");
    const [row] = await gw.sql(`select response_body from requests where id = '${id}'`);
    expect(row!.response_body).toContain("Your Google key is AIza***.");
    // Nothing any span of the run carries (attributes, names, events) holds a secret.
    const everySpan = JSON.stringify(receiver.spans, (_, value: unknown) => (typeof value === "bigint" ? String(value) : value));
    expect(everySpan).toContain("sk-ant-***");
    for (const part of SECRET_PARTS) expect(everySpan).not.toContain(part);
  });
});
