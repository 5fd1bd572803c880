import type { Provider } from "./contract.ts";
import { defineOpenAICompatible } from "./define-openai-compatible.ts";

// Responses name the organization the key bills to (`openai-organization`, API reference "Debugging requests"); its limits are that organization's.
const compatible = defineOpenAICompatible({
  id: "openai",
  baseUrl: "https://api.openai.com",
  askStreamUsage: true,
  rateLimits: { prefixes: ["x-ratelimit-"], organization: "openai-organization" },
});

/** OpenAI itself: the wire format's reference, and the drop-in owner of root `/v1/…` paths. */
export const openai: Provider<"openai"> = {
  ...compatible,
  route: { ...compatible.route, dropIn: ["/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/…"] },
  claimsDropIn: (_method, path) => path.startsWith("/v1/"),
};
