import { describe, expect, test } from "bun:test";
import { fixtureHttp, fixtureText } from "../support/fixtures.ts";
import { harness } from "../support/app-harness.ts";

/** The provider's rate-limit headers reach the record's `ratelimit` column, in process, for whole and streamed answers. */
const unified = fixtureHttp("anthropic/messages-nonstream-unified-ratelimit.CONSTRUCTED.http");
const messages = (stream = false) =>
  new Request("http://loupe.test/anthropic/v1/messages", {
    method: "POST",
    headers: { "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-sonnet-4-5-20250929", max_tokens: 16, stream, messages: [{ role: "user", content: "Hi" }] }),
  });
const parsed = (text: string | null) => (text === null ? null : (JSON.parse(text) as unknown));

describe("rate-limit headers in the record", () => {
  test("a whole answer with the plan's unified headers: ratelimit holds them and the organization; the client gets them untouched", async () => {
    const app = harness(() => new Response(unified.body, { status: 200, headers: unified.headers }));
    const response = await app.fetch(messages());
    await response.arrayBuffer();
    expect(response.headers.get("anthropic-ratelimit-unified-5h-utilization")).toBe("0.42");
    const [record] = app.records();
    const expected: Record<string, string> = {};
    for (const [name, value] of unified.headers) if (name.startsWith("anthropic-ratelimit-")) expected[name] = value;
    expect(Object.keys(expected).length).toBe(11);
    expect(parsed(record!.ratelimit)).toEqual({ organization: "3f1c2a9e-5b7d-4e2a-9c41-8d0b6e7f2a13", headers: expected });
  });

  test("a streamed answer carries them too (read with the status, before the body)", async () => {
    const headers = new Headers(unified.headers);
    headers.set("content-type", "text/event-stream");
    const app = harness(() => new Response(fixtureText("anthropic/messages-stream-sdk-basic.sse"), { headers }));
    const response = await app.fetch(messages(true));
    await response.text();
    const [record] = app.records();
    expect(record!.streamed).toBe(true);
    expect((parsed(record!.ratelimit) as { headers: Record<string, string> }).headers["anthropic-ratelimit-unified-7d-utilization"]).toBe("0.737");
  });

  test("an answer without rate-limit headers: NULL", async () => {
    const app = harness(() => new Response(fixtureText("anthropic/messages-nonstream-basic.json"), { headers: { "content-type": "application/json", "anthropic-organization-id": "org-only" } }));
    await (await app.fetch(messages())).arrayBuffer();
    expect(app.records()[0]!.ratelimit).toBeNull();
  });
});
