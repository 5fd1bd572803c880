import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { BUN, ROOT, startGateway, tempDir } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";
import { startOtlpReceiver } from "../support/otlp-receiver.ts";
import { startRedis } from "../support/redis.ts";

/**
 * The compiled executable, copied alone into an empty folder and run with an
 * environment that has no Node, Bun or node_modules on any path.
 */
let mock: MockUpstream;
let binary: string;
const bare = (dir: string) => ({ PATH: "/usr/bin:/bin", HOME: dir, XDG_CACHE_HOME: join(dir, "cache") });

beforeAll(async () => {
  mock = await startMockUpstream();
  const build = Bun.spawnSync([BUN, join(ROOT, "scripts", "build.ts")], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
  const dir = tempDir("loupe-bin-");
  binary = join(dir, "loupe");
  copyFileSync(join(ROOT, "dist", "loupe"), binary);
}, 120_000);
afterAll(() => mock.stop());

describe("dist/loupe, the single executable", () => {
  test("serves, proxies, records, answers loupe sql, and stops cleanly from an empty folder", async () => {
    const dir = tempDir("loupe-bin-run-");
    const receiver = await startOtlpReceiver();
    const gw = await startGateway({ command: [binary], dir, env: { ...bare(dir), LOUPE_OPENAI_BASE_URL: mock.url, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } });
    expect(existsSync(join(dir, "node_modules"))).toBe(false);
    const client = new OpenAI({ apiKey: "k", baseURL: `${gw.url}/openai/v1`, maxRetries: 0 });
    const chunks = [];
    for await (const chunk of await client.chat.completions.create({ model: "gpt-4o-2024-08-06", messages: [], stream: true })) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2);
    const run = (args: string[]) => Bun.spawnSync([binary, ...args], { cwd: dir, env: { ...bare(dir), LOUPE_DB: gw.db } });
    const viaServer = run(["sql", "--json", "select cost_usd, input_tokens from requests"]);
    expect(viaServer.exitCode).toBe(0);
    expect(JSON.parse(viaServer.stdout.toString())).toEqual([{ cost_usd: "0.005615000", input_tokens: "2006" }]);
    // The dashboard is inside the executable: its page and the assets the page names.
    const page = await fetch(`${gw.url}/sessions`, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    const html = await page.text();
    const assetPaths = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assetPaths.length).toBe(2);
    for (const path of assetPaths) {
      const asset = await fetch(`${gw.url}${path}`);
      expect([path, asset.status]).toEqual([path, 200]);
      expect((await asset.text()).length).toBeGreaterThan(1000);
    }
    expect(await gw.stop()).toBe(0);
    // …and exported its GenAI span over OTLP (flushed on SIGTERM).
    const span = receiver.spans.find((s) => s.kind === "CLIENT");
    expect(span?.attributes).toMatchObject({ "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 2006, "gen_ai.usage.cost": 0.005615 });
    await receiver.stop();
    const direct = run(["sql", "--csv", "select count(*) as n from requests"]);
    expect(direct.stdout.toString()).toBe("n\r\n1\r\n");
    expect(run(["version"]).stdout.toString().trim()).toMatch(/^\d+\.\d+\.\d+$/);
  }, 60_000);

  test("counts a limit in Redis (Bun's own Redis client inside the executable): admits up to the limit, then refuses", async () => {
    const redis = await startRedis();
    const dir = tempDir("loupe-bin-redis-");
    const env = { ...bare(dir), LOUPE_SECRET: "binary-redis-secret-0123456789abcdef", LOUPE_REDIS_URL: redis.url };
    const gw = await startGateway({ command: [binary], dir, env: { ...env, LOUPE_OPENAI_BASE_URL: mock.url } });
    try {
      const run = (args: string[], stdin?: string) => {
        const done = Bun.spawnSync([binary, ...args], { cwd: dir, env: { ...env, LOUPE_DB: gw.db }, stdin: stdin === undefined ? "ignore" : Buffer.from(stdin) });
        if (done.exitCode !== 0) throw new Error(`loupe ${args.join(" ")}: ${done.stderr.toString()}`);
        return done.stdout.toString();
      };
      run(["provider-keys", "set", "openai"], "sk-proj-BinaryRedisProviderKey0123456789\n");
      const { key } = JSON.parse(run(["keys", "create", "--project", "bin", "--json"]).trim().split("\n").pop()!) as { key: string };
      run(["limits", "set", "project", "bin", "--requests", "2/1m"]);
      const call = () =>
        fetch(`${gw.url}/openai/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
          body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
        }).then(async (response) => ({ status: response.status, remaining: response.headers.get("x-ratelimit-remaining"), body: await response.text() }));
      const results = [await call(), await call(), await call()];
      expect(results.map((result) => [result.status, result.remaining])).toEqual([
        [200, "1"],
        [200, "0"],
        [429, "0"],
      ]);
      const livez = (await (await fetch(`${gw.url}/livez`)).json()) as { limits: unknown };
      expect(livez.limits).toMatchObject({ backend: "redis", redisUp: true, redisFailures: 0, failOpenAdmits: 0 });
    } finally {
      expect(await gw.stop()).toBe(0);
      await redis.dispose();
    }
  }, 60_000);
});
