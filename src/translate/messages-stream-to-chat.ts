import type { EventSourceMessage } from "eventsource-parser";
import { convertMessagesErrorToChat } from "./convert-error.ts";
import { convertMessagesUsageToChat } from "./convert-usage.ts";
import { convertStopReasonToChat } from "./finish-reason.ts";
import { asNumber, asObject, asString, type Json } from "./json.ts";
import { createSseTranslator, encodeSse, type StreamMapper } from "./sse.ts";

export interface ChatStreamOptions {
  /** The client asked for `stream_options.include_usage`: end with a `choices: []` usage chunk. */
  includeUsage: boolean;
  /** Unix seconds for `created`. Defaults to now. */
  created?: number;
}

/**
 * Messages stream events (Messages API, "Streaming messages") as Chat
 * completion chunks: the first chunk carries the role, text deltas become
 * `content`, each `tool_use` block one `tool_calls` index (id and name first,
 * then `input_json_delta` pieces as `arguments`), `message_delta` the
 * `finish_reason`; then the usage chunk if asked for, then `[DONE]`.
 * `message_delta.usage` is cumulative: fields present overwrite.
 */
export function createMessagesToChatMapper(options: ChatStreamOptions): StreamMapper {
  const created = options.created ?? Math.floor(Date.now() / 1000);
  let id = "";
  let model = "";
  let usage: Json = {};
  let finished = false;
  let closed = false;
  const toolIndex = new Map<number, number>();

  const chunk = (delta: Json, finishReason: string | null = null): string =>
    encodeSse(JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] }));

  const finish = (stopReason: string | undefined): string => {
    if (finished) return "";
    finished = true;
    return chunk({}, convertStopReasonToChat(stopReason));
  };

  const close = (): string => {
    closed = true;
    let out = "";
    if (options.includeUsage) {
      out += encodeSse(JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage: convertMessagesUsageToChat(usage) }));
    }
    return out + encodeSse("[DONE]");
  };

  const fail = (message: string): string => {
    if (closed) return "";
    closed = true;
    return encodeSse(JSON.stringify({ error: { message, type: "api_error", param: null, code: "api_error" } }));
  };

  return {
    event(message: EventSourceMessage): string {
      if (closed) return "";
      let data: Json;
      try {
        data = asObject(JSON.parse(message.data));
      } catch {
        return ""; // not JSON: nothing a Chat client could use
      }
      switch (data["type"]) {
        case "message_start": {
          const start = asObject(data["message"]);
          id = asString(start["id"]) ?? id;
          model = asString(start["model"]) ?? model;
          usage = { ...asObject(start["usage"]) };
          return chunk({ role: "assistant", content: "" });
        }
        case "content_block_start": {
          const block = asObject(data["content_block"]);
          const index = asNumber(data["index"]) ?? 0;
          if (block["type"] === "tool_use") {
            const n = toolIndex.size;
            toolIndex.set(index, n);
            return chunk({ tool_calls: [{ index: n, id: block["id"], type: "function", function: { name: block["name"], arguments: "" } }] });
          }
          const text = asString(block["text"]);
          return block["type"] === "text" && text ? chunk({ content: text }) : "";
        }
        case "content_block_delta": {
          const delta = asObject(data["delta"]);
          if (delta["type"] === "text_delta") return chunk({ content: asString(delta["text"]) ?? "" });
          const n = toolIndex.get(asNumber(data["index"]) ?? -1);
          const piece = asString(delta["partial_json"]);
          if (delta["type"] === "input_json_delta" && n !== undefined && piece) return chunk({ tool_calls: [{ index: n, function: { arguments: piece } }] });
          return ""; // thinking, signature and citation deltas have no Chat form
        }
        case "message_delta": {
          for (const [key, value] of Object.entries(asObject(data["usage"]))) if (value !== null && value !== undefined) usage[key] = value;
          return finish(asString(asObject(data["delta"])["stop_reason"]));
        }
        case "message_stop":
          return finish(undefined) + close();
        case "error": {
          const error = convertMessagesErrorToChat(data, 500);
          closed = true;
          return encodeSse(JSON.stringify(error));
        }
        case "ping":
          // Chat has no ping event; a comment keeps the connection alive and every SSE client skips it.
          return ": ping\n\n";
        default:
          return ""; // content_block_stop and unknown events
      }
    },
    comment: (text) => (closed ? "" : `: ${text}\n\n`),
    end: () => (closed ? "" : fail("upstream stream ended before message_stop")),
    fail,
  };
}

/** The whole direction as a byte stream: pipe the upstream body through it. */
export function createMessagesToChatStream(options: ChatStreamOptions): TransformStream<Uint8Array, Uint8Array> {
  return createSseTranslator(createMessagesToChatMapper(options));
}
