import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readCaptures, type CapturedCall } from "../support/claude-code-captures.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";

/**
 * A Claude Code session replayed through the gateway: the requests Claude
 * Code 2.1.197 sent (tests/fixtures/claude-code/s1: start-up probe, title,
 * main turn, two subagents, main turn, `/compact`, `/context`), in order,
 * with their headers, the gateway as its ANTHROPIC_BASE_URL.
 */
let mock: MockUpstream;
let gw: Gateway;
const session = readCaptures().filter((call) => call.name.startsWith("s1/"));
const SESSION_ID = session.find((call) => !call.probe)!.headers["x-claude-code-session-id"]!;
const recorded: { call: CapturedCall; id: string }[] = [];

async function replay(call: CapturedCall, base: string): Promise<Response> {
  const response = await fetch(base + call.path, {
    method: call.method,
    headers: { ...call.headers, "x-api-key": "sk-ant-test" },
    body: call.body === null ? undefined : JSON.stringify(call.body),
  });
  await response.arrayBuffer();
  return response;
}

beforeAll(async () => {
  mock = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_ANTHROPIC_BASE_URL: mock.url, LOUPE_LOG_BODY: "full" } });
  for (const call of session) {
    const response = await replay(call, gw.url);
    expect({ call: call.name, status: response.status }).toEqual({ call: call.name, status: 200 });
    if (!call.probe) recorded.push({ call, id: response.headers.get("x-loupe-request-id")! });
  }
});
afterAll(async () => {
  expect(await gw.stop()).toBe(0);
  await mock.stop();
});

describe("a Claude Code session replayed through Loupe", () => {
  test("every call recorded with its class, agent, parent and session", async () => {
    const rows = await gw.sql("select id, request_class, agent_type, agent_id, parent_agent_id, session_id from requests");
    const byId = new Map(rows.map((row) => [row.id, row]));
    const got: Record<string, unknown>[] = recorded.map(({ call, id }) => ({ call: call.name, ...byId.get(id) }));
    const expected = recorded.map(({ call, id }) => ({
      call: call.name,
      id,
      ...call.expect,
      agent_id: call.headers["x-claude-code-agent-id"] ?? null,
      session_id: SESSION_ID,
    }));
    expect(got).toEqual(expected);
    expect(got.map((row) => row.request_class)).toEqual(["title", "main", "subagent", "subagent", "main", "compaction", "count_tokens", "count_tokens", "count_tokens"]);
  });

  test("the session's first prompt is what the user typed, not the title prompt", async () => {
    const [row] = await gw.sql(`select first_prompt from sessions where session_id = '${SESSION_ID}'`);
    expect(row?.first_prompt).toBe("Count the files in this folder using two subagents in parallel");
  });

  test("the HEAD start-up probe is answered, neither forwarded nor recorded, at the root and below a provider's prefix", async () => {
    for (const path of ["/anthropic", "/anthropic/", "/proxy/anthropic"]) {
      const response = await fetch(gw.url + path, { method: "HEAD", headers: { "user-agent": "Bun/1.4.0" } });
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
    }
    const [row] = await gw.sql<{ calls: number }>("select count(*)::INTEGER as calls from requests");
    expect(row?.calls).toBe(recorded.length);
    expect(mock.requests.filter((request) => request.method === "HEAD")).toEqual([]);
    expect(session.filter((call) => call.probe).map((call) => `${call.method} ${call.path}`)).toEqual(["HEAD /", "HEAD /", "HEAD /"]);
  });
});
