import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

let mock: MockUpstream;
let gw: Gateway;
beforeAll(async () => {
  mock = await startMockUpstream();
  // Nothing is recorded while the test looks (a long flush interval): every call is in the journal as its event.
  gw = await startGateway({ env: { LOUPE_OPENAI_BASE_URL: mock.url, LOUPE_FLUSH_INTERVAL_MS: "600000" } });
});
afterAll(async () => {
  await gw.stop();
  await mock.stop();
});

/** Every byte under the journal folder (events, bodies, the record queue). */
function journalBytes(dir: string): string {
  let all = "";
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    all += statSync(path).isDirectory() ? journalBytes(path) : readFileSync(path, "latin1");
  }
  return all;
}

// From the upstream's answer (tests/fixtures/openai/chat-nonstream.json) and from the request.
const ANSWER_TEXT = "wooden boardwalk path";

async function call(mode: "none" | "meta" | "full", streamed: boolean): Promise<string> {
  const client = new OpenAI({ apiKey: "sk-test", baseURL: `${gw.url}/openai/v1`, maxRetries: 0 });
  const prompt = `secret prompt ${mode} ${streamed ? "streamed" : "plain"} 7f3a`;
  const headers = { "x-loupe-log-body": mode, ...(streamed ? { "x-mock-fixture": "openai/chat-stream-include-usage.openai-node-recording.sse" } : {}) };
  if (streamed) {
    const { data, response } = await client.chat.completions.create({ model: "gpt-5.4", stream: true, messages: [{ role: "user", content: prompt }] }, { headers }).withResponse();
    for await (const _ of data) void _;
    return response.headers.get("x-loupe-request-id")!;
  }
  const { response } = await client.chat.completions.create({ model: "gpt-5.4", messages: [{ role: "user", content: prompt }] }, { headers }).withResponse();
  return response.headers.get("x-loupe-request-id")!;
}

describe("x-loupe-log-body: what reaches disk", () => {
  test("none: the journal holds each call's event, and neither the request's nor the response's body", async () => {
    const ids = [await call("none", false), await call("none", true)];
    const journal = journalBytes(`${gw.db}.journal`);
    // The calls are there (by id), their bodies are not.
    for (const id of ids) expect(journal).toContain(id);
    expect(journal).not.toContain("secret prompt");
    expect(journal).not.toContain(ANSWER_TEXT);
  });

  test("meta: never the request body; a plain call's response body only until its record is made", async () => {
    const ids = [await call("meta", false), await call("meta", true)];
    let journal = journalBytes(`${gw.db}.journal`);
    for (const id of ids) expect(journal).toContain(id);
    expect(journal).not.toContain("secret prompt");
    // The recorder reads it from the journal, off the request path…
    expect(journal).toContain(ANSWER_TEXT);
    // …and once the records are made and stored, it is gone.
    await gw.sql("select 1");
    journal = journalBytes(`${gw.db}.journal`);
    expect(journal).not.toContain(ANSWER_TEXT);
  });

  test("full (the control: the same search finds bodies that are logged)", async () => {
    await call("full", false);
    const journal = journalBytes(`${gw.db}.journal`);
    expect(journal).toContain("secret prompt full plain 7f3a");
    expect(journal).toContain(ANSWER_TEXT);
    expect(journal).not.toContain("secret prompt none");
  });

  test("the records have the usage and cost the bodies told, and no bodies unless full", async () => {
    const rows = await gw.sql(`select request_body, response_body, input_tokens, cost_usd, usage_raw from requests where request_body is null order by started_at`);
    expect(rows.length).toBe(4);
    for (const row of rows) {
      expect(row.response_body).toBeNull();
      expect(Number(row.input_tokens)).toBeGreaterThan(0);
      expect(row.cost_usd).not.toBeNull();
    }
    // none also drops the raw usage; meta keeps it.
    expect(rows.filter((r) => r.usage_raw === null).length).toBe(2);
  });
});
