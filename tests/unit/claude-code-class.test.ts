import { describe, expect, test } from "bun:test";
import { headerObject } from "../../src/http/headers.ts";
import { classifyClaudeCodeRequest } from "../../src/providers/claude-code-class.ts";
import { matchRoute } from "../../src/providers/registry.ts";
import { completeClient } from "../../src/proxy/read-request.ts";
import { readCaptures, type CapturedCall } from "../support/claude-code-captures.ts";

/** What the gateway records for a call: readHeaders, then the endpoint's readRequest, completed as read-request.ts does. */
function recordedMeta(call: CapturedCall) {
  const headers = new Headers(call.headers);
  const route = matchRoute(call.method, call.path.split("?")[0]!, headers);
  if (!route) throw new Error(`${call.name}: no route for ${call.path}`);
  const incoming = headerObject(headers);
  const fromHeaders = route.adapter.readHeaders?.(incoming).client;
  const fromBody = route.adapter.endpoint(call.method, route.upstreamPath)?.readRequest?.(call.body ?? {}, incoming).client;
  const client = fromBody ? completeClient(fromHeaders, fromBody) : fromHeaders;
  return { request_class: client?.requestClass ?? null, agent_type: client?.agentType ?? null, parent_agent_id: client?.parentAgentId ?? null };
}

const calls = readCaptures().filter((call) => !call.probe);

describe("Claude Code request classes on the captured traffic (2.1.197)", () => {
  test.each(calls.map((call) => [call.name, call] as const))("%s", (_, call) => {
    expect(recordedMeta(call)).toEqual(call.expect!);
  });

  test("accuracy on the captures: every call, every class", () => {
    const misses = calls.filter((call) => !Bun.deepEquals(recordedMeta(call), call.expect));
    const classes = new Set(calls.map((call) => call.expect!.request_class));
    expect({ calls: calls.length, misses: misses.map((call) => call.name) }).toEqual({ calls: 26, misses: [] });
    expect([...classes].sort()).toEqual(["compaction", "count_tokens", "main", "quota", "subagent", "title"]);
  });
});

const cc = { "x-claude-code-session-id": "s-1", "x-app": "cli", "user-agent": "claude-cli/2.1.197 (external, sdk-cli)" };
const subagentBody = {
  model: "claude-haiku-4-5",
  system: [{ type: "text", text: "x-anthropic-billing-header: cc_version=2.1.197.5ea; cc_entrypoint=sdk-cli; cc_is_subagent=true;" }, { type: "text", text: "You are a file search specialist for Claude Code, Anthropic's official CLI for Claude." }],
  tools: [{ name: "Read" }],
  messages: [{ role: "user", content: "find the tests" }],
};

describe("headers first, then the body", () => {
  test("a request class, agent type or parent the headers give wins over the body's", () => {
    const headers = headerObject(new Headers({ ...cc, "x-claude-code-agent-id": "a1", "x-claude-code-agent-type": "reviewer", "x-claude-code-parent-agent-id": "a0" }));
    const fromBody = classifyClaudeCodeRequest({ headers, body: subagentBody })!;
    expect(fromBody).toEqual({ requestClass: "subagent", parentAgentId: "a0", agentType: "Explore" });
    expect(completeClient({ agentId: "a1", agentType: "reviewer", parentAgentId: "a0" }, fromBody)).toEqual({ agentId: "a1", parentAgentId: "a0", requestClass: "subagent", agentType: "reviewer" });
    expect(completeClient({ agentId: "a1", requestClass: "compaction" }, fromBody)).toEqual({ agentId: "a1", parentAgentId: undefined, requestClass: "compaction", agentType: undefined });
  });

  test("a subagent's calls name no parent when the main thread started it: the parent is `main`", () => {
    const headers = headerObject(new Headers({ ...cc, "x-claude-code-agent-id": "a1" }));
    expect(classifyClaudeCodeRequest({ headers, body: subagentBody })?.parentAgentId).toBe("main");
  });

  test("other clients get no class; a Claude Code call with no tools and no known prompt is auxiliary", () => {
    const body = { model: "claude-haiku-4-5", max_tokens: 512, messages: [{ role: "user", content: "Summarise this web page" }] };
    expect(classifyClaudeCodeRequest({ headers: headerObject(new Headers({ "user-agent": "Anthropic/JS 0.94.0" })), body: subagentBody })).toBeUndefined();
    expect(classifyClaudeCodeRequest({ headers: undefined, body })).toBeUndefined();
    expect(classifyClaudeCodeRequest({ headers: headerObject(new Headers(cc)), body })).toEqual({ requestClass: "auxiliary" });
  });
});
