import type { Cost, PriceBook } from "../pricing/price-book.ts";
import { formatNanoUsd } from "../pricing/compute-cost.ts";
import type { Endpoint, ResponseFacts } from "../providers/contract.ts";
import type { RequestRecord } from "../record.ts";
import { isEmptyUsage } from "../usage/usage.ts";
import type { CallEvent } from "./call-event.ts";
import { stringifyWellFormed } from "./well-formed-json.ts";

/**
 * Everything known about a call when its record is made: its event's facts
 * (call-event.ts), with the provider's answers to them and the response read.
 */
export interface CallSummary extends Omit<CallEvent, "event" | "upstreamPath" | "response" | "responseBody" | "encoding" | "captureBytes" | "traceId" | "telemetry"> {
  pricingProvider: string;
  /** The provider's models are free unless a price covers them (`Provider.freeUnlessPriced`). */
  freeUnlessPriced?: boolean | undefined;
  endpoint: Endpoint | undefined;
  response: ResponseFacts;
  responseBody: string | undefined;
  /** The first thing the user wrote (providers/prompt-preview.ts), when bodies are logged. */
  promptPreview?: string | undefined;
}

/**
 * The cost of a call: provider-reported wins; free endpoints cost exactly 0;
 * a billable call with usage and a known price gets an exact cost; anything
 * else is NULL (unpriced), never 0 — unless the provider's models are free
 * (local models): then what no price covers costs exactly 0.
 */
export function priceCall(summary: CallSummary, priceBook: PriceBook): Cost {
  const cost = priceByBook(summary, priceBook);
  return cost.nano === undefined && summary.freeUnlessPriced === true ? { nano: 0n, source: "free" } : cost;
}

function priceByBook(summary: CallSummary, priceBook: PriceBook): Cost {
  const usage = summary.response.usage;
  if (usage?.providerCostUsd !== undefined) return priceBook.price({ provider: summary.pricingProvider, model: undefined, usage, at: new Date(summary.startedAt) });
  if (summary.endpoint && !summary.endpoint.billable && summary.status < 400) return { nano: 0n, source: "free" };
  if (!summary.endpoint?.billable || isEmptyUsage(usage)) {
    // An error the provider rejected before doing work is not charged.
    return summary.status >= 400 && isEmptyUsage(usage) ? { nano: 0n, source: "free" } : {};
  }
  return priceBook.price({
    provider: summary.pricingProvider,
    model: summary.response.responseModel ?? summary.routedModel ?? summary.request.model,
    usage,
    at: new Date(summary.startedAt),
  });
}

const orNull = <T>(value: T | undefined): T | null => (value === undefined ? null : value);

export function buildRecord(summary: CallSummary, cost: Cost, traceId?: string): RequestRecord {
  const usage = summary.response.usage;
  const content = summary.logBody !== "none";
  const bodies = summary.logBody === "full";
  return {
    id: summary.id,
    started_at: new Date(summary.startedAt).toISOString(),
    duration_ms: round3(summary.durationMs),
    ttfb_ms: summary.ttfbMs === undefined ? null : round3(summary.ttfbMs),
    provider: summary.provider,
    operation: orNull(summary.endpoint?.operation),
    billable: summary.endpoint?.billable ?? false,
    method: summary.method,
    path: summary.path,
    status: summary.status,
    model: orNull(summary.request.model),
    response_model: orNull(summary.response.responseModel),
    streamed: summary.request.streamed,
    input_tokens: orNull(usage?.inputTokens),
    cache_read_tokens: orNull(usage?.cacheReadTokens),
    cache_write_tokens: orNull(usage?.cacheWriteTokens),
    output_tokens: orNull(usage?.outputTokens),
    reasoning_tokens: orNull(usage?.reasoningTokens),
    cost_usd: cost.nano === undefined ? null : formatNanoUsd(cost.nano),
    cost_source: orNull(cost.source),
    price_version: orNull(cost.priceVersion),
    session_id: orNull(summary.tags.sessionId ?? summary.request.sessionId),
    user_id: orNull(summary.tags.userId ?? summary.request.userId),
    project: orNull(summary.tags.project),
    tags: orNull(summary.tags.tags),
    finish_reason: orNull(summary.response.finishReason),
    error_type: orNull(summary.errorType ?? summary.response.errorType),
    error_message: content ? orNull(summary.errorMessage ?? summary.response.errorMessage) : null,
    request_bytes: summary.requestBytes,
    response_bytes: summary.responseBytes,
    upstream_request_id: orNull(summary.upstreamRequestId),
    trace_id: orNull(traceId),
    usage_raw: content && summary.response.usageRaw !== undefined ? stringifyWellFormed(summary.response.usageRaw) : null,
    request_body: bodies ? orNull(summary.requestBody) : null,
    prompt_preview: bodies ? orNull(summary.promptPreview) : null,
    response_body: bodies ? orNull(summary.responseBody) : null,
    truncated: summary.truncated,
    cache_write_1h_tokens: orNull(usage?.cacheWrite1hTokens),
    agent_id: orNull(summary.client?.agentId),
    parent_agent_id: orNull(summary.client?.parentAgentId),
    request_class: orNull(summary.client?.requestClass),
    agent_type: orNull(summary.client?.agentType),
    key_id: orNull(summary.keyId),
    limit_hit: orNull(summary.limitHit),
    attempts: summary.attempts ?? 1,
    routed_provider: orNull(summary.routedProvider),
    routed_model: orNull(summary.routedModel),
    ratelimit: summary.rateLimits ? stringifyWellFormed(summary.rateLimits) : null,
  };
}

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;
