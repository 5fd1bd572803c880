import { asObject, readCount, readUsd, sumCounts } from "../usage/usage.ts";
import { defineOpenAICompatible } from "./define-openai-compatible.ts";

/**
 * Perplexity (docs.perplexity.ai): Sonar chat at `/chat/completions` (the
 * official SDK's and the OpenAI SDK's base URL is `http://HOST:PORT/perplexity`)
 * and the Agent API at `/v1/responses` (OpenAI SDK: `…/perplexity/v1`).
 *
 * Usage (API reference, `UsageInfo` and `ResponsesUsage`):
 * - `usage.cost.total_cost` is what the call was charged in USD — tokens, the
 *   per-request search fee by `search_context_size`, citation tokens, search
 *   queries — and wins over prices. Without it, the price data prices the
 *   tokens (and its one request fee); citation tokens and search queries stay
 *   in `usage_raw`, unpriced.
 * - Sonar `reasoning_tokens` is listed and billed apart from
 *   `completion_tokens`, so output is completion + reasoning.
 * - The Agent API names cache reads and writes as Anthropic does
 *   (`input_tokens_details.cache_read_input_tokens`, `cache_creation_input_tokens`).
 */
export const perplexity = defineOpenAICompatible({
  id: "perplexity",
  baseUrl: "https://api.perplexity.ai",
  sdkPath: "",
  usage: {
    extend(raw, usage) {
      const reasoning = readCount(raw.reasoning_tokens);
      const details = asObject(raw.input_tokens_details);
      const charged = asObject(raw.cost)?.total_cost;
      return {
        ...usage,
        outputTokens: reasoning === undefined ? usage.outputTokens : sumCounts(usage.outputTokens, reasoning),
        reasoningTokens: usage.reasoningTokens ?? reasoning,
        cacheReadTokens: usage.cacheReadTokens ?? readCount(details?.cache_read_input_tokens),
        cacheWriteTokens: usage.cacheWriteTokens ?? readCount(details?.cache_creation_input_tokens),
        providerCostUsd: readUsd(charged),
      };
    },
  },
});
