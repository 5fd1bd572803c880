import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../support/gateway.ts";
import { fixtureText } from "../support/fixtures.ts";
import { harness, readingBodies } from "../support/app-harness.ts";

/** Retries (config `retry`), in process: only before any byte reached the client, as the policy says, counted in `attempts`. */
function withPolicy(retry: unknown, answers: (() => Response | Promise<Response>)[]) {
  const file = join(tempDir("loupe-retry-"), "config.json");
  writeFileSync(file, JSON.stringify({ retry }));
  let i = 0;
  const app = harness(() => answers[Math.min(i++, answers.length - 1)]!(), { LOUPE_CONFIG: file });
  return readingBodies(app);
}
const ok = () => new Response(fixtureText("openai/chat-nonstream.json"), { headers: { "content-type": "application/json" } });
const status = (code: number, headers: Record<string, string> = {}) => () =>
  new Response(JSON.stringify({ error: { message: `upstream ${code}`, type: "rate_limit_error" } }), { status: code, headers: { "content-type": "application/json", ...headers } });
const chat = () => new Request("http://loupe.test/openai/v1/chat/completions", { method: "POST", headers: { authorization: "Bearer sk-1" }, body: JSON.stringify({ model: "gpt-4o-mini", messages: [] }) });
const policy = { attempts: 3, backoffMs: 1, maxBackoffMs: 50 };

describe("retries before the first byte", () => {
  test("429 then 200: the client gets the 200; the record says two attempts", async () => {
    const app = withPolicy(policy, [status(429, { "retry-after": "0" }), ok]);
    const response = await app.fetch(chat());
    expect(response.status).toBe(200);
    expect(app.sent.length).toBe(2);
    expect(app.records().map((r) => [r.status, r.attempts])).toEqual([[200, 2]]);
  });

  test("a connection failure then 200", async () => {
    const app = withPolicy(policy, [() => Promise.reject(new TypeError("connect ECONNREFUSED")), ok]);
    expect((await app.fetch(chat())).status).toBe(200);
    expect(app.records()[0]!.attempts).toBe(2);
  });

  test("the attempts run out: the last answer goes to the client as it came", async () => {
    const app = withPolicy(policy, [status(503), status(503), status(502)]);
    const response = await app.fetch(chat());
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe("upstream 502");
    expect(app.records()[0]!.attempts).toBe(3);
  });

  test("x-should-retry: false, a status not in the list, or a wait longer than maxBackoffMs: answered at once", async () => {
    for (const first of [status(429, { "x-should-retry": "false" }), status(400), status(429, { "retry-after": "30" })]) {
      const app = withPolicy(policy, [first, ok]);
      const response = await app.fetch(chat());
      expect(response.status).not.toBe(200);
      expect(app.sent.length).toBe(1);
      expect(app.records()[0]!.attempts).toBe(1);
    }
  });

  test("without a policy: one attempt, as before", async () => {
    const app = harness(status(429), {});
    const response = await app.fetch(chat());
    await response.arrayBuffer();
    expect(response.status).toBe(429);
    expect(app.sent.length).toBe(1);
    expect(app.records()[0]!.attempts).toBe(1);
  });

  test("a retry policy with a bad field is refused at load, naming it", () => {
    expect(() => withPolicy({ attempts: 0 }, [ok])).toThrow(/retry/);
  });
});
