import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

let mock: MockUpstream;
beforeAll(async () => {
  mock = await startMockUpstream();
});
afterAll(() => mock.stop());

async function burst(gw: Gateway): Promise<number> {
  const proc = Bun.spawn([BUN, join(import.meta.dir, "..", "support", "burst.ts"), `${gw.url}/openai`, "400", "1500"], {
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "65535" },
  });
  const { elapsed, ok } = JSON.parse(await new Response(proc.stdout).text()) as { elapsed: number; ok: number };
  expect(ok).toBe(400);
  expect((await gw.sql("select count(*)::int as n from requests"))[0]!.n).toBe(400);
  return elapsed;
}

test("400 simultaneous slow calls are not queued behind Bun's 256 outgoing-fetch cap", async () => {
  const gw = await startGateway({ env: { LOUPE_OPENAI_BASE_URL: mock.url } });
  const elapsed = await burst(gw);
  await gw.stop();
  // Queued, the last 144 would start only after the first 256 finished (1.5 s each): ≥ 3 s.
  expect(elapsed).toBeLessThan(2900);
  // Control: the same gateway held to Bun's default cap does queue.
  const capped = await startGateway({ env: { LOUPE_OPENAI_BASE_URL: mock.url, BUN_CONFIG_MAX_HTTP_REQUESTS: "256" } });
  expect(await burst(capped)).toBeGreaterThan(3000);
  await capped.stop();
}, 30_000);

test.skipIf(process.platform !== "linux")("the gateway starts with its start-only settings (mimalloc keeps freed memory 10 s), a value the user gives wins", async () => {
  const environ = (gw: Gateway) => new Map(readFileSync(`/proc/${gw.proc.pid}/environ`, "utf8").split("\0").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
  const plain = await startGateway({ env: { LOUPE_OPENAI_BASE_URL: mock.url } });
  expect(environ(plain).get("MIMALLOC_PURGE_DELAY")).toBe("10000");
  expect(environ(plain).get("BUN_CONFIG_MAX_HTTP_REQUESTS")).toBe("65535");
  await plain.stop();
  const given = await startGateway({ env: { LOUPE_OPENAI_BASE_URL: mock.url, MIMALLOC_PURGE_DELAY: "250" } });
  expect(environ(given).get("MIMALLOC_PURGE_DELAY")).toBe("250");
  expect(environ(given).get("BUN_CONFIG_MAX_HTTP_REQUESTS")).toBe("65535");
  await given.stop();
});
