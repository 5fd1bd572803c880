import { defineOpenAICompatible } from "./define-openai-compatible.ts";

/**
 * Fireworks AI (docs.fireworks.ai): OpenAI's wire format under
 * `/inference/v1` (chat, completions, Responses, embeddings), so `/fireworks/…`
 * is forwarded to `https://api.fireworks.ai/…` and the OpenAI SDK's base URL
 * is `http://HOST:PORT/fireworks/inference/v1`. Streams carry usage unasked on
 * the chunk with the finish reason, so requests go through untouched. Model
 * ids are `accounts/<account>/models/<model>`, as the price data names them.
 */
export const fireworks = defineOpenAICompatible({
  id: "fireworks",
  baseUrl: "https://api.fireworks.ai",
  sdkPath: "/inference/v1",
});
