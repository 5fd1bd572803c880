import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ROOT, startGateway, tempDir } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

let mock: MockUpstream;
beforeAll(async () => {
  mock = await startMockUpstream();
});
afterAll(() => mock.stop());

const env = () => ({ LOUPE_ANTHROPIC_BASE_URL: mock.url, LOUPE_OPENAI_BASE_URL: mock.url, LOUPE_FLUSH_INTERVAL_MS: "60000" });
const params = { model: "claude-opus-4-8", max_tokens: 10, messages: [{ role: "user" as const, content: "hi" }] };

async function loupeSql(db: string, query: string): Promise<any[]> {
  const proc = Bun.spawn([BUN, join(ROOT, "main.ts"), "sql", "--json", query], { env: { ...process.env, LOUPE_DB: db }, stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(await new Response(proc.stderr).text());
  return JSON.parse(out);
}

describe("durability", () => {
  test("kill -9 right after N answered calls loses none of their records", async () => {
    // Flushes to DuckDB are held back (60 s interval): the records live only in the journal when the gateway dies.
    const gw = await startGateway({ env: env() });
    const client = new Anthropic({ apiKey: "k", baseURL: `${gw.url}/anthropic`, maxRetries: 0 });
    const N = 40;
    const ids = new Set<string>();
    await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        if (i % 2) {
          const { response } = await client.messages.create(params).withResponse();
          ids.add(response.headers.get("x-loupe-request-id")!);
        } else {
          const response = await client.messages.create({ ...params, stream: true }).asResponse();
          await response.arrayBuffer();
          ids.add(response.headers.get("x-loupe-request-id")!);
        }
      }),
    );
    gw.proc.kill("SIGKILL");
    await gw.proc.exited;
    // No server now: `loupe sql` opens the file itself and replays the journal first.
    const rows = await loupeSql(gw.db, "select id, output_tokens, cost_usd from requests");
    expect(rows.length).toBe(N);
    expect(new Set(rows.map((r) => r.id))).toEqual(ids);
    expect(rows.every((r) => r.cost_usd !== null)).toBe(true);
    // A restarted gateway on the same file neither loses nor duplicates them.
    const again = await startGateway({ env: env(), db: gw.db, dir: gw.dir });
    expect((await again.sql("select count(*)::int as n, count(distinct id)::int as d from requests"))[0]).toEqual({ n: N, d: N });
    expect(await again.stop()).toBe(0);
  });

  test("a crashed journal is recorded with the prices of the gateway that took the calls, not the shell's", async () => {
    // The gateway prices an in-house model by its override file; the shell that runs `loupe sql` later has none.
    const dir = tempDir();
    const pricesFile = join(dir, "prices.json");
    writeFileSync(pricesFile, JSON.stringify({ models: [{ provider: "anthropic", model: "claude-private-finetune-x", prices: { input_mtok: 2, output_mtok: 10 } }] }));
    const gw = await startGateway({ dir, env: { ...env(), LOUPE_PRICES_FILE: pricesFile } });
    const client = new Anthropic({ apiKey: "k", baseURL: `${gw.url}/anthropic`, maxRetries: 0 });
    await client.messages.create({ ...params, model: "claude-private-finetune-x" }, { headers: { "x-mock-fixture": "anthropic/messages-nonstream-unknown-model.CONSTRUCTED.json" } });
    gw.proc.kill("SIGKILL");
    await gw.proc.exited;
    rmSync(pricesFile);
    const rows = await loupeSql(gw.db, "select model, input_tokens, output_tokens, cost_usd::varchar as cost, cost_source from requests");
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row.cost_source).toBe("override");
    // 2 USD per million input tokens and 10 per million output tokens, exactly.
    const nano = BigInt(row.input_tokens) * 2000n + BigInt(row.output_tokens) * 10000n;
    expect(row.cost).toBe(`${nano / 1_000_000_000n}.${String(nano % 1_000_000_000n).padStart(9, "0")}`);
  });

  test("SIGTERM drains in-flight streams, refuses new work, flushes, exits 0", async () => {
    const gw = await startGateway({ env: env() });
    const started = fetch(`${gw.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-mock-fixture": "anthropic/messages-stream-cache.CONSTRUCTED.sse", "x-mock-event-delay-ms": "150" },
      body: JSON.stringify({ ...params, stream: true }),
    });
    const response = await started;
    const body = response.text();
    const live = (await (await fetch(`${gw.url}/livez`)).json()) as { inflight: number };
    expect(live.inflight).toBe(1);
    gw.proc.kill("SIGTERM");
    await Bun.sleep(100);
    const during = await fetch(`${gw.url}/health`).then((r) => r.status, () => "refused");
    expect([503, "refused"]).toContain(during);
    expect(await body).toBe(new TextDecoder().decode(mock.sent.at(-1)!));
    expect(await gw.proc.exited).toBe(0);
    expect(existsSync(`${gw.db}.loupe.json`)).toBe(false);
    const rows = await loupeSql(gw.db, "select truncated, output_tokens from requests");
    expect(rows).toEqual([{ truncated: false, output_tokens: "503" }]);
  });
});

describe("streaming without delay", () => {
  test("each event reaches the client as the upstream sends it", async () => {
    const gw = await startGateway({ env: env() });
    const t0 = performance.now();
    const response = await fetch(`${gw.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-mock-fixture": "anthropic/messages-stream-cache.CONSTRUCTED.sse", "x-mock-event-delay-ms": "400" },
      body: JSON.stringify({ ...params, stream: true }),
    });
    const reader = response.body!.getReader();
    const first = await reader.read();
    const firstAt = performance.now() - t0;
    expect(new TextDecoder().decode(first.value)).toStartWith("event: message_start");
    // The whole stream takes ≥ 2.4 s upstream; the first event must not wait for it.
    expect(firstAt).toBeLessThan(350);
    while (!(await reader.read()).done);
    expect(performance.now() - t0).toBeGreaterThan(2000);
    expect(await gw.stop()).toBe(0);
  });

  test("a first byte after 12 s of silence is not cut by an idle timeout", async () => {
    const gw = await startGateway({ env: env() });
    const client = new Anthropic({ apiKey: "k", baseURL: `${gw.url}/anthropic`, maxRetries: 0, timeout: 60_000 });
    const message = await client.messages.create(params, { headers: { "x-mock-delay-ms": "12000" } });
    expect(message.usage.output_tokens).toBe(503);
    expect(await gw.stop()).toBe(0);
  }, 30_000);
});

describe("storage at background priority", () => {
  /** "nice/policy" of the gateway's threads whose name starts with `prefix` (Linux /proc). */
  function schedulingOf(pid: number, prefix: string): string[] {
    const dir = `/proc/${pid}/task`;
    return readdirSync(dir).flatMap((tid) => {
      try {
        if (!readFileSync(`${dir}/${tid}/comm`, "utf8").startsWith(prefix)) return [];
        // Fields 19 (nice) and 41 (policy) of stat; the command name (field 2) may hold spaces, so count after its ')'.
        const fields = readFileSync(`${dir}/${tid}/stat`, "utf8");
        const after = fields.slice(fields.lastIndexOf(")") + 2).split(" ");
        return [`${after[16]}/${after[38]}`];
      } catch {
        return []; // the thread ended meanwhile
      }
    });
  }

  const SCHED_OTHER = 0;
  const SCHED_IDLE = 5;
  test.skipIf(process.platform !== "linux")("DuckDB's threads run at nice 19 and SCHED_IDLE by default, as any thread with LOUPE_STORAGE_PRIORITY=normal", async () => {
    for (const [priority, expected] of [["background", `19/${SCHED_IDLE}`], ["normal", `0/${SCHED_OTHER}`]] as const) {
      const gw = await startGateway({ env: { ...env(), LOUPE_FLUSH_INTERVAL_MS: "10", LOUPE_STORAGE_PRIORITY: priority } });
      const client = new Anthropic({ apiKey: "k", baseURL: `${gw.url}/anthropic`, maxRetries: 0 });
      await client.messages.create(params);
      expect(await gw.sql("select count(*)::int as n from requests")).toEqual([{ n: 1 }]);
      const pool = schedulingOf(gw.proc.pid, "Bun Pool");
      expect(pool.length).toBeGreaterThan(0);
      expect(new Set(pool)).toEqual(new Set([expected]));
      // The threads that serve calls keep their priority.
      expect(schedulingOf(gw.proc.pid, "HTTP Client")).toEqual([`0/${SCHED_OTHER}`]);
      expect(await gw.stop()).toBe(0);
    }
  });
});
