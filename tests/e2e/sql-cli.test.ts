import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, ROOT, startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

let mock: MockUpstream;
let gw: Gateway;

async function loupe(args: string[], db: string) {
  const proc = Bun.spawn([BUN, join(ROOT, "main.ts"), ...args], { env: { ...process.env, LOUPE_DB: db }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_OPENAI_BASE_URL: mock.url } });
  for (let i = 0; i < 3; i++) {
    await fetch(`${gw.url}/openai/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"model":"gpt-5.4","messages":[]}' });
  }
});
afterAll(async () => {
  await gw.stop();
  await mock.stop();
});

describe("loupe sql", () => {
  test("reaches the running server that holds the file, flags before or after the query", async () => {
    const after = await loupe(["sql", "select model, count(*)::int as n, sum(cost_usd)::varchar as usd from requests group by 1", "--json"], gw.db);
    expect(after.code).toBe(0);
    // 3 × (1117 × $2.50 + 46 × $15) per million
    expect(JSON.parse(after.stdout)).toEqual([{ model: "gpt-5.4", n: 3, usd: "0.010447500" }]);
    const before = await loupe(["sql", "--csv", "select count(*) as n from requests"], gw.db);
    expect(before.stdout).toBe("n\r\n3\r\n");
    const table = await loupe(["sql", "select provider, status from requests limit 1"], gw.db);
    expect(table.stdout).toContain("provider │ status");
    expect(table.stdout).toContain("(1 row)");
  });

  test("is read-only", async () => {
    for (const statement of ["delete from requests", "drop table requests", "insert into requests (id) values ('x')", "select 1; delete from requests"]) {
      const result = await loupe(["sql", statement], gw.db);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/only SELECT statements are allowed|only one statement is allowed/);
    }
    expect((await gw.sql("select count(*)::int as n from requests"))[0]!.n).toBe(3);
  });

  test("works on the file directly when no server runs", async () => {
    await gw.stop();
    const result = await loupe(["sql", "--json", "select count(*)::int as n from requests"], gw.db);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([{ n: 3 }]);
  });
});
