import type { EventSourceMessage } from "eventsource-parser";
import { convertChatErrorToMessages } from "./convert-error.ts";
import { convertChatUsageToMessages } from "./convert-usage.ts";
import { convertFinishReasonToMessages } from "./finish-reason.ts";
import { asArray, asNumber, asObject, asString, isObject, type Json } from "./json.ts";
import { createSseTranslator, encodeSse, type StreamMapper } from "./sse.ts";

/**
 * Chat completion chunks as Messages stream events (Messages API, "Streaming
 * messages"): `message_start` on the first chunk, one content block at a time
 * (text, or a `tool_use` per tool call index with its `arguments` pieces as
 * `input_json_delta`), then on `[DONE]` a `message_delta` with the stop reason
 * and the usage (Chat sends usage last, so `message_start` carries zeros and
 * `message_delta` the totals, which SDKs overwrite with), then `message_stop`.
 * SSE comments (keep-alives) become `ping` events.
 */
export function createChatToMessagesMapper(): StreamMapper {
  let started = false;
  let closed = false;
  let nextBlock = 0;
  let open: { kind: "text" } | { kind: "tool"; call: number } | undefined;
  const toolCalls = new Set<number>();
  let lastCall = -1;
  let finishReason: string | undefined;
  let usage: Json | undefined;

  const emit = (type: string, data: Json) => encodeSse(JSON.stringify({ type, ...data }), type);

  const start = (chunk: Json): string => {
    if (started) return "";
    started = true;
    const message = { id: asString(chunk["id"]) ?? "", type: "message", role: "assistant", model: asString(chunk["model"]) ?? "", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } };
    return emit("message_start", { message });
  };

  const closeBlock = (): string => {
    if (!open) return "";
    open = undefined;
    return emit("content_block_stop", { index: nextBlock - 1 });
  };

  const openBlock = (block: Json, kind: NonNullable<typeof open>): string => {
    const out = closeBlock() + emit("content_block_start", { index: nextBlock, content_block: block });
    nextBlock += 1;
    open = kind;
    return out;
  };

  const text = (piece: string): string => {
    const out = open?.kind === "text" ? "" : openBlock({ type: "text", text: "" }, { kind: "text" });
    return out + emit("content_block_delta", { index: nextBlock - 1, delta: { type: "text_delta", text: piece } });
  };

  const toolCall = (value: unknown): string => {
    const call = asObject(value);
    const fn = asObject(call["function"]);
    const index = asNumber(call["index"]) ?? (call["id"] ? lastCall + 1 : Math.max(lastCall, 0));
    let out = "";
    if (!toolCalls.has(index)) {
      toolCalls.add(index);
      lastCall = Math.max(lastCall, index);
      const block = { type: "tool_use", id: asString(call["id"]) ?? `call_${index}`, name: asString(fn["name"]) ?? "", input: {} };
      out += openBlock(block, { kind: "tool", call: index });
    }
    const piece = asString(fn["arguments"]);
    // Only the open block can take input: pieces for an earlier call (no known server interleaves them) are dropped.
    if (piece && open?.kind === "tool" && open.call === index) {
      out += emit("content_block_delta", { index: nextBlock - 1, delta: { type: "input_json_delta", partial_json: piece } });
    }
    return out;
  };

  const close = (): string => {
    closed = true;
    const out = start({}) + closeBlock();
    const delta = { stop_reason: convertFinishReasonToMessages(finishReason), stop_sequence: null };
    return out + emit("message_delta", { delta, usage: usage ? convertChatUsageToMessages(usage) : { output_tokens: 0 } }) + emit("message_stop", {});
  };

  const fail = (message: string): string => {
    if (closed) return "";
    closed = true;
    return emit("error", { error: { type: "api_error", message } });
  };

  return {
    event(message: EventSourceMessage): string {
      if (closed) return "";
      if (message.data.trim() === "[DONE]") return close();
      let chunk: Json;
      try {
        chunk = asObject(JSON.parse(message.data));
      } catch {
        return "";
      }
      if (isObject(chunk["error"])) {
        // An error inside a 200 stream (e.g. OpenRouter's mid-stream error chunk); it has no status of its own.
        closed = true;
        const error = asObject(convertChatErrorToMessages(chunk, 500)["error"]);
        return encodeSse(JSON.stringify({ type: "error", error }), "error");
      }
      let out = start(chunk);
      if (isObject(chunk["usage"])) usage = chunk["usage"];
      const choice = asObject(asArray(chunk["choices"])[0]);
      const delta = asObject(choice["delta"]);
      const piece = asString(delta["content"]) || asString(delta["refusal"]);
      if (piece) out += text(piece);
      for (const call of asArray(delta["tool_calls"])) out += toolCall(call);
      const reason = asString(choice["finish_reason"]);
      if (reason) {
        finishReason = reason;
        out += closeBlock();
      }
      return out;
    },
    comment: () => (closed ? "" : emit("ping", {})),
    // Some compatible servers end without `[DONE]`: a finish reason is enough to close cleanly.
    end: () => (closed ? "" : finishReason ? close() : fail("upstream stream ended before a finish_reason")),
    fail,
  };
}

/** The whole direction as a byte stream: pipe the upstream body through it. */
export function createChatToMessagesStream(): TransformStream<Uint8Array, Uint8Array> {
  return createSseTranslator(createChatToMessagesMapper());
}
