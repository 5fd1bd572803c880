import { asArray, asObject, asString, copyFields, isObject, type Json } from "./json.ts";

export interface ChatTarget {
  model: string;
  /**
   * Where the output limit goes. Chat's current name is `max_completion_tokens`
   * (reasoning models refuse `max_tokens`); some compatible servers only read
   * the older `max_tokens`.
   */
  maxTokensField?: "max_completion_tokens" | "max_tokens";
}

const MAX_USER_LENGTH = 64;

/** A Messages image or document source as the URL a Chat part carries. */
function toUrl(source: unknown): string | undefined {
  const s = asObject(source);
  if (s["type"] === "base64") return `data:${asString(s["media_type"]) ?? "application/octet-stream"};base64,${asString(s["data"]) ?? ""}`;
  if (s["type"] === "url") return asString(s["url"]);
  return undefined;
}

/** Text and image blocks as Chat content: a string when all text (what every compatible server reads), parts otherwise. */
function toChatContent(content: unknown): string | Json[] {
  if (typeof content === "string") return content;
  const parts = asArray(content).flatMap((block): Json[] => {
    const b = asObject(block);
    if (b["type"] === "text") return [{ type: "text", text: asString(b["text"]) ?? "" }];
    const url = toUrl(b["source"]);
    if (b["type"] === "image" && url) return [{ type: "image_url", image_url: { url } }];
    if (b["type"] === "document" && asObject(b["source"])["type"] === "base64" && url) {
      return [{ type: "file", file: { ...(typeof b["title"] === "string" ? { filename: b["title"] } : {}), file_data: url } }];
    }
    return []; // thinking, server tool blocks, search results: no Chat equivalent
  });
  if (parts.every((p) => p["type"] === "text")) return parts.map((p) => p["text"]).join("\n\n");
  return parts;
}

function toText(content: unknown): string {
  const chat = toChatContent(content);
  return typeof chat === "string" ? chat : chat.flatMap((p) => (p["type"] === "text" ? [p["text"]] : [])).join("\n\n");
}

/**
 * A user turn: its `tool_result` blocks become `tool` messages (which must
 * follow the assistant's tool calls directly), the rest one user message.
 * Images inside a tool result cannot go in a `tool` message, so they follow in
 * that user message.
 */
function fromUser(content: unknown): Json[] {
  if (typeof content === "string") return [{ role: "user", content }];
  const tools: Json[] = [];
  const rest: unknown[] = [];
  for (const block of asArray(content)) {
    const b = asObject(block);
    if (b["type"] !== "tool_result") {
      rest.push(block);
      continue;
    }
    tools.push({ role: "tool", tool_call_id: asString(b["tool_use_id"]) ?? "", content: toText(b["content"]) });
    if (Array.isArray(b["content"])) rest.push(...b["content"].filter((c) => asObject(c)["type"] === "image"));
  }
  const user = toChatContent(rest);
  return user.length > 0 ? [...tools, { role: "user", content: user }] : tools;
}

function fromAssistant(content: unknown): Json {
  if (typeof content === "string") return { role: "assistant", content };
  const text: string[] = [];
  const calls: Json[] = [];
  for (const block of asArray(content)) {
    const b = asObject(block);
    if (b["type"] === "text") text.push(asString(b["text"]) ?? "");
    if (b["type"] === "tool_use") {
      calls.push({ id: b["id"], type: "function", function: { name: b["name"], arguments: JSON.stringify(b["input"] ?? {}) } });
    }
  }
  const message: Json = { role: "assistant", content: text.length > 0 ? text.join("") : null };
  if (calls.length > 0) message["tool_calls"] = calls;
  return message;
}

/** Client tools only: server tools (`web_search_…`, `bash_…`, …) run at the Messages API and have no Chat form. */
function toTools(tools: unknown): Json[] {
  return asArray(tools).flatMap((tool) => {
    const t = asObject(tool);
    if ((t["type"] !== undefined && t["type"] !== "custom") || !isObject(t["input_schema"])) return [];
    const fn: Json = { name: t["name"], parameters: t["input_schema"] };
    if (typeof t["description"] === "string") fn["description"] = t["description"];
    return [{ type: "function", function: fn }];
  });
}

function toToolChoice(choice: Json): unknown {
  switch (choice["type"]) {
    case "auto":
      return "auto";
    case "any":
      return "required";
    case "none":
      return "none";
    case "tool":
      return { type: "function", function: { name: choice["name"] } };
  }
  return undefined;
}

/**
 * A Messages request as a Chat Completions request for `target.model`. The
 * top-level `system` (string or blocks) becomes one system message; streamed
 * calls ask for usage (`stream_options.include_usage`) so the answer can carry
 * it. What is dropped is listed in README.md.
 */
export function convertMessagesRequestToChat(body: unknown, target: ChatTarget): Json {
  const request = asObject(body);
  const messages: Json[] = [];
  const system = request["system"] === undefined ? "" : toText(request["system"]);
  if (system) messages.push({ role: "system", content: system });
  for (const entry of asArray(request["messages"])) {
    const message = asObject(entry);
    if (message["role"] === "user") messages.push(...fromUser(message["content"]));
    else if (message["role"] === "assistant") messages.push(fromAssistant(message["content"]));
  }

  const out: Json = { model: target.model, messages };
  if (request["max_tokens"] !== undefined) out[target.maxTokensField ?? "max_completion_tokens"] = request["max_tokens"];
  copyFields(request, out, { temperature: "temperature", top_p: "top_p" });
  const stops = asArray(request["stop_sequences"]);
  if (stops.length > 0) out["stop"] = stops;

  const tools = toTools(request["tools"]);
  if (tools.length > 0) {
    out["tools"] = tools;
    const choice = asObject(request["tool_choice"]);
    const mapped = toToolChoice(choice);
    if (mapped !== undefined) out["tool_choice"] = mapped;
    if (choice["disable_parallel_tool_use"] === true) out["parallel_tool_calls"] = false;
  }
  if (request["stream"] === true) {
    out["stream"] = true;
    out["stream_options"] = { include_usage: true };
  }
  // Claude Code's user_id is a JSON string of ~150 characters; servers cap `user`
  // (64 at OpenAI per maximhq/bifrost#1000, 128 at OpenRouter per
  // ujisati/claude-code-provider-proxy#11), so a longer one is left out.
  const user = asString(asObject(request["metadata"])["user_id"]);
  if (user && user.length <= MAX_USER_LENGTH) out["user"] = user;
  return out;
}
