import type { RequestRecord } from "../../src/record.ts";
import { seedRecords } from "./seed.ts";

/**
 * Records for the dashboard's browser tests: seed.ts's varied records, spread
 * over the 20 hours before `end`, plus one Claude Code conversation with a main
 * agent and two subagents, logged bodies and a trace id.
 */
export const CLAUDE_SESSION = "0f8c4d2e-claude-code-session";
export const SUBAGENTS = ["agent-explore-1", "agent-review-2"];

export function dashboardRecords(end: number): RequestRecord[] {
  const start = end - 20 * 3_600_000;
  const records = seedRecords(80, 11, start);
  const conversation = records.slice(60, 72);
  conversation.forEach((record, i) => {
    Object.assign(record, {
      session_id: CLAUDE_SESSION,
      project: "loupe-web",
      user_id: "dev-alice",
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      response_model: "claude-sonnet-4-5-20250929",
      agent_id: i % 3 === 0 ? null : SUBAGENTS[i % 2],
      parent_agent_id: i % 3 === 0 ? null : "main",
      agent_type: i % 3 === 0 ? null : "general-purpose",
      prompt_preview: i === 0 ? "Refactor the record writer so that sinks are siblings" : null,
      trace_id: `4bf92f3577b34da6a3ce929d0e0e47${String(i).padStart(2, "0")}`,
    });
  });
  const withBody = conversation[0]!;
  withBody.request_body = JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "Refactor the record writer so that sinks are siblings" }] });
  withBody.response_body = JSON.stringify({ type: "message", content: [{ type: "text", text: "Done." }] });
  withBody.usage_raw = JSON.stringify({ input_tokens: 12, cache_read_input_tokens: 100, output_tokens: 40 });
  return records;
}
