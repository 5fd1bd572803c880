import type {
  ContentHooks,
  ContentStreamReader,
  GenAIInputMessage,
  GenAIOutputMessage,
  GenAIPart,
  GenAIToolDefinition,
} from "../telemetry/genai-content.ts";
import { asObject } from "../usage/usage.ts";
import { list, mapFinishReason, objects, str } from "./json-readers.ts";

/**
 * Ollama's native chat and generate content in OpenTelemetry GenAI semconv
 * shapes (docs/api.md, "Generate a chat completion", "Generate a
 * completion"). A message is `{role, content, thinking?, images?,
 * tool_calls?, tool_name?}`; images are bare base64 strings; tool call
 * arguments are already objects. A stream sends the same message in pieces,
 * one NDJSON object each, and `done_reason` on the last.
 */

/** `done_reason` values are semconv's own (`stop`, `length`); `load`/`unload` are kept as sent. */
const convertFinishReason = (reason: unknown) => mapFinishReason({}, reason);

/** Images carry no MIME type: base64 bytes of some image format. */
const image = (data: unknown): GenAIPart => ({ type: "blob", modality: "image", content: str(data) ?? "" });

function toolCalls(calls: unknown): GenAIPart[] {
  return objects(calls).map((call) => {
    const fn = asObject(call.function) ?? {};
    const id = str(call.id);
    return { type: "tool_call", ...(id ? { id } : {}), name: str(fn.name) ?? "", arguments: fn.arguments ?? null };
  });
}

function convertMessage(message: Record<string, unknown>): GenAIInputMessage {
  const role = str(message.role) ?? "user";
  const name = str(message.tool_name);
  if (role === "tool") return { role, parts: [{ type: "tool_call_response", response: message.content ?? null }], ...(name ? { name } : {}) };
  const parts: GenAIPart[] = [];
  const thinking = str(message.thinking);
  if (thinking) parts.push({ type: "reasoning", content: thinking });
  const content = str(message.content);
  if (content) parts.push({ type: "text", content });
  parts.push(...list(message.images).map(image), ...toolCalls(message.tool_calls));
  return { role, parts };
}

function convertTools(tools: unknown): GenAIToolDefinition[] | undefined {
  const converted = objects(tools).map((tool): GenAIToolDefinition => {
    const fn = asObject(tool.function) ?? tool;
    const description = str(fn.description);
    return { type: str(tool.type) ?? "function", name: str(fn.name) ?? "", ...(description ? { description } : {}), ...(fn.parameters !== undefined ? { parameters: fn.parameters } : {}) };
  });
  return converted.length > 0 ? converted : undefined;
}

const output = (message: GenAIInputMessage, reason: unknown): GenAIOutputMessage[] =>
  message.parts.length > 0 || reason !== undefined ? [{ role: message.role, parts: message.parts, finish_reason: convertFinishReason(reason) }] : [];

/** Text, thinking and tool calls gathered from stream objects; `readPiece` says where one object keeps them. */
function createStreamReader(readPiece: (chunk: Record<string, unknown>) => Record<string, unknown> | undefined): ContentStreamReader {
  let text = "";
  let thinking = "";
  const calls: unknown[] = [];
  let reason: unknown;
  return {
    onEvent(data) {
      const chunk = asObject(JSON.parse(data));
      if (!chunk) return;
      const piece = readPiece(chunk);
      text += str(piece?.content) ?? "";
      thinking += str(piece?.thinking) ?? "";
      calls.push(...list(piece?.tool_calls));
      if (chunk.done === true) reason = chunk.done_reason ?? "stop";
    },
    result: () => output(convertMessage({ role: "assistant", content: text, thinking, tool_calls: calls }), reason),
  };
}

/** `POST /api/chat`: the history in `messages`, the answer in `message`. */
export const ollamaChatContent: ContentHooks = {
  readRequestContent(body) {
    const tools = convertTools(body.tools);
    return { inputMessages: objects(body.messages).map(convertMessage), ...(tools ? { toolDefinitions: tools } : {}) };
  },
  readResponseContent(body) {
    const b = asObject(body);
    return b ? output(convertMessage({ role: "assistant", ...asObject(b.message) }), b.done_reason ?? (b.done === true ? "stop" : undefined)) : [];
  },
  createContentStreamReader: () => createStreamReader((chunk) => asObject(chunk.message)),
};

/** `POST /api/generate`: `system` and one `prompt` (with its images); the answer in `response` (and `thinking`). */
export const ollamaGenerateContent: ContentHooks = {
  readRequestContent(body) {
    const system = str(body.system);
    const parts: GenAIPart[] = [...(str(body.prompt) ? [{ type: "text", content: str(body.prompt)! }] : []), ...list(body.images).map(image)];
    return {
      ...(system ? { systemInstructions: [{ type: "text", content: system }] } : {}),
      inputMessages: parts.length > 0 ? [{ role: "user", parts }] : [],
    };
  },
  readResponseContent(body) {
    const b = asObject(body);
    return b ? output(convertMessage({ role: "assistant", content: b.response, thinking: b.thinking }), b.done_reason ?? (b.done === true ? "stop" : undefined)) : [];
  },
  createContentStreamReader: () => createStreamReader((chunk) => ({ content: chunk.response, thinking: chunk.thinking })),
};
