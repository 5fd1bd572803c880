import { convertStopReasonToChat } from "./finish-reason.ts";
import { convertMessagesUsageToChat } from "./convert-usage.ts";
import { asArray, asObject, asString, type Json } from "./json.ts";

export interface ChatResponseOptions {
  /** Unix seconds for `created`; Messages answers carry no time. Defaults to now. */
  created?: number;
}

/** The `tool_calls` entry for a Messages `tool_use` block. */
export function toChatToolCall(block: Json): Json {
  return { id: block["id"], type: "function", function: { name: block["name"], arguments: JSON.stringify(block["input"] ?? {}) } };
}

/**
 * A Messages answer as a Chat completion: text blocks joined into `content`,
 * `tool_use` blocks as `tool_calls`, the model that answered, usage with
 * cached tokens counted into `prompt_tokens`. Thinking blocks are dropped.
 */
export function convertMessagesResponseToChat(body: unknown, options: ChatResponseOptions = {}): Json {
  const message = asObject(body);
  const text: string[] = [];
  const calls: Json[] = [];
  for (const block of asArray(message["content"])) {
    const b = asObject(block);
    if (b["type"] === "text") text.push(asString(b["text"]) ?? "");
    else if (b["type"] === "tool_use") calls.push(toChatToolCall(b));
  }
  const reply: Json = { role: "assistant", content: text.length > 0 ? text.join("") : null, refusal: null };
  if (calls.length > 0) reply["tool_calls"] = calls;
  return {
    id: message["id"],
    object: "chat.completion",
    created: options.created ?? Math.floor(Date.now() / 1000),
    model: message["model"],
    choices: [{ index: 0, message: reply, logprobs: null, finish_reason: convertStopReasonToChat(asString(message["stop_reason"])) }],
    usage: convertMessagesUsageToChat(message["usage"]),
  };
}
