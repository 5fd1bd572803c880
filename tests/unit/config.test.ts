import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config.ts";
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
