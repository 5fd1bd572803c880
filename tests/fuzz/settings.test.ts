import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, describeSettings, loadConfig, type Config } from "../../src/config.ts";
import { harness } from "../support/app-harness.ts";
import { anyJson, looseJson, runs, text, TIMEOUT } from "./arbitraries.ts";

/**
 * Configuration and settings input, from whoever may give it: every setting
 * by environment, flag or config file, the OpenTelemetry variables, and the
 * control plane's `PUT /api/settings` body (and the other JSON bodies of
 * `/api`). A value is taken or refused with an error that names it: a
 * ConfigError at start, a 400 while running — never another exception, never
 * a 500, never a change made half-way.
 */

const SETTINGS = describeSettings();
const OTEL = [
  "OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
  "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_TRACES_SAMPLER",
  "OTEL_TRACES_SAMPLER_ARG", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER",
];

/** Values as an operator might type them, right or wrong for each setting's type. */
const value = fc.oneof(
  { weight: 2, arbitrary: text(20) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "0", "1", "-1", "1.5", "65536", "1e400", "NaN", "Infinity", " 5 ", "0x10", "true", "false", "yes", "0", "on", "TRUE",
      "http://x.test", "https://x.test/{trace_id}", "https://x.test/", "redis://r:6379", "rediss://r", "ftp://x", "not a url", "meta", "full", "none", "background",
      "us-east-1", "US_EAST_1", "grpc", "http/json", "gzip", "a=b,c=d", "a=%ZZ", "=x", "a b=c", "k=line%0Abreak", "traceidratio", "2", "loupe_db", "a-b",
    ),
  },
);

function expectConfig(config: Config): void {
  expect(Object.isFrozen(config) && Object.isFrozen(config.limits) && Object.isFrozen(config.routing)).toBe(true);
  expect(Number.isInteger(config.server.port) && config.server.port >= 0 && config.server.port <= 65535).toBe(true);
  for (const n of [config.limits.maxBodyBytes, config.limits.maxLoggedBodyBytes, config.limits.upstreamTimeoutMs, config.flush.intervalMs]) expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
  expect(config.flush.batchRows).toBeGreaterThanOrEqual(1);
  // What is taken must be usable: OTLP headers are sent as HTTP headers.
  for (const target of [config.telemetry?.traces, config.telemetry?.metrics]) if (target) expect(() => new Headers(target.headers)).not.toThrow();
}

/** Loads, and checks the outcome: a usable config, or a ConfigError naming one of `names`. */
function load(input: Parameters<typeof loadConfig>[0], names: string[]): void {
  let config: Config | undefined;
  try {
    config = loadConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect({ message, namesOne: names.some((name) => message.includes(name)) }).toEqual({ message, namesOne: true });
    return;
  }
  expectConfig(config);
}

function keysOf(json: string): string[] {
  try {
    const parsed: unknown = JSON.parse(json);
    return typeof parsed === "object" && parsed !== null ? Object.keys(parsed) : [];
  } catch {
    return [];
  }
}

const dir = mkdtempSync(join(tmpdir(), "loupe-fuzz-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadConfig", () => {
  test(
    "any values for any settings and OTEL_* variables: a usable config, or a ConfigError naming the variable",
    () => {
      const env = fc.dictionary(fc.constantFrom(...SETTINGS.map((s) => s.env), ...OTEL), value, { maxKeys: 6 });
      fc.assert(
        fc.property(env, (vars) => load({ env: vars }, Object.keys(vars))),
        // Found by this property: a bad OTLP endpoint was refused without naming its variable; headers that no request can carry were taken.
        { ...runs(600), examples: [[{ OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://x" }], [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://x.test", OTEL_EXPORTER_OTLP_HEADERS: "k=line%0Abreak" }]] },
      );
    },
    TIMEOUT,
  );

  test("any flags: a usable config, or a ConfigError naming the flag", () => {
    const flags = fc.dictionary(fc.oneof(fc.constantFrom(...SETTINGS.map((s) => s.flag)), text(8).map((s) => `--${s}`)), value, { maxKeys: 4 });
    fc.assert(
      fc.property(flags, (given) => load({ flags: given, env: {} }, Object.keys(given))),
      runs(300),
    );
  });

  test(
    "any config file: a usable config, or a ConfigError naming the file",
    () => {
      const keys = [...SETTINGS.map((s) => s.flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())), "providers", "routing", "fallbacks", "retry", "timeouts", "requestHeaderRules", "responseHeaderRules"];
      const nested = ["id", "baseUrl", "dialect", "pricingId", "match", "to", "chain", "provider", "model", "header", "action", "value", "find", "enabled", "attempts", "backoffMs", "maxBackoffMs", "on", "firstByteMs", "idleMs", "streamDeadlineS", "weight"];
      const file = fc.oneof({ weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...keys), looseJson(nested, ["openai", "anthropic", "set", "block", "replace", "claude-*", "/^gpt/", "/(/", "connect", "http://x.test"]), { maxKeys: 4 }) }, { weight: 1, arbitrary: anyJson });
      const flagOf = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      let n = 0;
      fc.assert(
        fc.property(fc.oneof(file.map((json) => JSON.stringify(json)), text(30)), (content) => {
          const path = join(dir, `config-${++n}.json`);
          writeFileSync(path, content);
          // A setting's error names it as a flag and variable (`--host / LOUPE_HOST`), an unknown key as written, the file's own sections by path.
          const given = keysOf(content);
          load({ env: { LOUPE_CONFIG: path } }, [path, ...given.map(flagOf), ...given.map((key) => JSON.stringify(key))]);
        }),
        // Found by this property: an unknown key in the file was reported without the file, its name unescaped.
        { ...runs(400), examples: [['{"a\\"b": 1}']] },
      );
    },
    TIMEOUT,
  );
});

// --- While running: PUT /api/settings and the other JSON bodies ---------------

const app = harness(() => new Response(null, { status: 404 }), {}, { apiSql: async () => ({ columns: [], rows: [], truncated: false }), exportParquet: async () => ({ dir: "/x", files: 0, rows: 0 }) });
const local = { "x-loupe-local-key": "k" };
const send = (method: string, path: string, body: string | null, contentType = "application/json") =>
  app.fetch(new Request(`http://gw.test${path}`, { method, headers: { ...local, "content-type": contentType, origin: "http://gw.test" }, body }));
const current = async () => ((await (await app.fetch(new Request("http://gw.test/api/settings", { headers: local }))).json()) as { control: { version: number; settings: unknown } }).control;

const SETTINGS_KEYS = ["version", "requestHeaderRules", "responseHeaderRules", "routing", "fallbacks", "retry", "timeouts"];
const RULE_KEYS = ["match", "to", "chain", "provider", "model", "header", "action", "value", "find", "enabled", "attempts", "backoffMs", "maxBackoffMs", "on", "firstByteMs", "idleMs", "streamDeadlineS", "weight", "key", "project", "user"];
const RULE_VALUES = ["openai", "anthropic", "set", "block", "replace", "x-team", "x-loupe-key", "claude-*", "/^gpt/", "/(/", "connect", "timeout"];
/** A body shaped like the settings: the right keys (and a few wrong ones), values of any shape. */
const settingsBody = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...SETTINGS_KEYS) }, { weight: 1, arbitrary: text(6) }), fc.oneof(fc.array(looseJson(RULE_KEYS, RULE_VALUES), { maxLength: 3 }), looseJson(RULE_KEYS, RULE_VALUES)), { maxKeys: 3 }) },
  { weight: 1, arbitrary: anyJson },
);

describe("PUT /api/settings", () => {
  test(
    "any JSON body: 200 and the settings applied as given, or 400 naming the field and nothing changed — never a 500",
    async () => {
      await fc.assert(
        fc.asyncProperty(settingsBody, async (body) => {
          const before = await current();
          const response = await send("PUT", "/api/settings", JSON.stringify(body));
          const answer = (await response.json()) as { version?: number; settings?: unknown; error?: { message: string; field?: string } };
          expect({ body, status: response.status, ok: [200, 400, 409].includes(response.status) }).toEqual({ body, status: response.status, ok: true });
          const after = await current();
          if (response.status === 200) {
            expect(after).toEqual({ version: answer.version!, settings: answer.settings });
            // Taken means every key given was a setting: the config file refuses an unknown key, so does this.
            expect(Object.keys(body as object).filter((key) => !SETTINGS_KEYS.includes(key))).toEqual([]);
          } else {
            expect(typeof answer.error?.message).toBe("string");
            if (answer.error?.field) expect(answer.error.message.startsWith(answer.error.field)).toBe(true);
            expect(after).toEqual(before);
          }
        }),
        // Found by this property: a key the settings do not have was dropped silently (200, nothing changed) instead of refused.
        { ...runs(300), examples: [[{ fallback: [] }]] },
      );
    },
    TIMEOUT,
  );

  test(
    "any bytes under any content type, on every JSON route of /api: a 4xx, never a 500",
    async () => {
      const routes = [["PUT", "/api/settings"], ["POST", "/api/sql"], ["POST", "/api/login"]] as const;
      const bytes = fc.oneof(text(40), fc.constantFrom("{", "", "null", "[]", '{"sql": 1}', '{"version": "1"}', "\ufeff{}", "{}}", '{"a":1,}'));
      const types = fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "");
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...routes), bytes, types, async ([method, path], body, type) => {
          const before = await current();
          const response = await send(method, path, body, type);
          expect({ path, body, type, status: response.status, ok: response.status < 500 }).toEqual({ path, body, type, status: response.status, ok: true });
          if (response.status >= 400) expect(typeof ((await response.json()) as { error: { message: unknown } }).error.message).toBe("string");
          if (path === "/api/settings" && response.status !== 200) expect(await current()).toEqual(before);
        }),
        // Found by this property: malformed JSON, and a body that is not JSON at all, were answered 500.
        { ...runs(300), examples: [[routes[0], "{", "application/json"], [routes[0], "{}", "text/plain"], [routes[1], "{", "application/json"]] },
      );
    },
    TIMEOUT,
  );
});

describe("the local CLI's routes (/_loupe/*)", () => {
  test("any body: a 4xx, never a 500", async () => {
    const bytes = fc.oneof(text(30), fc.constantFrom("{", "", "null", "[]", "1", '{"sql": 1}', '{"sql": "SELECT 1"}', '{"dir": 5}'));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("/_loupe/sql", "/_loupe/export"), bytes, async (path, body) => {
        const response = await send("POST", path, body);
        expect({ path, body, status: response.status, ok: response.status < 500 }).toEqual({ path, body, status: response.status, ok: true });
      }),
      // Found by this property: a body that was not a JSON object threw out of the handler (500).
      { ...runs(150), examples: [["/_loupe/sql", "{"], ["/_loupe/sql", "null"], ["/_loupe/export", "[]"]] },
    );
  });
});
