import { asArray, asNumber, asObject, asString, copyFields, isObject, parseArguments, type Json } from "./json.ts";

/** Messages requires `max_tokens`; a Chat request may leave it out. */
export const DEFAULT_MAX_TOKENS = 4096;

/** Messages tool ids must match `^[a-zA-Z0-9_-]+$`; some Chat servers use dots and colons. */
function toToolId(id: unknown): string {
  return (asString(id) ?? "").replace(/[^a-zA-Z0-9_-]/g, "_") || "call";
}

/** `data:<media>;base64,<data>` → a base64 source; any other URL → a url source. */
function toImageSource(url: string): Json {
  const data = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s.exec(url);
  if (data) return { type: "base64", media_type: data[1], data: data[2] };
  return { type: "url", url };
}

function toTextBlocks(content: unknown): Json[] {
  if (typeof content === "string") return content ? [{ type: "text", text: content }] : [];
  return asArray(content).flatMap((part) => {
    const p = asObject(part);
    const text = asString(p["text"]) ?? asString(p["refusal"]);
    return (p["type"] === "text" || p["type"] === "refusal") && text ? [{ type: "text", text }] : [];
  });
}

function toUserBlocks(content: unknown): Json[] {
  if (typeof content === "string") return toTextBlocks(content);
  return asArray(content).flatMap((part): Json[] => {
    const p = asObject(part);
    if (p["type"] === "text") return toTextBlocks([p]);
    if (p["type"] === "image_url") {
      const url = asString(asObject(p["image_url"])["url"]) ?? asString(p["image_url"]);
      return url ? [{ type: "image", source: toImageSource(url) }] : [];
    }
    if (p["type"] === "file") {
      // Chat `file` parts carry a data URL (`file_data`); Messages takes PDFs as `document` blocks.
      const file = asObject(p["file"]);
      const data = asString(file["file_data"]);
      return data ? [{ type: "document", source: toImageSource(data) }] : [];
    }
    return []; // input_audio and unknown parts: Messages has no equivalent
  });
}

function toToolResult(message: Json): Json {
  const blocks = toTextBlocks(message["content"]);
  const content = typeof message["content"] === "string" ? message["content"] : blocks;
  return { type: "tool_result", tool_use_id: toToolId(message["tool_call_id"]), content };
}

function toAssistantBlocks(message: Json): Json[] {
  const blocks = toTextBlocks(message["content"]);
  for (const call of asArray(message["tool_calls"])) {
    const c = asObject(call);
    const fn = asObject(c["function"]);
    if (c["type"] !== undefined && c["type"] !== "function") continue;
    blocks.push({ type: "tool_use", id: toToolId(c["id"]), name: asString(fn["name"]) ?? "", input: parseArguments(asString(fn["arguments"])) });
  }
  return blocks;
}

function toTools(tools: unknown): Json[] {
  return asArray(tools).flatMap((tool) => {
    const t = asObject(tool);
    const fn = asObject(t["function"]);
    if (t["type"] !== "function" || !asString(fn["name"])) return [];
    const out: Json = { name: fn["name"], input_schema: isObject(fn["parameters"]) ? fn["parameters"] : { type: "object", properties: {} } };
    if (typeof fn["description"] === "string") out["description"] = fn["description"];
    return [out];
  });
}

function toToolChoice(choice: unknown, parallel: unknown): Json | undefined {
  let out: Json | undefined;
  if (choice === "auto") out = { type: "auto" };
  else if (choice === "none") return { type: "none" };
  else if (choice === "required") out = { type: "any" };
  else if (isObject(choice)) {
    const name = asString(asObject(choice["function"])["name"]);
    if (name) out = { type: "tool", name };
  }
  if (parallel === false) out = { ...(out ?? { type: "auto" }), disable_parallel_tool_use: true };
  return out;
}

/**
 * A Chat Completions request as a Messages request for `target.model`.
 * System and developer messages become the top-level `system` (in order,
 * wherever they stood); tool messages become `tool_result` blocks in a user
 * turn; consecutive turns of one role are merged. What is dropped is listed
 * in README.md.
 */
export function convertChatRequestToMessages(body: unknown, target: { model: string }): Json {
  const request = asObject(body);
  const system: Json[] = [];
  const messages: { role: "user" | "assistant"; content: Json[] }[] = [];
  const push = (role: "user" | "assistant", blocks: Json[]) => {
    if (blocks.length === 0) return;
    const last = messages.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };

  for (const entry of asArray(request["messages"])) {
    const message = asObject(entry);
    switch (message["role"]) {
      case "system":
      case "developer":
        system.push(...toTextBlocks(message["content"]));
        break;
      case "user":
        push("user", toUserBlocks(message["content"]));
        break;
      case "assistant":
        push("assistant", toAssistantBlocks(message));
        break;
      case "tool":
        push("user", [toToolResult(message)]);
        break;
    }
  }

  const out: Json = {
    model: target.model,
    max_tokens: asNumber(request["max_completion_tokens"]) ?? asNumber(request["max_tokens"]) ?? DEFAULT_MAX_TOKENS,
    messages: messages.map(({ role, content }) => ({
      role,
      content: content.length === 1 && content[0]?.["type"] === "text" ? content[0]["text"] : content,
    })),
  };
  if (system.length === 1) out["system"] = system[0]?.["text"];
  else if (system.length > 1) out["system"] = system;

  const temperature = asNumber(request["temperature"]);
  // Chat allows 0–2, Messages 0–1.
  if (temperature !== undefined) out["temperature"] = Math.min(1, Math.max(0, temperature));
  copyFields(request, out, { top_p: "top_p" });
  const stop = request["stop"];
  if (typeof stop === "string") out["stop_sequences"] = [stop];
  else if (Array.isArray(stop) && stop.length > 0) out["stop_sequences"] = stop.filter((s) => typeof s === "string");

  const tools = toTools(request["tools"]);
  if (tools.length > 0) {
    out["tools"] = tools;
    const choice = toToolChoice(request["tool_choice"], request["parallel_tool_calls"]);
    if (choice) out["tool_choice"] = choice;
  }
  if (request["stream"] === true) out["stream"] = true;
  const user = asString(request["user"]) ?? asString(request["safety_identifier"]);
  if (user) out["metadata"] = { user_id: user };
  return out;
}
