import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatNanoUsd } from "../../src/pricing/compute-cost.ts";
import { loadPriceBook } from "../../src/pricing/load-prices.ts";
import { runLoupe, startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * Routing rules through a real gateway with the official SDKs: an OpenAI
 * client reaching Claude and an Anthropic client (Claude Code's SDK) reaching
 * an OpenAI model, plain and streamed. Each client gets a well-formed answer
 * in its own format; the record keeps the model asked for, the provider and
 * model that answered, and the exact cost of the provider that answered.
 */
const SECRET = "routing-e2e-secret-0123456789abcdef";
const priceBook = loadPriceBook(undefined);
let upstream: MockUpstream;
let gateway: Gateway;

function loupe(args: string[], stdin?: string) {
  const run = runLoupe(gateway, args, { stdin, env: { LOUPE_SECRET: SECRET } });
  if (run.code !== 0) throw new Error(run.stderr);
}

beforeAll(async () => {
  upstream = await startMockUpstream();
  const dir = tempDir("loupe-routing-");
  const config = join(dir, "loupe.json");
  writeFileSync(
    config,
    JSON.stringify({
      routing: [
        { match: { provider: "openai", model: "gpt-4o-routed" }, to: { provider: "anthropic", model: "claude-sonnet-4-5" } },
        { match: { provider: "anthropic", model: "claude-routed-*" }, to: { provider: "openai", model: "gpt-4o-2024-08-06" } },
        { match: { provider: "anthropic", model: "claude-via-openai" }, to: { provider: "openai", model: "gpt-4o-2024-08-06" } },
      ],
      requestHeaderRules: [
        { header: "x-team", action: "set", value: "research", match: { model: "gpt-4o-mini" } },
        { header: "x-stainless-os", action: "block" },
      ],
      responseHeaderRules: [{ header: "x-request-id", action: "replace", find: "req", value: "upstream-req", match: { provider: "openai" } }],
    }),
  );
  gateway = await startGateway({ dir, env: { LOUPE_CONFIG: config, LOUPE_SECRET: SECRET, LOUPE_OPENAI_BASE_URL: upstream.url, LOUPE_ANTHROPIC_BASE_URL: upstream.url } });
  loupe(["provider-keys", "set", "anthropic"], "sk-ant-api03-RoutingStoredAnthropicKey0123456789\n");
  loupe(["provider-keys", "set", "openai"], "sk-proj-RoutingStoredOpenAIKey0123456789abcd\n");
}, 30_000);
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

const record = async (id: string) => (await gateway.sql(`select provider, model, routed_provider, routed_model, response_model, cost_usd::varchar as cost, input_tokens, output_tokens, streamed from requests where id = '${id}'`))[0]!;

describe("routing between providers, translated", () => {
  const openai = () => new OpenAI({ apiKey: "sk-client-own", baseURL: `${gateway.url}/openai/v1`, maxRetries: 0 });
  const anthropic = () => new Anthropic({ apiKey: "sk-ant-client-own", baseURL: `${gateway.url}/anthropic`, maxRetries: 0 });

  test("OpenAI SDK → Claude, not streamed: an OpenAI chat completion; the record has both models and Anthropic's exact cost", async () => {
    const { data, response } = await openai().chat.completions.create({ model: "gpt-4o-routed", messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }] }).withResponse();
    expect(data.object).toBe("chat.completion");
    expect(data.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(data.usage!.prompt_tokens).toBeGreaterThan(0);
    const sent = upstream.requests.at(-1)!;
    expect(sent.path).toBe("/v1/messages");
    expect(sent.headers.get("x-api-key")).toBe("sk-ant-api03-RoutingStoredAnthropicKey0123456789");
    expect(sent.json).toMatchObject({ model: "claude-sonnet-4-5", system: "be brief", messages: [{ role: "user", content: "hi" }] });
    const row = await record(response.headers.get("x-loupe-request-id")!);
    expect(row).toMatchObject({ provider: "openai", model: "gpt-4o-routed", routed_provider: "anthropic", routed_model: "claude-sonnet-4-5", streamed: false });
    // Anthropic's usage, priced at Anthropic's price for the model that answered.
    const [usage] = await gateway.sql(`select input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, response_model, cost_usd::varchar as cost from requests where id = '${response.headers.get("x-loupe-request-id")}'`);
    const expected = priceBook.price({
      provider: "anthropic",
      model: usage!.response_model,
      usage: { inputTokens: Number(usage!.input_tokens), cacheReadTokens: Number(usage!.cache_read_tokens ?? 0), cacheWriteTokens: Number(usage!.cache_write_tokens ?? 0), outputTokens: Number(usage!.output_tokens) },
      at: new Date(),
    });
    expect(usage!.cost).toBe(formatNanoUsd(expected.nano!));
  });

  test("OpenAI SDK → Claude, streamed: the SDK's stream helper finishes with text and usage", async () => {
    const stream = openai().chat.completions.stream({ model: "gpt-4o-routed", messages: [{ role: "user", content: "hi" }], stream_options: { include_usage: true } });
    const completion = await stream.finalChatCompletion();
    expect(completion.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
    const rows = await gateway.sql("select routed_provider, streamed, output_tokens from requests where streamed and provider = 'openai'");
    expect(rows.at(-1)).toMatchObject({ routed_provider: "anthropic", streamed: true });
    expect(Number(rows.at(-1)!.output_tokens)).toBe(completion.usage!.completion_tokens);
  });

  test("Anthropic SDK → an OpenAI model, plain and streamed: Anthropic messages; the record is OpenAI's", async () => {
    const { data: message, response } = await anthropic().messages.create({ model: "claude-routed-1", max_tokens: 50, messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(message.type).toBe("message");
    expect(message.content[0]!.type).toBe("text");
    expect(upstream.requests.at(-1)!.path).toBe("/v1/chat/completions");
    expect(upstream.requests.at(-1)!.headers.get("authorization")).toBe("Bearer sk-proj-RoutingStoredOpenAIKey0123456789abcd");
    const row = await record(response.headers.get("x-loupe-request-id")!);
    expect(row).toMatchObject({ provider: "anthropic", model: "claude-routed-1", routed_provider: "openai", routed_model: "gpt-4o-2024-08-06" });
    expect(Number(row.cost)).toBeGreaterThan(0);

    const final = await anthropic().messages.stream({ model: "claude-routed-2", max_tokens: 50, messages: [{ role: "user", content: "hi" }] }).finalMessage();
    expect(final.content.length).toBeGreaterThan(0);
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });

  test("model discovery (GET /v1/models) lists the models routing rules serve, in each provider's shape", async () => {
    const openaiModels = [];
    for await (const model of openai().models.list()) openaiModels.push(model.id);
    expect(openaiModels).toContain("gpt-4o-routed");
    expect(openaiModels.length).toBeGreaterThan(1); // the upstream's own list is kept
    const anthropicModels = [];
    for await (const model of anthropic().models.list()) anthropicModels.push(model.id);
    expect(anthropicModels).toContain("claude-via-openai");
    expect(anthropicModels).not.toContain("claude-routed-*");
  });

  test("a call no rule matches keeps its bytes and its credentials", async () => {
    const { response } = await openai().chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "plain" }] }).withResponse();
    const sent = upstream.requests.at(-1)!;
    expect(sent.headers.get("authorization")).toBe("Bearer sk-client-own");
    expect(new TextDecoder().decode(sent.body)).toBe(JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "plain" }] }));
    expect(await record(response.headers.get("x-loupe-request-id")!)).toMatchObject({ routed_provider: null, routed_model: null });
  });

  test("header rules on a call through the gateway: set where the match holds, blocked, and replaced in the answer", async () => {
    const { response } = await openai().chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "rules" }] }).withResponse();
    const sent = upstream.requests.at(-1)!;
    expect(sent.headers.get("x-team")).toBe("research");
    expect(sent.headers.get("x-stainless-os")).toBeNull(); // the SDK sends it; the rule removes it
    expect(response.headers.get("x-request-id")).toBe("upstream-req_mock_1");
    await openai().chat.completions.create({ model: "gpt-4o-routed", messages: [{ role: "user", content: "other model" }] });
    expect(upstream.requests.at(-1)!.headers.get("x-team")).toBeNull();
  });
});
