import { asCount, asObject, type Json } from "./json.ts";

/**
 * Usage across the two dialects. Messages `input_tokens` excludes cache reads
 * and writes (Messages API, "Prompt caching": total input = input_tokens +
 * cache_read_input_tokens + cache_creation_input_tokens); Chat
 * `prompt_tokens` includes cached tokens, and `prompt_tokens_details.cached_tokens`
 * is the part read from cache. Both output counts include reasoning/thinking.
 * A count that is not a non-negative safe integer is taken as 0, so the
 * client never sees a negative, fractional or infinite count.
 */
export function convertMessagesUsageToChat(usage: unknown): Json {
  const u = asObject(usage);
  const input = asCount(u["input_tokens"]) ?? 0;
  const cacheRead = asCount(u["cache_read_input_tokens"]) ?? 0;
  const cacheWrite = asCount(u["cache_creation_input_tokens"]) ?? 0;
  const output = asCount(u["output_tokens"]) ?? 0;
  const prompt = input + cacheRead + cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: output,
    total_tokens: prompt + output,
    prompt_tokens_details: { cached_tokens: cacheRead },
  };
}

/**
 * Chat reports no cache writes (the APIs that speak it bill none separately),
 * so `cache_creation_input_tokens` is 0 and `input_tokens` is the uncached rest.
 */
export function convertChatUsageToMessages(usage: unknown): Json {
  const u = asObject(usage);
  const prompt = asCount(u["prompt_tokens"]) ?? 0;
  const cached = asCount(asObject(u["prompt_tokens_details"])["cached_tokens"]) ?? 0;
  return {
    input_tokens: Math.max(0, prompt - cached),
    output_tokens: asCount(u["completion_tokens"]) ?? 0,
    cache_read_input_tokens: cached,
    cache_creation_input_tokens: 0,
  };
}
