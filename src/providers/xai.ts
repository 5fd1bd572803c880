import { readCount, sumCounts } from "../usage/usage.ts";
import { defineOpenAICompatible } from "./define-openai-compatible.ts";

/**
 * xAI (docs.x.ai): OpenAI's wire format under `/v1`, chat and Responses. Two
 * departures from OpenAI's usage:
 * - Chat `completion_tokens` leaves reasoning out ("counted separately from
 *   `completion_tokens`, but counted in the `total_tokens`", billed at the
 *   completion price), so output is completion + reasoning. Responses
 *   `output_tokens` already include it.
 * - `cost_in_usd_ticks` is what the call was charged, everything included
 *   (cached-token discounts, server-side tools), and wins over prices.
 * Streams carry usage unasked (docs: "Streaming"), so requests go through untouched.
 */
export const xai = defineOpenAICompatible({
  id: "xai",
  baseUrl: "https://api.x.ai",
  pricingId: "x-ai",
  usage: {
    extend: (raw, usage) => ({
      ...usage,
      outputTokens: readCount(raw.completion_tokens) === undefined ? usage.outputTokens : sumCounts(usage.outputTokens, usage.reasoningTokens),
      providerCostUsd: ticksToUsd(raw.cost_in_usd_ticks),
    }),
  },
});

/**
 * A charge in xAI ticks as USD. One tick is 1e-10 USD (docs.x.ai, "Cost
 * Tracking"), a tenth of a nano-USD: the charge is rounded once, half up, to
 * whole nano-USD in integer arithmetic, and the USD number returned holds
 * that integer exactly (nano / 1e9 multiplied back by 1e9 and rounded gives
 * the same integer for any charge below 2^51 nano-USD, about $2.2M).
 */
export function ticksToUsd(ticks: unknown): number | undefined {
  if (typeof ticks !== "number" || !Number.isSafeInteger(ticks) || ticks < 0) return undefined;
  const rest = ticks % 10;
  const nano = (ticks - rest) / 10 + (rest >= 5 ? 1 : 0);
  return nano / 1e9;
}
