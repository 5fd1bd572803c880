import type {
  ContentHooks,
  ContentStreamReader,
  GenAIInputMessage,
  GenAIOutputMessage,
  GenAIPart,
  GenAIToolDefinition,
} from "../telemetry/genai-content.ts";
import { asObject } from "../usage/usage.ts";
import { list, mapFinishReason, modalityOf, objects, parseJsonOr, str } from "./json-readers.ts";

/**
 * OpenAI Chat Completions and Responses content in OpenTelemetry GenAI
 * semconv shapes (gen-ai-input-messages.json, gen-ai-output-messages.json).
 *
 * System and developer messages are part of the chat history in both APIs, so
 * they stay in `gen_ai.input.messages` under their own role; only the
 * Responses API's separate `instructions` goes to `gen_ai.system_instructions`
 * (semconv `gen_ai.system_instructions`: "Instructions that are part of the
 * chat history SHOULD be recorded in gen_ai.input.messages"; the
 * examples-llm-calls "System instructions along with chat history" case).
 */




/** A `data:` URL is inline bytes (semconv BlobPart); any other URL is a UriPart. */
function convertUrl(url: string, modality: string): GenAIPart {
  const data = /^data:([^;,]*)(?:;[^,]*)?,(.*)$/s.exec(url);
  if (!data) return { type: "uri", modality, uri: url };
  const mimeType = data[1] || undefined;
  return { type: "blob", modality: modalityOf(mimeType, modality), ...(mimeType ? { mime_type: mimeType } : {}), content: data[2] ?? "" };
}

function convertFile(file: Record<string, unknown>): GenAIPart {
  const data = str(file.file_data);
  if (data) return data.startsWith("data:") ? convertUrl(data, "document") : { type: "blob", modality: "document", content: data };
  const url = str(file.file_url);
  if (url) return { type: "uri", modality: "document", uri: url };
  return { type: "file", modality: "document", file_id: str(file.file_id) ?? "" };
}

/** One content part of either API (`text`/`input_text`/`output_text`, images, audio, files). */
function convertContentPart(part: Record<string, unknown>): GenAIPart {
  switch (part.type) {
    case "text":
    case "input_text":
    case "output_text":
      return { type: "text", content: str(part.text) ?? "" };
    // A refusal is what the model answered; finish_reason still says how it ended.
    case "refusal":
      return { type: "text", content: str(part.refusal) ?? "" };
    case "image_url":
      return convertUrl(str(asObject(part.image_url)?.url) ?? "", "image");
    case "input_image": {
      const url = str(part.image_url) ?? str(asObject(part.image_url)?.url);
      return url ? convertUrl(url, "image") : { type: "file", modality: "image", file_id: str(part.file_id) ?? "" };
    }
    case "input_audio": {
      const audio = asObject(part.input_audio) ?? {};
      const format = str(audio.format);
      return { type: "blob", modality: "audio", ...(format ? { mime_type: `audio/${format}` } : {}), content: str(audio.data) ?? "" };
    }
    case "file":
      return convertFile(asObject(part.file) ?? {});
    case "input_file":
      return convertFile(part);
    default:
      return { ...part, type: str(part.type) ?? "unknown" };
  }
}

function convertContent(content: unknown): GenAIPart[] {
  if (typeof content === "string") return [{ type: "text", content }];
  return objects(content).map(convertContentPart);
}

/** A tool result's content: a string, or content parts (one text part is taken as its text). */
function convertToolOutput(output: unknown): unknown {
  if (!Array.isArray(output)) return output ?? null;
  const parts = convertContent(output);
  const only = parts[0];
  return parts.length === 1 && only?.type === "text" ? only.content : parts;
}

function toolCall(id: unknown, name: unknown, args: unknown): GenAIPart {
  const callId = str(id);
  return { type: "tool_call", ...(callId ? { id: callId } : {}), name: str(name) ?? "", arguments: args };
}

function toolResponse(id: unknown, response: unknown): GenAIPart {
  const callId = str(id);
  return { type: "tool_call_response", ...(callId ? { id: callId } : {}), response };
}

/** Chat `tools[]` ({type:"function", function:{…}}) and Responses `tools[]` (flat; built-in tools by type). */
function convertTool(raw: unknown): GenAIToolDefinition | undefined {
  const tool = asObject(raw);
  if (!tool) return undefined;
  const type = str(tool.type) ?? "function";
  const fields = asObject(tool.function) ?? asObject(tool.custom) ?? tool;
  const name = str(fields.name) ?? str(tool.server_label) ?? type;
  const description = str(fields.description);
  const parameters = fields.parameters;
  return { type, name, ...(description !== undefined ? { description } : {}), ...(parameters !== undefined ? { parameters } : {}) };
}

function convertTools(tools: unknown): GenAIToolDefinition[] | undefined {
  const converted = list(tools).map(convertTool).filter((t) => t !== undefined);
  return converted.length > 0 ? converted : undefined;
}

const nonEmpty = <T>(items: T[]): T[] | undefined => (items.length > 0 ? items : undefined);

/** Semconv FinishReason values (gen-ai-output-messages.json); other reasons are kept as sent. */
const FINISH_REASONS: Record<string, string> = {
  tool_calls: "tool_call",
  function_call: "tool_call",
  max_output_tokens: "length",
};

const convertFinishReason = (reason: unknown) => mapFinishReason(FINISH_REASONS, reason);

// ---- Chat Completions -------------------------------------------------------

/** Assistant tool calls: `function` (arguments a JSON string) or `custom` (free-form input). */
function convertChatToolCall(call: Record<string, unknown>): GenAIPart {
  const custom = asObject(call.custom);
  if (custom) return toolCall(call.id, custom.name, custom.input ?? null);
  const fn = asObject(call.function) ?? {};
  return toolCall(call.id, fn.name, parseJsonOr(fn.arguments));
}

/** DeepSeek sends `reasoning_content`, OpenRouter and vLLM `reasoning`: both are the model's reasoning text. */
const readReasoning = (message: Record<string, unknown>) => str(message.reasoning_content) ?? str(message.reasoning);

function convertChatMessage(message: Record<string, unknown>): GenAIInputMessage {
  const role = str(message.role) ?? "user";
  const name = str(message.name);
  let parts: GenAIPart[];
  if (role === "tool" || role === "function") parts = [toolResponse(message.tool_call_id, convertToolOutput(message.content))];
  else {
    parts = convertContent(message.content);
    const reasoning = readReasoning(message);
    if (reasoning) parts.unshift({ type: "reasoning", content: reasoning });
    const refusal = str(message.refusal);
    if (refusal) parts.push({ type: "text", content: refusal });
    for (const call of objects(message.tool_calls)) parts.push(convertChatToolCall(call));
    const legacy = asObject(message.function_call);
    if (legacy) parts.push(toolCall(undefined, legacy.name, parseJsonOr(legacy.arguments)));
  }
  return { role, parts, ...(name ? { name } : {}) };
}

function readChatResponse(body: unknown): GenAIOutputMessage[] {
  const choices = objects(asObject(body)?.choices);
  return choices
    .sort((a, b) => (Number(a.index) || 0) - (Number(b.index) || 0))
    .map((choice) => {
      const { role, parts } = convertChatMessage({ role: "assistant", ...asObject(choice.message) });
      return { role, parts, finish_reason: convertFinishReason(choice.finish_reason) };
    });
}

interface ChoiceBuffer {
  role: string | undefined;
  reasoning: string;
  content: string;
  refusal: string;
  toolCalls: Map<number, { id?: string; type?: string; name: string; args: string }>;
  finish: unknown;
}

const createChoiceBuffer = (): ChoiceBuffer => ({ role: undefined, reasoning: "", content: "", refusal: "", toolCalls: new Map(), finish: undefined });

/** A tool call delta's slot: its `index`, or (compatible providers that send each call whole, without one) its id. */
function slotOf(buffer: ChoiceBuffer, delta: Record<string, unknown>): number {
  if (typeof delta.index === "number") return delta.index;
  const id = str(delta.id);
  for (const [slot, call] of buffer.toolCalls) if (id && call.id === id) return slot;
  return id || buffer.toolCalls.size === 0 ? buffer.toolCalls.size : buffer.toolCalls.size - 1;
}

function addToolCallDeltas(buffer: ChoiceBuffer, deltas: Record<string, unknown>[]): void {
  for (const delta of deltas) {
    const slot = slotOf(buffer, delta);
    const call = buffer.toolCalls.get(slot) ?? { name: "", args: "" };
    const fn = asObject(delta.function) ?? asObject(delta.custom) ?? {};
    const id = str(delta.id);
    const type = str(delta.type);
    if (id) call.id = id;
    if (type) call.type = type;
    call.name += str(fn.name) ?? "";
    call.args += str(fn.arguments) ?? str(fn.input) ?? "";
    buffer.toolCalls.set(slot, call);
  }
}

/**
 * Chat streams (API reference, "The chat completion chunk object"): each
 * `choices[i].delta` adds to choice `index`; tool calls are keyed by their own
 * `index`, with `function.arguments` arriving in pieces. `[DONE]` and the
 * usage-only chunk (`choices: []`) add nothing.
 */
function createChatStreamReader(): ContentStreamReader {
  const choices = new Map<number, ChoiceBuffer>();
  const onEvent = (data: string) => {
    if (data === "[DONE]") return;
    for (const choice of objects(asObject(JSON.parse(data))?.choices)) {
      const index = typeof choice.index === "number" ? choice.index : 0;
      const buffer = choices.get(index) ?? createChoiceBuffer();
      choices.set(index, buffer);
      const delta = asObject(choice.delta) ?? {};
      buffer.role ??= str(delta.role);
      buffer.reasoning += readReasoning(delta) ?? "";
      buffer.content += str(delta.content) ?? "";
      buffer.refusal += str(delta.refusal) ?? "";
      addToolCallDeltas(buffer, objects(delta.tool_calls));
      if (typeof choice.finish_reason === "string") buffer.finish = choice.finish_reason;
    }
  };
  return {
    onEvent(data) {
      try {
        onEvent(data);
      } catch {
        // one unreadable chunk costs only its own content
      }
    },
    result: () =>
      [...choices.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, buffer]) => {
          const message = convertChatMessage({
            role: buffer.role ?? "assistant",
            content: buffer.content || null,
            ...(buffer.reasoning ? { reasoning: buffer.reasoning } : {}),
            ...(buffer.refusal ? { refusal: buffer.refusal } : {}),
            tool_calls: [...buffer.toolCalls.entries()]
              .sort(([a], [b]) => a - b)
              .map(([, c]) =>
                c.type === "custom"
                  ? { id: c.id, type: "custom", custom: { name: c.name, input: c.args } }
                  : { id: c.id, type: "function", function: { name: c.name, arguments: c.args } },
              ),
          });
          return { role: message.role, parts: message.parts, finish_reason: convertFinishReason(buffer.finish) };
        }),
  };
}

/** POST /v1/chat/completions */
export const openAIChatContent: ContentHooks = {
  readRequestContent: (body) => ({
    systemInstructions: undefined,
    inputMessages: nonEmpty(objects(body.messages).map(convertChatMessage)),
    toolDefinitions: convertTools(body.tools),
  }),
  readResponseContent: readChatResponse,
  createContentStreamReader: createChatStreamReader,
};

// ---- Responses ---------------------------------------------------------------

function convertReasoningItem(item: Record<string, unknown>): GenAIPart[] {
  // `content` (reasoning_text) when the model exposes raw reasoning, else the `summary` texts.
  const texts = [...objects(item.content), ...objects(item.summary)].map((t) => str(t.text)).filter((t) => t !== undefined);
  return texts.map((content) => ({ type: "reasoning", content }));
}

/**
 * Non-message items are parts of a turn: calls and reasoning belong to the
 * assistant, `*_output` items to the tool. Built-in tool items (web_search_call,
 * …) pass through as semconv GenericParts.
 */
function convertItem(item: Record<string, unknown>): { role: string; parts: GenAIPart[] } {
  const type = str(item.type) ?? "message";
  switch (type) {
    case "message":
      return { role: str(item.role) ?? "user", parts: convertContent(item.content) };
    case "reasoning":
      return { role: "assistant", parts: convertReasoningItem(item) };
    case "function_call":
      return { role: "assistant", parts: [toolCall(item.call_id, item.name, parseJsonOr(item.arguments))] };
    case "custom_tool_call":
      return { role: "assistant", parts: [toolCall(item.call_id, item.name, item.input ?? null)] };
    case "function_call_output":
    case "custom_tool_call_output":
      return { role: "tool", parts: [toolResponse(item.call_id, convertToolOutput(item.output))] };
    default:
      return { role: type.endsWith("_output") ? "tool" : "assistant", parts: [{ ...item, type }] };
  }
}

/**
 * One turn spans several items (reasoning, an assistant message, function
 * calls): items of the same role in a row make one message, except that two
 * `message` items stay two messages.
 */
function convertItems(items: Record<string, unknown>[]): GenAIInputMessage[] {
  const messages: GenAIInputMessage[] = [];
  let lastHasMessageItem = false;
  for (const item of items) {
    const { role, parts } = convertItem(item);
    const isMessage = (str(item.type) ?? "message") === "message";
    const last = messages.at(-1);
    if (last && last.role === role && !(isMessage && lastHasMessageItem)) {
      last.parts.push(...parts);
      lastHasMessageItem ||= isMessage;
    } else {
      messages.push({ role, parts });
      lastHasMessageItem = isMessage;
    }
  }
  return messages;
}

function readResponsesRequest(body: Record<string, unknown>) {
  const instructions = str(body.instructions);
  const input = typeof body.input === "string" ? [{ role: "user", content: body.input }] : objects(body.input);
  return {
    systemInstructions: instructions ? [{ type: "text", content: instructions }] : undefined,
    inputMessages: nonEmpty(convertItems(input)),
    toolDefinitions: convertTools(body.tools),
  };
}

/**
 * A response is one candidate: all its output items make one assistant
 * message. `status` completed is "stop" ("tool_call" when the model called a
 * function, as Chat's `tool_calls`); incomplete gives `incomplete_details.reason`.
 */
function readResponsesResponse(body: unknown): GenAIOutputMessage[] {
  const response = asObject(body);
  if (!response || !Array.isArray(response.output)) return [];
  const parts = convertItems(objects(response.output)).flatMap((m) => m.parts);
  const status = str(response.status);
  let finish: string;
  if (status === "completed") finish = parts.some((p) => p.type === "tool_call") ? "tool_call" : "stop";
  else if (status === "incomplete") finish = convertFinishReason(asObject(response.incomplete_details)?.reason ?? status);
  else if (status === "failed" || status === "cancelled") finish = "error";
  else finish = convertFinishReason(status);
  return [{ role: "assistant", parts, finish_reason: finish }];
}

const FINAL_EVENTS = new Set(["response.completed", "response.incomplete", "response.failed"]);

/**
 * Responses streams end with `response.completed` (or `.incomplete`/`.failed`)
 * carrying the whole response; a stream cut before it still yields the items
 * finished so far and the text deltas of the rest.
 */
function createResponsesStreamReader(): ContentStreamReader {
  let final: unknown;
  const done = new Map<number, Record<string, unknown>>();
  const text = new Map<number, string>();
  const onEvent = (data: string) => {
    if (data === "[DONE]") return;
    const event = asObject(JSON.parse(data));
    const type = str(event?.type);
    if (!event || !type) return;
    const index = typeof event.output_index === "number" ? event.output_index : 0;
    const item = asObject(event.item);
    if (FINAL_EVENTS.has(type) && asObject(event.response)) final = event.response;
    else if (type === "response.output_item.done" && item) done.set(index, item);
    else if (type === "response.output_text.delta") text.set(index, (text.get(index) ?? "") + (str(event.delta) ?? ""));
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
      if (final !== undefined) return readResponsesResponse(final);
      const indices = [...new Set([...done.keys(), ...text.keys()])].sort((a, b) => a - b);
      if (indices.length === 0) return [];
      const items = indices.map((i) => done.get(i) ?? { type: "message", role: "assistant", content: text.get(i) ?? "" });
      const parts = convertItems(items).flatMap((m) => m.parts);
      return [{ role: "assistant", parts, finish_reason: "error" }];
    },
  };
}

/** POST /v1/responses */
export const openAIResponsesContent: ContentHooks = {
  readRequestContent: readResponsesRequest,
  readResponseContent: readResponsesResponse,
  createContentStreamReader: createResponsesStreamReader,
};
