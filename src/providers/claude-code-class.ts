import { headerText, type HeaderObject } from "../http/headers.ts";
import { asObject } from "../usage/usage.ts";
import type { ClientMeta } from "./contract.ts";

/** The record's `request_class` for Claude Code's calls (README, "Claude Code request classes" in this folder). */
export type ClaudeCodeRequestClass = "main" | "subagent" | "title" | "compaction" | "count_tokens" | "quota" | "auxiliary";

/** `parent_agent_id` of a subagent the session's main thread started (whose own calls have no agent id). */
export const MAIN_THREAD = "main";

// Markers, as Claude Code 2.1.197 sends them (tests/fixtures/claude-code/).
/** Every request's first system block: `x-anthropic-billing-header: cc_version=…; cc_entrypoint=…;`, plus this for subagents. */
const SUBAGENT_MARKER = "cc_is_subagent=true";
/** The compaction prompt, appended as the last user message (`/compact`; "of the RECENT portion" for a partial compaction). */
const COMPACTION_MARKER = "Your task is to create a detailed summary of the";
/** The session-title prompt, in the system prompt of a call without tools. */
const TITLE_MARKER = "Generate a concise, sentence-case title";
/** Built-in subagents by the opening of their system prompt (custom agents' prompts are the user's: no type). */
const BUILT_IN_AGENTS: readonly (readonly [opening: string, agentType: string])[] = [
  ["You are a file search specialist for Claude Code", "Explore"],
  ["You are a software architect and planning specialist for Claude Code", "Plan"],
  ["You are an agent for Claude Code, Anthropic's official CLI for Claude. Given the user's message", "general-purpose"],
];

export interface ClaudeCodeRequest {
  /** The client's headers (lower-case names); none: not Claude Code. */
  headers: HeaderObject | undefined;
  /** The JSON body. */
  body: Record<string, unknown>;
  /** The call is to the token-counting endpoint. */
  countTokens?: boolean;
}

/**
 * Whether Claude Code sent the request: every call it makes to the Messages
 * API carries `x-claude-code-session-id`, `x-app: cli` (`cli-bg` in the
 * background) and a `claude-cli/<version>` user agent.
 */
export function isClaudeCodeRequest(headers: HeaderObject): boolean {
  if (headerText(headers["x-claude-code-session-id"])) return true;
  const app = headerText(headers["x-app"]);
  return app === "cli" || app === "cli-bg" || (headerText(headers["user-agent"])?.startsWith("claude-cli/") ?? false);
}

/**
 * The class of a Claude Code request, read from its body, and for a
 * subagent its type and parent; undefined for any other client. Headers that
 * say these (`x-claude-code-request-class`, …) win over it: `readHeaders`.
 * Rules in order, first match wins: count_tokens endpoint; quota probe;
 * compaction prompt; title prompt; subagent (agent-id header or billing
 * marker); tools offered → main; anything else → auxiliary.
 */
export function classifyClaudeCodeRequest(request: ClaudeCodeRequest): ClientMeta | undefined {
  const { headers, body } = request;
  if (!headers || !isClaudeCodeRequest(headers)) return undefined;
  if (request.countTokens) return { requestClass: "count_tokens" };
  const messages = Array.isArray(body.messages) ? body.messages : [];
  if (body.max_tokens === 1 && messages.length === 1 && asObject(messages[0])?.content === "quota") return { requestClass: "quota" };
  if (lastUserText(messages).includes(COMPACTION_MARKER)) return { requestClass: "compaction" };
  const system = systemText(body.system);
  if (system.includes(TITLE_MARKER)) return { requestClass: "title" };
  const agentId = headerText(headers["x-claude-code-agent-id"]);
  if (agentId || system.includes(SUBAGENT_MARKER)) {
    // Claude Code names the parent only when it is another subagent (nested); otherwise it is the main thread.
    const parent = headerText(headers["x-claude-code-parent-agent-id"]) ?? MAIN_THREAD;
    return { requestClass: "subagent", parentAgentId: parent, agentType: BUILT_IN_AGENTS.find(([opening]) => system.includes(opening))?.[1] };
  }
  if (Array.isArray(body.tools) && body.tools.length > 0) return { requestClass: "main" };
  return { requestClass: "auxiliary" };
}

/** The system prompt's text: a string, or the text of its blocks. */
function systemText(system: unknown): string {
  if (typeof system === "string") return system;
  if (!Array.isArray(system)) return "";
  let text = "";
  for (const block of system) {
    const value = asObject(block)?.text;
    if (typeof value === "string") text += value + "\n";
  }
  return text;
}

/** The text blocks of the last message, if a user wrote it. */
function lastUserText(messages: readonly unknown[]): string {
  const last = asObject(messages.at(-1));
  if (last?.role !== "user") return "";
  if (typeof last.content === "string") return last.content;
  if (!Array.isArray(last.content)) return "";
  let text = "";
  for (const block of last.content) {
    const part = asObject(block);
    if (part?.type === "text" && typeof part.text === "string") text += part.text + "\n";
  }
  return text;
}
