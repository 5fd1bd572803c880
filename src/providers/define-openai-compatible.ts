import type { Provider } from "./contract.ts";
import { openAIErrors } from "./dialects.ts";
import { createOpenAIEndpoints, type UsageQuirks } from "./openai-wire.ts";
import { readRateLimitHeaders, type RateLimitHeaderNames } from "./rate-limit-headers.ts";

/**
 * OpenAI's rate-limit headers (platform.openai.com/docs/guides/rate-limits,
 * "Rate limits in headers": `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`).
 * Groq, Together and Cerebras document headers under the same prefix (with
 * their own suffixes, e.g. Cerebras' `-requests-day`); the others send none
 * or their own, and then the hook finds nothing. Kept for every compatible
 * provider: the cost is a prefix test per response header name.
 */
const OPENAI_RATE_LIMITS: RateLimitHeaderNames = { prefixes: ["x-ratelimit-"] };

export interface OpenAICompatibleOptions<Id extends string> {
  id: Id;
  /** The public API origin (plus path prefix, if any): `/<id>/…` is forwarded to `<baseUrl>/…`. */
  baseUrl: string;
  /** Where the OpenAI SDK's base URL ends below `/<id>` (Groq: `/openai/v1`); default `/v1`. */
  sdkPath?: string;
  /** The provider's id in the genai-prices data, when it differs from `id`. */
  pricingId?: string;
  /** `gen_ai.provider.name`; default `id`. */
  genAiProvider?: string;
  /** Where the provider's usage departs from OpenAI's. */
  usage?: UsageQuirks;
  /** Every response carries the call's cost (contract.ts `reportsCost`). */
  reportsCost?: boolean;
  /**
   * Add `stream_options.include_usage` to chat streams that lack it. Only for
   * APIs that accept it and send no stream usage otherwise; the rest are
   * forwarded byte for byte.
   */
  askStreamUsage?: boolean;
  /** Response headers holding the request id; default `x-request-id`. */
  requestIdHeaders?: readonly string[];
  /** Which response headers are its rate-limit figures (and name its organization); default `x-ratelimit-*`; false: none. */
  rateLimits?: RateLimitHeaderNames | false;
}

/** A provider that speaks OpenAI's wire format: its chat, responses, embeddings and model-list endpoints, and its error shape. */
export function defineOpenAICompatible<const Id extends string>(options: OpenAICompatibleOptions<Id>): Provider<Id> {
  const sdkPath = options.sdkPath ?? "/v1";
  return {
    id: options.id,
    route: { prefix: `/${options.id}`, sdkPath, examplePath: `${sdkPath.slice(1)}${sdkPath ? "/" : ""}chat/completions` },
    upstream: { baseUrl: options.baseUrl, wirePaths: { chat: `${sdkPath}/chat/completions` } },
    endpoint: createOpenAIEndpoints({ usage: options.usage, askStreamUsage: options.askStreamUsage }),
    dialect: openAIErrors,
    genAiProvider: options.genAiProvider ?? options.id,
    ...(options.pricingId === undefined ? {} : { pricingId: options.pricingId }),
    ...(options.reportsCost === undefined ? {} : { reportsCost: options.reportsCost }),
    requestIdHeaders: options.requestIdHeaders ?? ["x-request-id"],
    ...(options.rateLimits === false ? {} : { rateLimits: readRateLimitHeaders(options.rateLimits ?? OPENAI_RATE_LIMITS) }),
  };
}
