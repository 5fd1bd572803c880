import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { runLoupe, startGateway, type Gateway } from "../support/gateway.ts";

/**
 * Never price an unknown model at $0 (limits/README.md): a call a USD limit
 * covers whose model has no price is refused before it reaches the provider
 * (403, in the route's dialect, recorded with the limit); a call that turns
 * out unpriced only when answered (the response names another model) is
 * answered, its USD counted as unknown: one warning per model and
 * `unpricedSettles` in /livez.
 */
const PRICED = "gpt-4o-mini";
const UNKNOWN = "house-model-without-price-7";

/** An OpenAI-style upstream that answers with usage, naming the model `x-answer-model` asks for (else the requested one). */
function startUpstream() {
  const models: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const { model } = (await request.json()) as { model: string };
      models.push(model);
      return Response.json({
        id: "chatcmpl-1",
        object: "chat.completion",
        created: 1,
        model: request.headers.get("x-answer-model") ?? model,
        choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 1000, completion_tokens: 1000, total_tokens: 2000 },
      });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, models, stop: () => server.stop(true) };
}

let upstream: ReturnType<typeof startUpstream>;
let gateway: Gateway;
beforeAll(async () => {
  upstream = startUpstream();
  gateway = await startGateway({ env: { LOUPE_OPENAI_BASE_URL: upstream.url, LOUPE_FLUSH_INTERVAL_MS: "50" } });
  const set = runLoupe(gateway, ["limits", "set", "project", "metered", "--usd", "5/1d"]);
  if (set.code !== 0) throw new Error(set.stderr);
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

const call = (model: string, project: string, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-client-own-key", "x-loupe-project": project, ...headers },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  }).then(async (response) => ({ status: response.status, headers: response.headers, body: await response.text() }));

describe("a USD limit and a model without a price", () => {
  test("refused before the provider: 403 in OpenAI's shape naming the model and the limit; recorded with limit_hit", async () => {
    const before = upstream.models.length;
    const refused = await call(UNKNOWN, "metered");
    expect(refused.status).toBe(403);
    const error = (JSON.parse(refused.body) as { error: { message: string; type: string } }).error;
    expect(error.message).toContain(`model ${UNKNOWN} has no price, so the USD limit project:metered usd 5000000000/1d cannot be enforced`);
    expect(error.message).toContain("loupe prices");
    expect(upstream.models.length).toBe(before);
    const id = refused.headers.get("x-loupe-request-id");
    await gateway.sql("select 1"); // flushes
    const rows = await gateway.sql(`select status, model, limit_hit, cost_usd from requests where id = '${id}'`);
    expect(rows).toEqual([{ status: 403, model: UNKNOWN, limit_hit: "project:metered usd 5000000000/1d", cost_usd: "0.000000000" }]); // refused before any work: free
  });

  test("a priced model under the same limit goes through and is counted in USD; an unknown model outside the limit is not refused", async () => {
    const ok = await call(PRICED, "metered");
    expect(ok.status).toBe(200);
    expect(upstream.models.at(-1)).toBe(PRICED);
    const limits = (await (await fetch(`${gateway.url}/api/limits`)).json()) as { items: { usage: { used: string } | null }[] };
    // Settled off the response's path: wait for it.
    for (let i = 0; i < 50 && BigInt(limits.items[0]?.usage?.used ?? "0") === 0n; i++) {
      await Bun.sleep(20);
      Object.assign(limits, await (await fetch(`${gateway.url}/api/limits`)).json());
    }
    expect(BigInt(limits.items[0]!.usage!.used)).toBeGreaterThan(0n);
    expect((await call(UNKNOWN, "unmetered")).status).toBe(200);
  });

  test("unpriced only when answered: the call is answered, its USD counted as unknown (/livez unpricedSettles), warned once per model", async () => {
    const livez = async () => ((await (await fetch(`${gateway.url}/livez`)).json()) as { limits: { unpricedSettles: number } }).limits.unpricedSettles;
    expect(await livez()).toBe(0);
    for (let i = 0; i < 2; i++) expect((await call(PRICED, "metered", { "x-answer-model": UNKNOWN })).status).toBe(200);
    for (let i = 0; i < 50 && (await livez()) < 2; i++) await Bun.sleep(20);
    expect(await livez()).toBe(2);
    const warnings = gateway.stderr().split("\n").filter((line) => line.includes(`model ${UNKNOWN} has no price`));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("project:metered usd 5000000000/1d");
  });
});
