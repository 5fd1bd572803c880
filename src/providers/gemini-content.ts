import type {
  ContentHooks,
  ContentStreamReader,
  GenAIInputMessage,
  GenAIOutputMessage,
  GenAIPart,
  GenAIToolDefinition,
} from "../telemetry/genai-content.ts";
import { asObject } from "../usage/usage.ts";
import { modalityOf, str } from "./json-readers.ts";

/**
 * Gemini generateContent content in OpenTelemetry GenAI semconv shapes
 * (gen-ai-input-messages.json, gen-ai-output-messages.json).
 * `systemInstruction` is given apart from `contents`, so it goes to
 * `gen_ai.system_instructions`; role `model` is semconv's `assistant`.
 *
 * The REST API takes proto JSON, which accepts both lowerCamelCase and the
 * proto's snake_case field names (`inlineData` or `inline_data`, the form in
 * Google's own curl examples), so requests are read in both spellings.
 */

const objects = (value: unknown) =>
  (Array.isArray(value) ? value : []).map(asObject).filter((o) => o !== undefined);
const field = (o: Record<string, unknown>, camel: string, snake: string): unknown => o[camel] ?? o[snake];


const convertRole = (role: unknown): string => (role === "model" ? "assistant" : (str(role) ?? "user"));

/** One `Part` (API reference, "Content"): a part holds exactly one kind of data. */
function convertPart(part: Record<string, unknown>): GenAIPart | undefined {
  const text = str(part.text);
  if (text !== undefined) return { type: part.thought === true ? "reasoning" : "text", content: text };
  const inline = asObject(field(part, "inlineData", "inline_data"));
  if (inline) {
    const mimeType = str(field(inline, "mimeType", "mime_type"));
    return { type: "blob", modality: modalityOf(mimeType), ...(mimeType ? { mime_type: mimeType } : {}), content: str(inline.data) ?? "" };
  }
  const file = asObject(field(part, "fileData", "file_data"));
  if (file) {
    const mimeType = str(field(file, "mimeType", "mime_type"));
    const uri = str(field(file, "fileUri", "file_uri")) ?? "";
    return { type: "uri", modality: modalityOf(mimeType), ...(mimeType ? { mime_type: mimeType } : {}), uri };
  }
  const call = asObject(field(part, "functionCall", "function_call"));
  if (call) {
    const id = str(call.id);
    return { type: "tool_call", ...(id ? { id } : {}), name: str(call.name) ?? "", arguments: call.args ?? null };
  }
  const response = asObject(field(part, "functionResponse", "function_response"));
  if (response) {
    const id = str(response.id);
    return { type: "tool_call_response", ...(id ? { id } : {}), response: response.response ?? null };
  }
  // Code execution and future kinds pass through as semconv GenericParts, named in snake_case.
  const kind = Object.keys(part).find((key) => key !== "thought" && key !== "thoughtSignature" && key !== "thought_signature");
  if (!kind) return undefined;
  const value = asObject(part[kind]);
  return { ...value, type: kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) };
}

function convertParts(content: unknown): GenAIPart[] {
  const parts: GenAIPart[] = [];
  for (const raw of objects(asObject(content)?.parts)) {
    const part = convertPart(raw);
    if (part) parts.push(part);
  }
  return parts;
}

/** `tools[].functionDeclarations`; built-in tools (googleSearch, codeExecution, …) are named by their key. */
function convertTools(tools: unknown): GenAIToolDefinition[] {
  const definitions: GenAIToolDefinition[] = [];
  for (const tool of objects(tools)) {
    for (const [key, value] of Object.entries(tool)) {
      if (key !== "functionDeclarations" && key !== "function_declarations") {
        definitions.push({ type: key, name: key });
        continue;
      }
      for (const fn of objects(value)) {
        const description = str(fn.description);
        const parameters = fn.parameters ?? field(fn, "parametersJsonSchema", "parameters_json_schema");
        definitions.push({
          type: "function",
          name: str(fn.name) ?? "",
          ...(description !== undefined ? { description } : {}),
          ...(parameters !== undefined ? { parameters } : {}),
        });
      }
    }
  }
  return definitions;
}

function readRequestContent(body: Record<string, unknown>) {
  const system = convertParts(field(body, "systemInstruction", "system_instruction"));
  const inputMessages: GenAIInputMessage[] = objects(body.contents).map((content) => ({
    role: convertRole(content.role),
    parts: convertParts(content),
  }));
  const tools = convertTools(body.tools);
  return {
    systemInstructions: system.length > 0 ? system : undefined,
    inputMessages: inputMessages.length > 0 ? inputMessages : undefined,
    toolDefinitions: tools.length > 0 ? tools : undefined,
  };
}

/**
 * Semconv FinishReason values (gen-ai-output-messages.json) for STOP and
 * MAX_TOKENS; other reasons are lower-cased. Gemini has no reason of its own
 * for a function call (it says STOP), so a candidate that calls a tool gets
 * "tool_call", as Anthropic's `tool_use` and OpenAI's `tool_calls` do.
 */
function convertFinishReason(reason: string | undefined, parts: GenAIPart[]): string {
  if (reason === undefined) return "error";
  if (reason === "STOP") return parts.some((p) => p.type === "tool_call") ? "tool_call" : "stop";
  if (reason === "MAX_TOKENS") return "length";
  return reason.toLowerCase();
}

interface CandidateBuffer {
  role: string | undefined;
  parts: GenAIPart[];
  finish: string | undefined;
}

/**
 * Stream chunks are partial GenerateContentResponses: a candidate's text
 * arrives in pieces that are joined (text with text, thoughts with thoughts);
 * other parts are whole and appended; the last `finishReason` wins.
 */
function createCandidateAccumulator() {
  const candidates = new Map<number, CandidateBuffer>();
  return {
    add(chunk: unknown): void {
      for (const candidate of objects(asObject(chunk)?.candidates)) {
        const index = typeof candidate.index === "number" ? candidate.index : 0;
        const buffer = candidates.get(index) ?? { role: undefined, parts: [], finish: undefined };
        candidates.set(index, buffer);
        const content = asObject(candidate.content);
        if (content?.role !== undefined) buffer.role = convertRole(content.role);
        for (const part of convertParts(content)) {
          const last = buffer.parts.at(-1);
          if (last && (part.type === "text" || part.type === "reasoning") && last.type === part.type) {
            buffer.parts[buffer.parts.length - 1] = { type: part.type, content: `${last.content}${part.content}` };
          } else buffer.parts.push(part);
        }
        buffer.finish = str(field(candidate, "finishReason", "finish_reason")) ?? buffer.finish;
      }
    },
    result: (): GenAIOutputMessage[] =>
      [...candidates.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, c]) => ({ role: c.role ?? "assistant", parts: c.parts, finish_reason: convertFinishReason(c.finish, c.parts) })),
  };
}

/** A whole response, or (streamGenerateContent without `alt=sse`) a JSON array of stream chunks. */
function readResponseContent(body: unknown): GenAIOutputMessage[] {
  if (Array.isArray(body)) {
    const accumulator = createCandidateAccumulator();
    for (const chunk of body) accumulator.add(chunk);
    return accumulator.result();
  }
  return objects(asObject(body)?.candidates).map((candidate) => {
    const content = asObject(candidate.content);
    const parts = convertParts(content);
    const finish = str(field(candidate, "finishReason", "finish_reason"));
    return { role: convertRole(content?.role ?? "model"), parts, finish_reason: convertFinishReason(finish, parts) };
  });
}

function createContentStreamReader(): ContentStreamReader {
  const accumulator = createCandidateAccumulator();
  return {
    onEvent(data) {
      try {
        accumulator.add(JSON.parse(data));
      } catch {
        // one unreadable chunk costs only its own content
      }
    },
    result: accumulator.result,
  };
}

/** POST …/models/{model}:generateContent and :streamGenerateContent */
export const geminiGenerateContent: ContentHooks = {
  readRequestContent,
  readResponseContent,
  createContentStreamReader,
};
