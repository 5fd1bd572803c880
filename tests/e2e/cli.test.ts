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
