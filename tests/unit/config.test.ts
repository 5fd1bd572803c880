import { describe, expect, test } from "bun:test";
import { ConfigError, isLoopbackHost, loadConfig } from "../../src/config.ts";
import { tempDir } from "../support/gateway.ts";

describe("config: flags > LOUPE_* env > file > defaults", () => {
  test("defaults", () => {
    const config = loadConfig({ env: {} });
    expect(config.server).toEqual({ host: "127.0.0.1", port: 8787 });
    expect(config.db).toBe("./loupe.duckdb");
    expect(Object.isFrozen(config.limits)).toBe(true);
  });

  test("precedence", async () => {
    const file = `${tempDir()}/loupe.json`;
    await Bun.write(file, JSON.stringify({ port: 1000, db: "file.duckdb", logBody: "full" }));
    const config = loadConfig({ env: { LOUPE_CONFIG: file, LOUPE_PORT: "2000", LOUPE_DB: "env.duckdb" }, flags: { "--port": "3000" } });
    expect(config.server.port).toBe(3000);
    expect(config.db).toBe("env.duckdb");
    expect(config.logBody).toBe("full");
  });

  test("provider base URLs follow the registry, trailing slash trimmed", () => {
    const config = loadConfig({ env: { LOUPE_OPENAI_BASE_URL: "http://127.0.0.1:9/", LOUPE_GEMINI_BASE_URL: "https://example.test/x" } });
    expect(config.upstreams).toEqual({ openai: "http://127.0.0.1:9", gemini: "https://example.test/x" });
  });

  test("booleans parse 'false' as false", () => {
    expect(loadConfig({ env: { LOUPE_QUIET: "false" } }).quiet).toBe(false);
    expect(loadConfig({ env: { LOUPE_QUIET: "true" } }).quiet).toBe(true);
  });

  test("every bad value gets a clear error naming the flag and variable", () => {
    expect(() => loadConfig({ env: { LOUPE_PORT: "eighty" } })).toThrow(/--port \/ LOUPE_PORT/);
    expect(() => loadConfig({ env: { LOUPE_PORT: "70000" } })).toThrow(/LOUPE_PORT/);
    expect(() => loadConfig({ env: { LOUPE_LOG_BODY: "all" } })).toThrow(/"full"\|"meta"\|"none"/);
    expect(() => loadConfig({ env: { LOUPE_OPENAI_BASE_URL: "ftp://x" } })).toThrow(/LOUPE_OPENAI_BASE_URL/);
    expect(() => loadConfig({ env: { LOUPE_PROT: "1" } })).toThrow(/unknown environment variable LOUPE_PROT/);
    expect(() => loadConfig({ flags: { "--prot": "1" } })).toThrow(/unknown flag --prot/);
    expect(() => loadConfig({ env: { LOUPE_CONFIG: "/nonexistent/loupe.json" } })).toThrow(/cannot read config file/);
  });
});

describe("config: providers declared in the config file", () => {
  const write = async (config: unknown) => {
    const file = `${tempDir()}/loupe.json`;
    await Bun.write(file, JSON.stringify(config));
    return file;
  };

  test("parsed, base URL trimmed; LOUPE_<ID>_BASE_URL and --<id>-base-url override it as for a registered provider", async () => {
    const file = await write({ port: 1000, providers: [{ id: "acme", baseUrl: "https://api.acme.test/v1/", dialect: "openai", pricingId: "together" }, { id: "claudish", baseUrl: "http://127.0.0.1:9/anthropic", dialect: "anthropic" }] });
    const config = loadConfig({ env: { LOUPE_CONFIG: file } });
    expect(config.server.port).toBe(1000);
    expect(config.providers).toEqual([
      { id: "acme", baseUrl: "https://api.acme.test/v1", dialect: "openai", pricingId: "together" },
      { id: "claudish", baseUrl: "http://127.0.0.1:9/anthropic", dialect: "anthropic" },
    ]);
    expect(Object.isFrozen(config.providers[0])).toBe(true);
    const overridden = loadConfig({ env: { LOUPE_CONFIG: file, LOUPE_ACME_BASE_URL: "http://127.0.0.1:7/v1" }, flags: { "--claudish-base-url": "http://127.0.0.1:8" } });
    expect(overridden.providers.map((p) => p.baseUrl)).toEqual(["http://127.0.0.1:7/v1", "http://127.0.0.1:8"]);
    expect(overridden.upstreams).toEqual({});
    // Without the declaration, the variable names nothing.
    expect(() => loadConfig({ env: { LOUPE_ACME_BASE_URL: "http://127.0.0.1:7" } })).toThrow(/unknown environment variable LOUPE_ACME_BASE_URL/);
    expect(loadConfig({ env: {} }).providers).toEqual([]);
  });

  test("an id already served is refused at start, by name: a registered provider's, the gateway's own paths, or twice", async () => {
    const clash = await write({ providers: [{ id: "openai", baseUrl: "https://x.test", dialect: "openai" }] });
    expect(() => loadConfig({ env: { LOUPE_CONFIG: clash } })).toThrow(/provider "openai" is already registered/);
    const own = await write({ providers: [{ id: "api", baseUrl: "https://x.test", dialect: "openai" }] });
    expect(() => loadConfig({ env: { LOUPE_CONFIG: own } })).toThrow(/provider id "api" is a path the gateway serves itself/);
    const twice = await write({ providers: [{ id: "acme", baseUrl: "https://x.test", dialect: "openai" }, { id: "acme", baseUrl: "https://y.test", dialect: "anthropic" }] });
    expect(() => loadConfig({ env: { LOUPE_CONFIG: twice } })).toThrow(/provider "acme" is declared twice/);
  });

  test("a bad entry is refused with the field at fault", async () => {
    const bad = await write({ providers: [{ id: "acme", baseUrl: "https://x.test", dialect: "openai" }, { id: "Bad-Id", baseUrl: "ftp://x", dialect: "cohere" }] });
    const message = (() => {
      try {
        loadConfig({ env: { LOUPE_CONFIG: bad } });
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toContain("providers[1].id: must be lower-case letters and digits");
    expect(message).toContain("providers[1].baseUrl");
    expect(message).toContain("providers[1].dialect");
    expect(() => loadConfig({ env: { LOUPE_CONFIG: bad } })).toThrow(ConfigError);
  });
});

describe("loopback: what needs no admin token to listen on", () => {
  test("localhost, 127.0.0.0/8 and ::1 in any spelling; no host name, whatever it begins with", () => {
    const loopback = ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1"];
    const elsewhere = ["0.0.0.0", "::", "[::]", "192.0.2.2", "127.0.0.1.example.com", "127.evil.example", "localhost.example.com", "::ffff:127.0.0.1", "fe80::1"];
    expect(loopback.filter((host) => !isLoopbackHost(host))).toEqual([]);
    expect(elsewhere.filter(isLoopbackHost)).toEqual([]);
  });
});
