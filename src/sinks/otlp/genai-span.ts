import type { RequestRecord } from "../../record.ts";
import type { AttemptSpanIds } from "../../telemetry/call-tracer.ts";
import type { GenAIOutputMessage, GenAIRequestContent } from "../../telemetry/genai-content.ts";

/**
 * The GenAI client span of one call, as pure data: name, attributes and
 * status following the OpenTelemetry GenAI semantic conventions (released up
 * to v1.41: gen-ai-spans.md "Inference"). No SDK import; the tracer applies it.
 */
export interface SpanDescription {
  name: string;
  attributes: Record<string, string | number | boolean | string[]>;
  error?: string | undefined;
}

export interface CallDetails {
  genAiProvider: string;
  serverAddress: string;
  serverPort: number;
  params?: Record<string, string | number | string[]> | undefined;
  responseId?: string | undefined;
  requestContent?: GenAIRequestContent | undefined;
  outputContent?: GenAIOutputMessage[] | undefined;
}

type Attributes = SpanDescription["attributes"];

function put(attributes: Attributes, key: string, value: string | number | boolean | string[] | null | undefined) {
  if (value !== null && value !== undefined && value !== "") attributes[key] = value;
}

const count = (value: number | string | null): number | undefined => (value === null ? undefined : Number(value));

/** The error.type of a call, or undefined when it succeeded. */
export function callErrorType(record: RequestRecord): string | undefined {
  if (record.error_type) return record.error_type;
  if (record.status >= 400) return String(record.status);
  return undefined;
}

export function describeClientSpan(record: RequestRecord, details: CallDetails): SpanDescription {
  const operation = record.operation ?? "chat";
  const model = record.model ?? undefined;
  const a: Attributes = {};
  put(a, "gen_ai.operation.name", operation);
  put(a, "gen_ai.provider.name", details.genAiProvider);
  put(a, "gen_ai.request.model", model);
  put(a, "gen_ai.response.model", record.response_model);
  put(a, "gen_ai.response.id", details.responseId);
  const params = details.params;
  if (params) for (const name in params) put(a, `gen_ai.request.${name}`, params[name]);
  if (record.finish_reason) a["gen_ai.response.finish_reasons"] = [record.finish_reason];
  put(a, "gen_ai.usage.input_tokens", count(record.input_tokens));
  put(a, "gen_ai.usage.output_tokens", count(record.output_tokens));
  put(a, "gen_ai.usage.cache_read.input_tokens", count(record.cache_read_tokens));
  put(a, "gen_ai.usage.cache_creation.input_tokens", count(record.cache_write_tokens));
  put(a, "gen_ai.usage.reasoning.output_tokens", count(record.reasoning_tokens));
  if (record.cost_usd !== null) a["gen_ai.usage.cost"] = Number(record.cost_usd);
  put(a, "gen_ai.conversation.id", record.session_id);
  put(a, "session.id", record.session_id);
  put(a, "user.id", record.user_id);
  put(a, "server.address", details.serverAddress);
  put(a, "server.port", details.serverPort);
  put(a, "http.response.status_code", record.status);
  // Loupe's own: join a span to its DuckDB row, and what OTel has no name for.
  put(a, "loupe.record.id", record.id);
  put(a, "loupe.project", record.project);
  if (record.tags) a["loupe.tags"] = record.tags;
  put(a, "loupe.cost_source", record.cost_source ?? "unpriced");
  put(a, "loupe.price_version", record.price_version);
  put(a, "loupe.streamed", record.streamed);
  put(a, "loupe.upstream_request_id", record.upstream_request_id);
  put(a, "loupe.request_class", record.request_class);
  put(a, "loupe.agent.id", record.agent_id);
  if (record.truncated) a["loupe.truncated"] = true;
  const content = details.requestContent;
  if (content?.systemInstructions?.length) a["gen_ai.system_instructions"] = JSON.stringify(content.systemInstructions);
  if (content?.inputMessages?.length) a["gen_ai.input.messages"] = JSON.stringify(content.inputMessages);
  if (content?.toolDefinitions?.length) a["gen_ai.tool.definitions"] = JSON.stringify(content.toolDefinitions);
  if (details.outputContent?.length) a["gen_ai.output.messages"] = JSON.stringify(details.outputContent);
  const error = callErrorType(record);
  put(a, "error.type", error);
  return { name: model ? `${operation} ${model}` : operation, attributes: a, error };
}

/**
 * A failed attempt before the last (a retry, or a target a fallback left):
 * the request as the call's span has it, the upstream the attempt went to,
 * and how it failed. No usage and no content: it answered nothing the client saw.
 */
export function describeAttemptSpan(record: RequestRecord, details: CallDetails, attempt: AttemptSpanIds, index: number): SpanDescription {
  const operation = record.operation ?? "chat";
  const model = record.model ?? undefined;
  const a: Attributes = {};
  put(a, "gen_ai.operation.name", operation);
  put(a, "gen_ai.provider.name", attempt.genAiProvider ?? attempt.provider);
  put(a, "gen_ai.request.model", model);
  const params = details.params;
  if (params) for (const name in params) put(a, `gen_ai.request.${name}`, params[name]);
  put(a, "gen_ai.conversation.id", record.session_id);
  put(a, "session.id", record.session_id);
  put(a, "user.id", record.user_id);
  put(a, "server.address", attempt.serverAddress);
  put(a, "server.port", attempt.serverPort);
  put(a, "http.response.status_code", attempt.status);
  put(a, "error.type", attempt.errorType);
  put(a, "loupe.record.id", record.id);
  put(a, "loupe.project", record.project);
  put(a, "loupe.attempt", index + 1);
  return { name: model ? `${operation} ${model}` : operation, attributes: a, error: attempt.errorType };
}

/** Attributes shared by the GenAI client metrics (gen-ai-metrics.md). */
export function describeMetricAttributes(record: RequestRecord, details: CallDetails): Record<string, string | number> {
  const a: Record<string, string | number> = {
    "gen_ai.operation.name": record.operation ?? "chat",
    "gen_ai.provider.name": details.genAiProvider,
    "server.address": details.serverAddress,
    "server.port": details.serverPort,
  };
  if (record.model) a["gen_ai.request.model"] = record.model;
  if (record.response_model) a["gen_ai.response.model"] = record.response_model;
  const error = callErrorType(record);
  if (error) a["error.type"] = error;
  return a;
}
