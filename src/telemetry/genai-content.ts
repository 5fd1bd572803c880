/**
 * Message content in the shapes the OpenTelemetry GenAI semantic conventions
 * (v1.37+, "gen_ai.input.messages" and friends) give it: each attribute is a
 * JSON string of these structures. Provider adapters convert their own wire
 * formats into them; nothing here knows a provider.
 */

/** One part of a message (semconv: TextPart, ToolCallRequestPart, ToolCallResponsePart, ReasoningPart, BlobPart, UriPart, GenericPart). */
export type GenAIPart =
  | { type: "text"; content: string }
  | { type: "reasoning"; content: string }
  | { type: "tool_call"; id?: string | null; name: string; arguments?: unknown }
  | { type: "tool_call_response"; id?: string | null; response: unknown }
  | { type: "blob"; modality: string; mime_type?: string | null; content: string }
  | { type: "uri"; modality: string; mime_type?: string | null; uri: string }
  | { type: string; [key: string]: unknown };

export interface GenAIInputMessage {
  role: string;
  parts: GenAIPart[];
  name?: string;
}

export interface GenAIOutputMessage {
  role: string;
  parts: GenAIPart[];
  finish_reason: string;
  name?: string;
}

/** A tool the model may call (semconv `gen_ai.tool.definitions`). */
export interface GenAIToolDefinition {
  type: string;
  name: string;
  description?: string;
  parameters?: unknown;
}

export interface GenAIRequestContent {
  systemInstructions?: GenAIPart[] | undefined;
  inputMessages?: GenAIInputMessage[] | undefined;
  toolDefinitions?: GenAIToolDefinition[] | undefined;
}

/** Accumulates output messages from stream events. Must never throw out of `onEvent`. */
export interface ContentStreamReader {
  onEvent(data: string, event: string | undefined): void;
  result(): GenAIOutputMessage[];
}

/** What an endpoint offers for content capture; all optional. */
export interface ContentHooks {
  readRequestContent?(body: Record<string, unknown>): GenAIRequestContent;
  readResponseContent?(body: unknown): GenAIOutputMessage[];
  createContentStreamReader?(): ContentStreamReader;
}
