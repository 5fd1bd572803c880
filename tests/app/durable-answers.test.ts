import { describe, expect, test } from "bun:test";
import { harness } from "../support/app-harness.ts";
import { fixtureText } from "../support/fixtures.ts";

/**
 * LOUPE_JOURNAL_FSYNC=always: the journal writer hands back a promise that
 * resolves once the call's event is durable, and the proxy holds the call's
 * last bytes until then. Here the promise is the test's, released by hand.
 */
function heldWrites() {
  const waiting: (() => void)[] = [];
  const write = () => new Promise<void>((resolve) => waiting.push(resolve));
  return {
    overrides: { writeEvent: write, writeEventWithBody: write },
    waiting,
    release: () => waiting.splice(0).forEach((resolve) => resolve()),
  };
}

const settledYet = <T>(promise: Promise<T>) => {
  let settled = false;
  void promise.then(() => (settled = true), () => (settled = true));
  return () => settled;
};
const json = (body: string) => new Response(body, { headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) } });

describe("answers wait for their event to be durable (LOUPE_JOURNAL_FSYNC=always)", () => {
  test("a plain answer is handed over only once its event's sync resolves", async () => {
    const answer = fixtureText("openai/chat-nonstream.json");
    const held = heldWrites();
    const app = harness(() => json(answer), {}, held.overrides);
    const response = app.fetch(new Request("http://loupe.test/openai/v1/chat/completions", { method: "POST", body: JSON.stringify({ model: "gpt-5.4", messages: [] }) }));
    const answered = settledYet(response);
    await Bun.sleep(20);
    expect(held.waiting).toHaveLength(1);
    expect(answered()).toBe(false);
    held.release();
    expect(await (await response).text()).toBe(answer);
  });

  test("a stream passes every event at once but its end waits for the sync", async () => {
    const stream = fixtureText("anthropic/messages-stream-cache.CONSTRUCTED.sse");
    const held = heldWrites();
    const app = harness(() => new Response(stream, { headers: { "content-type": "text/event-stream" } }), {}, held.overrides);
    const response = await app.fetch(new Request("http://loupe.test/anthropic/v1/messages", { method: "POST", body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 10, stream: true, messages: [] }) }));
    const reader = response.body!.getReader();
    let text = "";
    const decoder = new TextDecoder();
    let end: ReturnType<typeof reader.read> | undefined;
    for (;;) {
      const next = reader.read();
      const arrived = settledYet(next);
      await Bun.sleep(10);
      if (!arrived()) {
        end = next; // held: the upstream's bytes are all through, the end is not
        break;
      }
      const { value, done } = await next;
      if (done) break;
      text += decoder.decode(value);
    }
    expect(text).toBe(stream);
    expect(end).toBeDefined();
    expect(held.waiting).toHaveLength(1);
    held.release();
    expect((await end!).done).toBe(true);
  });

  test("Loupe's own error answer waits too", async () => {
    const held = heldWrites();
    const app = harness(() => Promise.reject(new Error("connection refused")), {}, held.overrides);
    const response = app.fetch(new Request("http://loupe.test/openai/v1/chat/completions", { method: "POST", body: JSON.stringify({ model: "gpt-5.4", messages: [] }) }));
    const answered = settledYet(response);
    await Bun.sleep(20);
    expect(answered()).toBe(false);
    held.release();
    expect((await response).status).toBe(502);
  });
});
