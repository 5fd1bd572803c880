import type {
  ContentHooks,
  ContentStreamReader,
  GenAIInputMessage,
  GenAIOutputMessage,
  GenAIPart,
  GenAIToolDefinition,
} from "../telemetry/genai-content.ts";
import { asObject } from "../usage/usage.ts";
import { list, mapFinishReason, modalityOf, parseJsonOr, str } from "./json-readers.ts";

/**
 * Anthropic Messages content in OpenTelemetry GenAI semconv shapes
 * (gen-ai-input-messages.json, gen-ai-output-messages.json). `system` is
 * given apart from `messages`, so it goes to `gen_ai.system_instructions`.
 * Roles are kept as sent: tool results stay in the `user` message that
 * carries them (Messages API, "tool_result" content blocks).
 */




/** An `image` or `document` block's `source`: base64 → blob, url → uri, file → file (semconv FilePart). */
function convertSource(source: Record<string, unknown>, fallback: string): GenAIPart | undefined {
  const mimeType = str(source.media_type);
  const modality = modalityOf(mimeType, fallback);
  const mime = mimeType ? { mime_type: mimeType } : {};
  switch (source.type) {
    case "base64":
      return { type: "blob", modality, ...mime, content: str(source.data) ?? "" };
    case "url":
      return { type: "uri", modality, ...mime, uri: str(source.url) ?? "" };
    case "file":
      return { type: "file", modality, ...mime, file_id: str(source.file_id) ?? "" };
    case "text":
      return { type: "text", content: str(source.data) ?? "" };
    default:
      return undefined;
  }
}

/** A tool result's `content`: a string, one text block as its text, or several blocks as parts. */
function convertToolResult(content: unknown): unknown {
  if (!Array.isArray(content)) return content ?? null;
  const only = asObject(content[0]);
  if (content.length === 1 && only?.type === "text") return str(only.text) ?? "";
  return convertBlocks(content);
}

/** One content block, request or response side. Unknown blocks pass through as semconv GenericParts. */
function convertAnthropicBlock(raw: unknown): GenAIPart | undefined {
  const block = asObject(raw);
  if (!block || typeof block.type !== "string") return undefined;
  switch (block.type) {
    case "text":
      return { type: "text", content: str(block.text) ?? "" };
    case "thinking":
      return { type: "reasoning", content: str(block.thinking) ?? "" };
    case "image":
      return convertSource(asObject(block.source) ?? {}, "image") ?? { ...block, type: "image" };
    case "document":
      return convertSource(asObject(block.source) ?? {}, "document") ?? { ...block, type: "document" };
    // Client tools, and the server-run ones (web search, code execution, MCP) the API reports the same way.
    case "tool_use":
    case "server_tool_use":
    case "mcp_tool_use": {
      const id = str(block.id);
      return { type: "tool_call", ...(id ? { id } : {}), name: str(block.name) ?? "", arguments: block.input ?? null };
    }
  }
  if (block.type.endsWith("tool_result")) {
    const id = str(block.tool_use_id);
    return { type: "tool_call_response", ...(id ? { id } : {}), response: convertToolResult(block.content) };
  }
  return { ...block, type: block.type };
}

function convertBlocks(blocks: unknown[]): GenAIPart[] {
  const parts: GenAIPart[] = [];
  for (const block of blocks) {
    const part = convertAnthropicBlock(block);
    if (part) parts.push(part);
  }
  return parts;
}

/** `content` (and `system`) is either a plain string or a list of blocks. */
function convertContent(content: unknown): GenAIPart[] {
  if (typeof content === "string") return [{ type: "text", content }];
  return convertBlocks(list(content));
}

function convertTool(raw: unknown): GenAIToolDefinition | undefined {
  const tool = asObject(raw);
  const name = str(tool?.name);
  if (!tool || !name) return undefined;
  const description = str(tool.description);
  // Client tools have no type (or "custom"); server tools are typed, e.g. "web_search_20250305".
  const type = tool.type === undefined || tool.type === "custom" ? "function" : (str(tool.type) ?? "function");
  return {
    type,
    name,
    ...(description !== undefined ? { description } : {}),
    ...(tool.input_schema !== undefined ? { parameters: tool.input_schema } : {}),
  };
}

/**
 * Semconv FinishReason values (gen-ai-output-messages.json) where one fits;
 * other stop reasons (refusal, pause_turn) are kept as Anthropic sent them.
 */
const FINISH_REASONS: Record<string, string> = {
  end_turn: "stop",
  stop_sequence: "stop",
  max_tokens: "length",
  model_context_window_exceeded: "length",
  tool_use: "tool_call",
};

const convertStopReason = (reason: unknown) => mapFinishReason(FINISH_REASONS, reason);

function readRequestContent(body: Record<string, unknown>) {
  const inputMessages: GenAIInputMessage[] = [];
  for (const raw of list(body.messages)) {
    const message = asObject(raw);
    if (message) inputMessages.push({ role: str(message.role) ?? "user", parts: convertContent(message.content) });
  }
  const tools = list(body.tools).map(convertTool).filter((t) => t !== undefined);
  const system = body.system === undefined ? [] : convertContent(body.system);
  return {
    systemInstructions: system.length > 0 ? system : undefined,
    inputMessages: inputMessages.length > 0 ? inputMessages : undefined,
    toolDefinitions: tools.length > 0 ? tools : undefined,
  };
}

function readResponseContent(body: unknown): GenAIOutputMessage[] {
  const message = asObject(body);
  if (!message || !Array.isArray(message.content)) return [];
  return [
    {
      role: str(message.role) ?? "assistant",
      parts: convertBlocks(message.content),
      finish_reason: convertStopReason(message.stop_reason),
    },
  ];
}

/** A block as `content_block_start` opened it, plus the deltas that followed. */
interface OpenBlock {
  block: Record<string, unknown>;
  text: string;
  thinking: string;
  json: string;
}

/** Rebuilds the blocks a non-streamed response would hold, then converts them the same way. */
function closeBlock({ block, text, thinking, json }: OpenBlock): Record<string, unknown> {
  const closed = { ...block };
  if (text) closed.text = (str(block.text) ?? "") + text;
  if (thinking) closed.thinking = (str(block.thinking) ?? "") + thinking;
  if (json) closed.input = parseJsonOr(json);
  return closed;
}

/**
 * Streams (Messages API, "Streaming Messages"): `content_block_start` opens
 * block `index`, `content_block_delta` extends it (text_delta, thinking_delta,
 * input_json_delta holding a piece of the tool input's JSON), and
 * `message_delta.delta.stop_reason` says why the message ended.
 */
function createContentStreamReader(): ContentStreamReader {
  const blocks = new Map<number, OpenBlock>();
  let role: string | undefined;
  let stopReason: unknown;
  let started = false;

  const onEvent = (data: string): void => {
    const event = asObject(JSON.parse(data));
    if (!event) return;
    const index = typeof event.index === "number" ? event.index : -1;
    switch (event.type) {
      case "message_start":
        started = true;
        role = str(asObject(event.message)?.role);
        break;
      case "content_block_start": {
        const block = asObject(event.content_block);
        if (block) blocks.set(index, { block, text: "", thinking: "", json: "" });
        break;
      }
      case "content_block_delta": {
        const open = blocks.get(index);
        const delta = asObject(event.delta);
        if (!open || !delta) break;
        if (delta.type === "text_delta") open.text += str(delta.text) ?? "";
        else if (delta.type === "thinking_delta") open.thinking += str(delta.thinking) ?? "";
        else if (delta.type === "input_json_delta") open.json += str(delta.partial_json) ?? "";
        break;
      }
      case "message_delta": {
        const reason = asObject(event.delta)?.stop_reason;
        if (typeof reason === "string") stopReason = reason;
        break;
      }
    }
  };

  return {
    onEvent(data) {
      try {
        onEvent(data);
      } catch {
        // one unreadable event costs only its own content
      }
    },
    result() {
      if (!started && blocks.size === 0) return [];
      const ordered = [...blocks.entries()].sort(([a], [b]) => a - b).map(([, open]) => closeBlock(open));
      return [{ role: role ?? "assistant", parts: convertBlocks(ordered), finish_reason: convertStopReason(stopReason) }];
    },
  };
}

/** POST /v1/messages */
export const anthropicMessagesContent: ContentHooks = {
  readRequestContent,
  readResponseContent,
  createContentStreamReader,
};
