import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { runLoupe, startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";
import { startOtlpReceiver, type OtlpReceiver } from "../support/otlp-receiver.ts";

/**
 * Part 7 as a team uses it: provider keys stored once (`loupe provider-keys
 * set`, secret on stdin), a gateway key made with `loupe keys create`, and the
 * official SDKs changed only in base URL and key. The provider keys then
 * appear nowhere a client, the DuckDB file, the journal, the logs or the spans
 * could show them.
 */
const SECRET = "e2e-loupe-secret-0123456789abcdef";
const PROVIDER_KEYS = {
  openai: "sk-proj-RealOpenAIKey0123456789abcdefghijABCDEFGHIJ",
  anthropic: "sk-ant-api03-RealAnthropicKey0123456789abcdefghijABCDEFGH",
  gemini: "AIzaSyRealGeminiKey0123456789abcdefghij",
};

let upstream: MockUpstream;
let receiver: OtlpReceiver;
let gateway: Gateway;

/** `loupe …` against the running gateway's database (the command goes through the gateway). */
function loupe(args: string[], stdin?: string) {
  return runLoupe(gateway, args, { stdin, env: { LOUPE_SECRET: SECRET } });
}

beforeAll(async () => {
  upstream = await startMockUpstream();
  receiver = await startOtlpReceiver();
  gateway = await startGateway({
    env: {
      LOUPE_SECRET: SECRET,
      LOUPE_LOG_BODY: "full",
      LOUPE_OPENAI_BASE_URL: upstream.url,
      LOUPE_ANTHROPIC_BASE_URL: upstream.url,
      LOUPE_GEMINI_BASE_URL: upstream.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "true",
    },
  });
}, 30_000);
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
  await receiver?.stop();
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe("gateway keys with the official SDKs", () => {
  test("only the base URL and the key change; the stored provider keys go upstream and are found nowhere else", async () => {
    for (const [provider, secret] of Object.entries(PROVIDER_KEYS)) {
      const set = loupe(["provider-keys", "set", provider], `${secret}\n`);
      expect([provider, set.code, set.stderr]).toEqual([provider, 0, ""]);
      expect(set.stdout).not.toContain(secret);
    }
    const listed = loupe(["provider-keys", "list"]);
    expect(listed.code).toBe(0);
    for (const secret of Object.values(PROVIDER_KEYS)) expect(listed.stdout).not.toContain(secret);

    const created = loupe(["keys", "create", "--project", "web", "--name", "frontend", "--json"]);
    expect(created.code).toBe(0);
    const { id, key } = JSON.parse(created.stdout.trim().split("\n").pop()!) as { id: string; key: string };
    expect(key).toMatch(/^lp_live_[A-Za-z0-9]{40}$/);
    expect(loupe(["keys", "list"]).stdout).not.toContain(key);

    const seen: string[] = [];
    const openai = new OpenAI({ apiKey: key, baseURL: `${gateway.url}/openai/v1`, maxRetries: 0 });
    const chat = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: `my key is ${PROVIDER_KEYS.openai}` }] });
    seen.push(JSON.stringify(chat));
    const anthropic = new Anthropic({ apiKey: key, baseURL: `${gateway.url}/anthropic`, maxRetries: 0 });
    const message = await anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 20, messages: [{ role: "user", content: "hi" }] });
    seen.push(JSON.stringify(message));
    const stream = await anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 20, stream: true, messages: [{ role: "user", content: "hi" }] });
    for await (const event of stream) seen.push(JSON.stringify(event));
    const gemini = new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: `${gateway.url}/gemini` } });
    const generated = await gemini.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" });
    seen.push(JSON.stringify(generated));

    // Upstream got the stored keys, each in its provider's header, and never the gateway key.
    const [toOpenAI, toAnthropic, toAnthropicStream, toGemini] = upstream.requests;
    expect(toOpenAI!.headers.get("authorization")).toBe(`Bearer ${PROVIDER_KEYS.openai}`);
    expect(toAnthropic!.headers.get("x-api-key")).toBe(PROVIDER_KEYS.anthropic);
    expect(toAnthropicStream!.headers.get("x-api-key")).toBe(PROVIDER_KEYS.anthropic);
    expect(toGemini!.headers.get("x-goog-api-key")).toBe(PROVIDER_KEYS.gemini);
    for (const request of upstream.requests) expect(JSON.stringify([...request.headers])).not.toContain(key);

    const rows = await gateway.sql(`select key_id, project, status from requests order by started_at`);
    expect(rows).toEqual([0, 1, 2, 3].map(() => ({ key_id: id, project: "web", status: 200 })));
    await receiver.waitForSpans((spans) => spans.filter((s) => s.kind === "CLIENT").length >= 4, 10_000);
    expect(await gateway.stop()).toBe(0);

    // Nowhere: what the client received, the DuckDB file and the journal, the gateway's log, the spans.
    const places: [string, string][] = [
      ["client", seen.join("\n")],
      ["log", gateway.stderr()],
      ["spans", JSON.stringify(receiver.spans, (_key, value: unknown) => (typeof value === "bigint" ? String(value) : value))],
      ...filesUnder(gateway.dir).map((file) => [file, readFileSync(file).toString("latin1")] as [string, string]),
    ];
    for (const secret of Object.values(PROVIDER_KEYS)) {
      for (const [place, text] of places) expect([place, text.includes(secret)]).toEqual([place, false]);
    }
    // The prompt that quoted a key was stored masked.
    const direct = loupe(["sql", "--json", "select request_body from requests where provider = 'openai'"]);
    expect(direct.stdout).toContain("sk-proj-***");
  }, 60_000);
});
