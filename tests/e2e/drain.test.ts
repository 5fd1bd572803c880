import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, ROOT, startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

let mock: MockUpstream;
let gw: Gateway;

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_OPENAI_BASE_URL: mock.url, LOUPE_ANTHROPIC_BASE_URL: mock.url, LOUPE_GEMINI_BASE_URL: mock.url } });
});
afterAll(async () => {
  gw.proc.kill("SIGKILL");
  await mock.stop();
});

const chat = (headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test", ...headers },
    body: JSON.stringify({ model: "gpt-5.4", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Hello" }] }),
  });

test("SIGTERM drains: /health says draining with the calls in flight, new calls get 503 in their dialect, the slow call completes and is recorded", async () => {
  // Six events 400 ms apart: in flight for about two seconds after its headers arrive.
  const slow = await chat({ "x-mock-event-delay-ms": "400" });
  expect(slow.status).toBe(200);
  const id = slow.headers.get("x-loupe-request-id");
  const body = new Response(slow.body).arrayBuffer();

  gw.proc.kill("SIGTERM");
  let health = await fetch(`${gw.url}/health`);
  for (let i = 0; health.status === 200 && i < 50; i++) {
    await Bun.sleep(20);
    health = await fetch(`${gw.url}/health`);
  }
  expect(health.status).toBe(503);
  expect(await health.json()).toEqual({ status: "draining", in_flight: 1 });

  const openai = await chat();
  expect(openai.status).toBe(503);
  expect(await openai.json()).toMatchObject({ error: { type: "server_error", code: "unavailable" } });
  const anthropic = await fetch(`${gw.url}/anthropic/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 16, messages: [{ role: "user", content: "Hello" }] }),
  });
  expect(anthropic.status).toBe(503);
  expect(await anthropic.json()).toEqual({ type: "error", error: { type: "overloaded_error", message: "Loupe is shutting down" } });
  const gemini = await fetch(`${gw.url}/gemini/v1beta/models/gemini-2.5-flash:generateContent`, { method: "POST", headers: { "content-type": "application/json", "x-goog-api-key": "k" }, body: "{}" });
  expect(gemini.status).toBe(503);
  expect(await gemini.json()).toEqual({ error: { code: 503, message: "Loupe is shutting down", status: "UNAVAILABLE" } });

  expect(new Uint8Array(await body)).toEqual(mock.sent.at(-1)!);
  expect(mock.requests).toHaveLength(1); // the refused calls never went upstream
  expect(await gw.proc.exited).toBe(0);
  expect(gw.stderr()).toContain("SIGTERM: draining 1 in-flight call(s)");

  const sql = Bun.spawn([BUN, join(ROOT, "main.ts"), "sql", "--json", `select status, streamed, truncated, output_tokens is not null as usage from requests where id = '${id}'`], {
    env: { ...process.env, LOUPE_DB: gw.db },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, code] = await Promise.all([new Response(sql.stdout).text(), sql.exited]);
  expect(code).toBe(0);
  expect(JSON.parse(out)).toEqual([{ status: 200, streamed: true, truncated: false, usage: true }]);
});
