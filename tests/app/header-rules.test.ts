import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { findRoutingLoop, routingSettingsSchema } from "../../src/routing/routing-settings.ts";
import { fixtureText } from "../support/fixtures.ts";
import { tempDir } from "../support/gateway.ts";
import { harness, readingBodies } from "../support/app-harness.ts";

/** Header rules (config file requestHeaderRules / responseHeaderRules), in process, and the settings' validation. */
function withConfig(config: unknown) {
  const file = join(tempDir("loupe-rules-"), "config.json");
  writeFileSync(file, JSON.stringify(config));
  const app = harness(
    () => new Response(fixtureText("openai/chat-nonstream.json"), { headers: { "content-type": "application/json", "openai-organization": "org-secret-name", "x-request-id": "req_1", "openai-processing-ms": "12" } }),
    { LOUPE_CONFIG: file },
  );
  return readingBodies(app);
}
const chat = (model: string, headers: Record<string, string> = {}) =>
  new Request("http://loupe.test/openai/v1/chat/completions", { method: "POST", headers: { authorization: "Bearer sk-1", "user-agent": "MyApp/1.0 (internal)", ...headers }, body: JSON.stringify({ model, messages: [] }) });

describe("header rules", () => {
  const app = withConfig({
    requestHeaderRules: [
      { header: "user-agent", action: "replace", find: "(internal)", value: "(via loupe)" },
      { header: "x-team", action: "set", value: "research", match: { model: "gpt-4o*" } },
      { header: "x-debug", action: "block" },
      { header: "x-disabled", action: "set", value: "no", enabled: false },
    ],
    responseHeaderRules: [
      { header: "openai-organization", action: "block" },
      { header: "x-served-by", action: "set", value: "loupe", match: { header: "x-want-tag" } },
    ],
  });

  test("request rules: replace, set (only where the match holds), block; a disabled rule does nothing", async () => {
    await app.fetch(chat("gpt-4o-mini", { "x-debug": "1" }));
    await app.fetch(chat("o3"));
    const [first, second] = app.sent.map((s) => s.init.headers as Record<string, string>);
    expect(first!["user-agent"]).toBe("MyApp/1.0 (via loupe)");
    expect(first!["x-team"]).toBe("research");
    expect(first!["x-debug"]).toBeUndefined();
    expect(first!["x-disabled"]).toBeUndefined();
    expect(second!["x-team"]).toBeUndefined();
  });

  test("response rules: blocked and set headers; x-loupe-request-id always Loupe's", async () => {
    const plain = await app.fetch(chat("o3"));
    expect(plain.headers.get("openai-organization")).toBeNull();
    expect(plain.headers.get("x-request-id")).toBe("req_1");
    expect(plain.headers.get("x-served-by")).toBeNull();
    const tagged = await app.fetch(chat("o3", { "x-want-tag": "1" }));
    expect(tagged.headers.get("x-served-by")).toBe("loupe");
    expect(tagged.headers.get("x-loupe-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("settings validation", () => {
  test("a malformed rule is refused at load, the field named", () => {
    const file = join(tempDir("loupe-rules-"), "config.json");
    writeFileSync(file, JSON.stringify({ requestHeaderRules: [{ header: "x-a", action: "replace", value: "b" }] }));
    expect(() => loadConfig({ env: { LOUPE_CONFIG: file } })).toThrow(/requestHeaderRules\[0\]\.find: replace needs find/);
    writeFileSync(file, JSON.stringify({ responseHeaderRules: [{ header: "x-loupe-request-id", action: "block" }] }));
    expect(() => loadConfig({ env: { LOUPE_CONFIG: file } })).toThrow(/x-loupe-\* headers are Loupe's own/);
    writeFileSync(file, JSON.stringify({ routing: [{ match: { model: "/[unclosed/" }, to: { provider: "openai" } }] }));
    expect(() => loadConfig({ env: { LOUPE_CONFIG: file } })).toThrow(/routing\[0\]\.match\.model: not a valid regular expression/);
  });

  test("a routing loop (A → B → A) is refused at load; a chain without a way back is fine", () => {
    const loop = [
      { match: { provider: "openai", model: "gpt-4o" }, to: { provider: "anthropic", model: "claude-sonnet-4-5" } },
      { match: { provider: "anthropic", model: "claude-*" }, to: { provider: "openai", model: "gpt-4o" } },
    ];
    expect(findRoutingLoop(loop)).toEqual([0, 1, 0]);
    const result = routingSettingsSchema.safeParse({ routing: loop });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.message).toContain("routing[0] → routing[1] → routing[0]");
    expect(findRoutingLoop([loop[0]!, { match: { provider: "anthropic", model: "claude-opus-*" }, to: { provider: "openai", model: "gpt-5" } }])).toBeUndefined();
  });
});
