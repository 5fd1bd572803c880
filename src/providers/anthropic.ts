import { asObject, pickParams, readCount, sumCounts, type Usage } from "../usage/usage.ts";
import { anthropicMessagesContent } from "./anthropic-content.ts";
import type { Endpoint, Provider, ResponseFacts, StreamReader } from "./contract.ts";
import { classifyClaudeCodeRequest } from "./claude-code-class.ts";
import { anthropicErrors } from "./dialects.ts";
import { headerText } from "../http/headers.ts";
import { readRateLimitHeaders } from "./rate-limit-headers.ts";

/**
 * Anthropic Messages API. `usage.input_tokens` excludes cache reads and writes
 * (docs: prompt caching, "Tracking cache performance"), so the total input is
 * the sum of the three. Thinking tokens are already inside `output_tokens`.
 */
export function convertAnthropicUsage(raw: unknown): Usage | undefined {
  const u = asObject(raw);
  if (!u) return undefined;
  const uncached = readCount(u.input_tokens);
  const cacheRead = readCount(u.cache_read_input_tokens);
  const cacheWrite = readCount(u.cache_creation_input_tokens);
  const split = asObject(u.cache_creation);
  const details = asObject(u.output_tokens_details);
  return {
    inputTokens: uncached === undefined ? undefined : sumCounts(uncached, cacheRead, cacheWrite),
    cacheReadTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    cacheWrite1hTokens: readCount(split?.ephemeral_1h_input_tokens),
    outputTokens: readCount(u.output_tokens),
    reasoningTokens: readCount(details?.thinking_tokens),
  };
}

/**
 * Streams report usage in `message_start.message.usage`, then again in each
 * `message_delta.usage`, whose counts are cumulative: later non-null fields
 * overwrite earlier ones, they are never added.
 */
function mergeRawUsage(into: Record<string, unknown>, next: unknown): void {
  const fields = asObject(next);
  if (!fields) return;
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || value === undefined) continue;
    const nested = asObject(value);
    const existing = asObject(into[key]);
    if (nested && existing) mergeRawUsage(existing, nested);
    else into[key] = nested ? { ...nested } : value;
  }
}

function readMessage(body: unknown): ResponseFacts {
  const message = asObject(body);
  if (!message) return {};
  const error = asObject(message.error);
  return {
    usage: convertAnthropicUsage(message.usage),
    usageRaw: message.usage,
    responseModel: typeof message.model === "string" ? message.model : undefined,
    responseId: typeof message.id === "string" ? message.id : undefined,
    finishReason: typeof message.stop_reason === "string" ? message.stop_reason : undefined,
    errorType: typeof error?.type === "string" ? error.type : undefined,
    errorMessage: typeof error?.message === "string" ? error.message : undefined,
  };
}

function createMessagesStreamReader(): StreamReader {
  const usage: Record<string, unknown> = {};
  let sawUsage = false;
  const facts: ResponseFacts = {};
  return {
    onEvent(data) {
      const event = asObject(JSON.parse(data));
      if (!event) return;
      switch (event.type) {
        case "message_start": {
          const message = asObject(event.message);
          facts.responseModel = typeof message?.model === "string" ? message.model : undefined;
          facts.responseId = typeof message?.id === "string" ? message.id : undefined;
          if (message?.usage) (sawUsage = true), mergeRawUsage(usage, message.usage);
          break;
        }
        case "message_delta": {
          const reason = asObject(event.delta)?.stop_reason;
          if (typeof reason === "string") facts.finishReason = reason;
          if (event.usage) (sawUsage = true), mergeRawUsage(usage, event.usage);
          break;
        }
        case "error": {
          const error = asObject(event.error);
          facts.errorType = typeof error?.type === "string" ? error.type : "stream_error";
          facts.errorMessage = typeof error?.message === "string" ? error.message : undefined;
          break;
        }
      }
    },
    result: () => (sawUsage ? { ...facts, usage: convertAnthropicUsage(usage), usageRaw: usage } : facts),
  };
}

const messages: Endpoint = {
  operation: "chat",
  billable: true,
  readRequest(body, headers) {
    return {
      model: typeof body.model === "string" ? body.model : undefined,
      streamed: body.stream === true,
      sessionId: readSessionFromMetadata(asObject(body.metadata)?.user_id),
      params: pickParams(body, { max_tokens: "max_tokens", temperature: "temperature", top_p: "top_p", top_k: "top_k", stop_sequences: "stop_sequences" }),
      client: classifyClaudeCodeRequest({ headers, body }),
    };
  },
  readResponse: readMessage,
  createStreamReader: createMessagesStreamReader,
  content: anthropicMessagesContent,
  wire: "messages",
  // A stream ended at the deadline finishes as one cut by max_tokens would (Messages streaming: message_delta, then message_stop).
  // Its usage is cumulative, so it repeats the output tokens seen so far.
  closeStream: (seen) =>
    `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":${seen.usage?.outputTokens ?? 0}}}\n\n` +
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
};

const countTokens: Endpoint = {
  operation: "count_tokens",
  billable: false,
  readRequest: (body, headers) => ({ model: typeof body.model === "string" ? body.model : undefined, client: classifyClaudeCodeRequest({ headers, body, countTokens: true }) }),
};

const models: Endpoint = {
  operation: "models",
  billable: false,
  // Models API list shape: { data: [{ type: "model", id, display_name, created_at }], has_more, first_id, last_id }.
  addModels(list, ids) {
    const body = asObject(list);
    if (!body || !Array.isArray(body.data)) return list;
    const known = new Set(body.data.map((m) => asObject(m)?.id));
    const added = ids.filter((id) => !known.has(id)).map((id) => ({ type: "model", id, display_name: `${id} (routed by Loupe)`, created_at: "1970-01-01T00:00:00Z" }));
    const data = [...body.data, ...added];
    return { ...body, data, last_id: asObject(data.at(-1))?.id ?? body.last_id ?? null };
  },
};

/** The Messages endpoints, for APIs that serve Anthropic's wire format under other paths (Vertex AI's rawPredict). */
export { messages as anthropicMessages, countTokens as anthropicCountTokens };

/**
 * Claude Code's `metadata.user_id` is a JSON string carrying `session_id`
 * (current versions) or `user_<hash>_account_<id>_session_<uuid>` (legacy);
 * any other value is taken as the session as it is.
 */
export function readSessionFromMetadata(userId: unknown): string | undefined {
  if (typeof userId !== "string" || userId === "") return undefined;
  if (userId.startsWith("{")) {
    try {
      const parsed = asObject(JSON.parse(userId));
      if (typeof parsed?.session_id === "string") return parsed.session_id;
    } catch {
      // not JSON after all: fall through to the other forms
    }
  }
  const legacy = /_session_([0-9a-f-]{8,})$/i.exec(userId);
  return legacy?.[1] ?? userId;
}

export const anthropic: Provider<"anthropic"> = {
  id: "anthropic",
  route: { prefix: "/anthropic", sdkPath: "", examplePath: "v1/messages", dropIn: ["/v1/messages…", "GET /v1/models (with anthropic-version)"] },
  upstream: { baseUrl: "https://api.anthropic.com", credentials: { header: "x-api-key" }, wirePaths: { messages: "/v1/messages" }, routedHeaders: { "anthropic-version": "2023-06-01" } },
  dialect: anthropicErrors,
  genAiProvider: "anthropic",
  requestIdHeaders: ["request-id", "x-request-id"],
  // docs.claude.com/en/api/rate-limits, "Response headers": anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}.
  // Subscription (OAuth) calls, as Claude Code makes them, carry the plan's meters instead: anthropic-ratelimit-unified-*
  // (status, 5h and 7d utilization/reset/status, representative-claim, fallback, overage-*), undocumented and still
  // changing, hence the whole prefix. anthropic-organization-id names whose limits they are.
  rateLimits: readRateLimitHeaders({ prefixes: ["anthropic-ratelimit-"], organization: "anthropic-organization-id" }),
  // Claude Code with ANTHROPIC_BASE_URL=http://HOST:PORT calls /v1/messages
  // and discovers models with GET /v1/models, which OpenAI shares: the
  // `anthropic-version` header every Anthropic client sends tells them apart.
  claimsDropIn: (_method, path, headers) =>
    path.startsWith("/v1/messages") || (path.startsWith("/v1/models") && headers.has("anthropic-version")),
  endpoint(method, path) {
    if (method === "POST" && path === "/v1/messages") return messages;
    if (method === "POST" && path === "/v1/messages/count_tokens") return countTokens;
    if (method === "GET" && path.startsWith("/v1/models")) return models;
    return undefined;
  },
  readHeaders(headers) {
    const text = (name: string) => headerText(headers[name]) ?? undefined;
    return {
      sessionId: text("x-claude-code-session-id"),
      client: {
        agentId: text("x-claude-code-agent-id"),
        parentAgentId: text("x-claude-code-parent-agent-id"),
        requestClass: text("x-claude-code-request-class") ?? (text("x-claude-code-compaction") ? "compaction" : undefined),
        agentType: text("x-claude-code-agent-type"),
      },
    };
  },
};
