import { convertFinishReasonToMessages } from "./finish-reason.ts";
import { convertChatUsageToMessages } from "./convert-usage.ts";
import { asArray, asObject, asString, parseArguments, type Json } from "./json.ts";

/**
 * A Chat completion (its first choice) as a Messages answer: `content` (or a
 * refusal) as a text block, `tool_calls` as `tool_use` blocks with parsed
 * input, the model that answered, usage with cached tokens taken out of
 * `input_tokens`. Reasoning text some servers add is dropped.
 */
export function convertChatResponseToMessages(body: unknown): Json {
  const completion = asObject(body);
  const choice = asObject(asArray(completion["choices"])[0]);
  const message = asObject(choice["message"]);
  const content: Json[] = [];
  const text = asString(message["content"]) || asString(message["refusal"]);
  if (text) content.push({ type: "text", text });
  for (const call of asArray(message["tool_calls"])) {
    const c = asObject(call);
    const fn = asObject(c["function"]);
    content.push({ type: "tool_use", id: c["id"], name: asString(fn["name"]) ?? "", input: parseArguments(asString(fn["arguments"])) });
  }
  return {
    id: completion["id"],
    type: "message",
    role: "assistant",
    model: completion["model"],
    content,
    stop_reason: convertFinishReasonToMessages(asString(choice["finish_reason"])),
    stop_sequence: null,
    usage: convertChatUsageToMessages(completion["usage"]),
  };
}
