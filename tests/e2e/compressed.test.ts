import { afterAll, beforeAll, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { fixtureText } from "../support/fixtures.ts";

/**
 * A provider that compresses its answers when the client accepts gzip, as the
 * real APIs do. Whatever the runtime's fetch does with content codings, the
 * client must get bytes that match their headers, and the record its usage.
 */
const answer = fixtureText("openai/chat-nonstream.json");
let upstream: ReturnType<typeof Bun.serve>;
let gw: Gateway;
const asked: (string | null)[] = [];

beforeAll(async () => {
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const accepted = request.headers.get("accept-encoding");
      asked.push(accepted);
      if (!accepted?.includes("gzip")) return new Response(answer, { headers: { "content-type": "application/json" } });
      return new Response(gzipSync(answer), { headers: { "content-type": "application/json", "content-encoding": "gzip" } });
    },
  });
  gw = await startGateway({ env: { LOUPE_OPENAI_BASE_URL: `http://127.0.0.1:${upstream.port}` } });
});
afterAll(async () => {
  await gw.stop();
  await upstream.stop(true);
});

test("a client accepting gzip gets the upstream's answer intact, and the call's usage is recorded", async () => {
  const response = await fetch(`${gw.url}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "accept-encoding": "gzip, deflate, br" },
    body: JSON.stringify({ model: "gpt-5.4", messages: [{ role: "user", content: "Hello" }] }),
  });
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual(JSON.parse(answer));
  const [row] = await gw.sql(`select input_tokens, output_tokens from requests where id = '${response.headers.get("x-loupe-request-id")}'`);
  expect(row).toEqual({ input_tokens: "1117", output_tokens: "46" });
  expect(asked).toHaveLength(1);
});
