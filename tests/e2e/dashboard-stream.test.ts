import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * The dashboard's server side on the running gateway (Bun, and Deno in
 * `npm run test:deno`): the page to a browser, and the live tail's
 * Server-Sent Events carrying a call made while a client listens.
 */
let gateway: Gateway;
let upstream: MockUpstream;

beforeAll(async () => {
  upstream = await startMockUpstream();
  gateway = await startGateway({ env: { LOUPE_ANTHROPIC_BASE_URL: upstream.url, LOUPE_FLUSH_INTERVAL_MS: "50" } });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

describe("the dashboard's server side", () => {
  test("a browser gets the page at / and at a page path; an API client gets JSON there", async () => {
    const page = await fetch(`${gateway.url}/models`, { headers: { accept: "text/html,*/*;q=0.8" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(await page.text()).toContain('<div id="app">');
    const listing = await fetch(`${gateway.url}/`);
    expect(((await listing.json()) as { name: string }).name).toBe("loupe");
  });

  test("/api/stream sends each call recorded while a client listens, and only those", async () => {
    const before = await fetch(`${gateway.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 10, messages: [{ role: "user", content: "before" }] }),
    });
    await before.arrayBuffer();
    const beforeId = before.headers.get("x-loupe-request-id");
    await new Promise((resolve) => setTimeout(resolve, 300)); // stored before anyone listens

    const controller = new AbortController();
    const stream = await fetch(`${gateway.url}/api/stream`, { signal: controller.signal });
    expect(stream.headers.get("content-type")).toStartWith("text/event-stream");
    const events = stream.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
    expect((await events.read()).value?.event).toBe("ready");

    const call = await fetch(`${gateway.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01", "x-loupe-project": "tail" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 10, messages: [{ role: "user", content: "now" }] }),
    });
    await call.arrayBuffer();
    const id = call.headers.get("x-loupe-request-id");
    const next = await Promise.race([events.read(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no record event within 10 s")), 10_000))]);
    expect(next.value?.event).toBe("record");
    const record = JSON.parse(next.value!.data) as { id: string; project: string; provider: string; input_tokens: number; cost_usd: string; request_body?: unknown };
    expect(record.id).toBe(id!);
    expect(record.id).not.toBe(beforeId!);
    expect(record).toMatchObject({ project: "tail", provider: "anthropic" });
    expect(record.input_tokens).toBeGreaterThan(0);
    expect(record.cost_usd).toMatch(/^\d+\.\d{9}$/);
    expect("request_body" in record).toBe(false);
    const [stored] = await gateway.sql(`select cost_usd::varchar as cost from requests where id = '${id}'`);
    expect(record.cost_usd).toBe(stored!.cost);
    controller.abort();
  });
});
