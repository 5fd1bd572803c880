import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import manifest from "../../package.json" with { type: "json" };
import { BUN, ROOT, tempDir } from "../support/gateway.ts";

/** Runs `bun main.ts …` in a fresh folder; no gateway is started by these commands. */
async function loupe(args: string[], env: Record<string, string> = {}) {
  const dir = tempDir("loupe-cli-");
  const proc = Bun.spawn([BUN, join(ROOT, "main.ts"), ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, LOUPE_DB: join(dir, "loupe.duckdb"), ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

describe("the command line", () => {
  test("--help, -h and help list every command and every settings flag", async () => {
    for (const args of [["--help"], ["-h"], ["help"], ["sql", "--help"]]) {
      const { stdout, code } = await loupe(args);
      expect(code).toBe(0);
      for (const line of ["loupe [serve] [--flags]", 'loupe sql "<query>" [--json|--csv]', "loupe prices [model] [--provider ID]", "loupe export --parquet DIR [--since D]", "loupe version", "loupe --help"]) {
        expect(stdout).toContain(line);
      }
      expect(stdout).toMatch(/--max-body-bytes\s+LOUPE_MAX_BODY_BYTES/);
      expect(stdout).toMatch(/--anthropic-base-url\s+LOUPE_ANTHROPIC_BASE_URL/);
    }
  });

  test("version and --version print the package version", async () => {
    for (const args of [["version"], ["--version"]]) {
      const { stdout, code } = await loupe(args);
      expect({ stdout, code }).toEqual({ stdout: `${manifest.version}\n`, code: 0 });
    }
  });

  test.each([
    [["serve", "--no-such-flag", "1"], "unknown flag --no-such-flag"],
    [["--no-such-flag=1"], "unknown flag --no-such-flag"],
    [["frobnicate"], 'unknown command "frobnicate"'],
    [["serve", "--json"], "loupe serve takes no --json"],
    [["sql", "--parquet", "out", "select 1"], "loupe sql takes no --parquet"],
    [["serve", "--port"], "--port needs a value"],
    [["sql", "--csv=yes", "select 1"], "--csv takes no value"],
    [["prices", "gpt-4o", "extra"], 'unexpected argument "extra"'],
    [["sql"], 'usage: loupe sql "<query>"'],
    [["export"], "usage: loupe export --parquet DIR"],
    [["export", "--parquet", "out", "--since", "yesterday-ish"], '--since: "yesterday-ish" is not a date'],
    [["serve", "--port=not-a-port"], "--port / LOUPE_PORT"],
  ])("usage error %j exits 2: %s", async (args, message) => {
    const { stderr, code } = await loupe(args);
    expect(stderr).toContain(message);
    expect(code).toBe(2);
  });

  test("settings flags work before or after the command, as --flag value or --flag=value", async () => {
    const dir = tempDir("loupe-cli-prices-");
    const pricesFile = join(dir, "prices.json");
    await Bun.write(pricesFile, JSON.stringify({ models: [{ provider: "acme", model: "acme-1", prices: { input_mtok: 1, output_mtok: 2 } }] }));
    for (const args of [
      ["--prices-file", pricesFile, "prices", "acme-1", "--provider", "acme"],
      ["prices", "--provider=acme", "acme-1", `--prices-file=${pricesFile}`],
    ]) {
      const { stdout, code } = await loupe(args);
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ model: "acme-1", provider: "acme", source: "override", usd_per_million_tokens: { input_mtok: 1, output_mtok: 2 } });
    }
  });
});

describe("loupe prices", () => {
  const overrides = async (models: unknown[]) => {
    const file = join(tempDir("loupe-cli-prices-"), "prices.json");
    await Bun.write(file, JSON.stringify({ models }));
    return file;
  };

  test("without --provider, a model priced under another provider than its name suggests is found, with that provider", async () => {
    const { stdout, code } = await loupe(["prices", "llama-3.3-70b-versatile"]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual([
      expect.objectContaining({ model: "llama-3.3-70b-versatile", provider: "groq", source: "genai-prices", usd_per_million_tokens: expect.objectContaining({ input_mtok: 0.59 }) }),
    ]);
  });

  test("without --provider, every provider that prices the model, the one its name matches first", async () => {
    const { stdout, code } = await loupe(["prices", "gpt-4o"]);
    expect(code).toBe(0);
    const providers = (JSON.parse(stdout) as { provider: string }[]).map((p) => p.provider);
    expect(providers[0]).toBe("openai");
    expect(providers).toContain("azure");
    expect(new Set(providers).size).toBe(providers.length);
  });

  test("an operator override for one provider prices that provider's calls, and is found without --provider", async () => {
    const file = await overrides([{ provider: "openai", model: "ft:gpt-4o-mini:acme:*", prices: { input_mtok: 0.3, output_mtok: 1.2 } }]);
    const all = await loupe(["prices", "ft:gpt-4o-mini:acme:v2", "--prices-file", file]);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual([
      expect.objectContaining({ provider: "openai", matched: "ft:gpt-4o-mini:acme:*", source: "override", usd_per_million_tokens: { input_mtok: 0.3, output_mtok: 1.2 } }),
    ]);
    const one = await loupe(["prices", "ft:gpt-4o-mini:acme:v2", "--provider", "openai", "--prices-file", file]);
    expect(JSON.parse(one.stdout)).toMatchObject({ provider: "openai", source: "override" });
  });

  test("an override without a provider covers every provider: listed once, as *", async () => {
    const file = await overrides([{ model: "house-model", prices: { input_mtok: 1, output_mtok: 3 } }]);
    const { stdout, code } = await loupe(["prices", "house-model", "--prices-file", file]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual([expect.objectContaining({ provider: "*", matched: "house-model", source: "override" })]);
  });

  test("with --provider, only that provider's price, as before: none known exits 1", async () => {
    const { stdout, code } = await loupe(["prices", "llama-3.3-70b-versatile", "--provider", "openai"]);
    expect(stdout).toContain("llama-3.3-70b-versatile: no price known");
    expect(code).toBe(1);
    const groq = await loupe(["prices", "llama-3.3-70b-versatile", "--provider", "groq"]);
    expect(JSON.parse(groq.stdout)).toMatchObject({ model: "llama-3.3-70b-versatile", provider: "groq", source: "genai-prices" });
  });

  test("--provider takes Loupe's provider ids (priced under their id in the price data); a provider whose models are free says so", async () => {
    const xai = await loupe(["prices", "grok-4", "--provider", "xai"]);
    expect(JSON.parse(xai.stdout)).toMatchObject({ model: "grok-4", provider: "x-ai", source: "genai-prices" });
    const ollama = await loupe(["prices", "llama3.2", "--provider", "ollama"]);
    expect(ollama.stdout).toContain("recorded as free (cost_usd 0, cost_source free) unless the price file prices them");
    expect(ollama.code).toBe(0);
  });

  test("a model no provider prices: no price known, exit 1", async () => {
    const { stdout, code } = await loupe(["prices", "no-such-model-anywhere"]);
    expect(stdout).toContain("no-such-model-anywhere: no price known");
    expect(code).toBe(1);
  });
});
