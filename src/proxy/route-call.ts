import { LoupeError } from "../errors.ts";
import type { Provider } from "../providers/contract.ts";
import { matches, type MatchContext } from "../routing/match.ts";
import type { Fallback, RoutingRule, Target, TimeoutRule } from "../routing/routing-settings.ts";
import {
  convertChatErrorToMessages,
  convertChatRequestToMessages,
  convertChatResponseToMessages,
  convertMessagesErrorToChat,
  convertMessagesRequestToChat,
  convertMessagesResponseToChat,
  createChatToMessagesMapper,
  createMessagesToChatMapper,
  createSseTranslation,
} from "../translate/index.ts";
import type { CallState } from "./call-state.ts";
import type { RoutedCall } from "./routed-call.ts";
import { matchContext } from "./match-context.ts";

/**
 * Step 1c, routing (config `routing`, `PUT /api/settings`): the first rule
 * whose match holds sends the call to another model, provider, or one of
 * several by weight. Between the two chat wire formats the request and the
 * answer are translated (src/translate/); a call no rule matches is not
 * touched, and keeps its bytes.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The rule's target for this call (a weighted pick among several), or undefined when no rule matches. */
export function pickTarget(rules: readonly RoutingRule[], call: CallState, random: () => number = Math.random): Target | undefined {
  const context = matchContext(call);
  for (const rule of rules) {
    if (!matches(rule.match, context)) continue;
    if (!Array.isArray(rule.to)) return rule.to;
    const total = rule.to.reduce((sum, t) => sum + t.weight, 0);
    let at = random() * total;
    for (const target of rule.to) if ((at -= target.weight) < 0) return { provider: target.provider, ...(target.model ? { model: target.model } : {}) };
    return rule.to.at(-1);
  }
  return undefined;
}

/** The model names routing rules answer to on a provider (exact names only: a pattern names no model to list). */
export function routedModels(rules: readonly RoutingRule[], provider: string): string[] {
  return rules.flatMap((rule) => {
    const model = rule.match.model;
    if (model === undefined || /[*/]/.test(model) || (rule.match.provider !== undefined && rule.match.provider !== provider)) return [];
    return [model];
  });
}

/** The timeouts of the first `timeouts` entry whose match holds. */
export function pickTimeouts(timeouts: readonly TimeoutRule[], context: MatchContext): TimeoutRule | undefined {
  for (const rule of timeouts) if (matches(rule.match, context)) return rule;
  return undefined;
}

export const NO_FALLBACKS: readonly Target[] = Object.freeze([]);

/** The fallback chain of the first `fallbacks` entry whose match holds (none when no entry does). */
export function fallbackChain(fallbacks: readonly Fallback[], context: MatchContext): readonly Target[] {
  for (const fallback of fallbacks) if (matches(fallback.match, context)) return fallback.chain;
  return NO_FALLBACKS;
}

export function routeCall(call: CallState, target: Target, body: Uint8Array | undefined, providerOf: (id: string) => Provider | undefined): RoutedCall | LoupeError {
  const source = call.route.adapter;
  const provider = providerOf(target.provider);
  if (!provider) return new LoupeError("internal", `a routing rule names provider "${target.provider}", which this gateway does not serve`);
  const model = target.model ?? call.facts.model;
  // The body read-request.ts parsed (the same bytes), else parsed here (a call of no known endpoint).
  let json: Record<string, unknown> = {};
  if (call.requestJson !== undefined && body !== undefined && body.byteLength > 0) json = call.requestJson;
  else {
    try {
      json = body && body.byteLength > 0 ? (JSON.parse(decoder.decode(body)) as Record<string, unknown>) : {};
    } catch {
      return new LoupeError("invalid_request", "malformed JSON in request body");
    }
  }
  const wire = call.endpoint?.wire;
  const paths = provider.upstream.wirePaths;
  // Same provider: only the model changes, on the same path.
  if (provider.id === source.id) {
    const bytes = encoder.encode(JSON.stringify({ ...json, ...(model ? { model } : {}) }));
    return { provider, model, upstreamPath: call.upstreamPath, endpoint: call.endpoint, bytes, otherProvider: false };
  }
  if (wire === undefined) return new LoupeError("invalid_request", `this call (${call.method} ${call.upstreamPath}) cannot be routed to another provider: only chat calls can`);
  const sameWire = paths?.[wire];
  if (sameWire !== undefined) {
    const bytes = encoder.encode(JSON.stringify({ ...json, ...(model ? { model } : {}) }));
    return { provider, model, upstreamPath: sameWire, endpoint: provider.endpoint(call.method, sameWire), bytes, otherProvider: true };
  }
  if (!model) return new LoupeError("invalid_request", "a routed call needs a model");
  if (wire === "chat" && paths?.messages !== undefined) {
    const includeUsage = (json.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    return {
      provider,
      model,
      upstreamPath: paths.messages,
      endpoint: provider.endpoint(call.method, paths.messages),
      bytes: encoder.encode(JSON.stringify(convertChatRequestToMessages(json, { model }))),
      answer: {
        stream: () => createSseTranslation(createMessagesToChatMapper({ includeUsage })),
        whole: (answer) => convertMessagesResponseToChat(answer),
        error: (answer, status) => convertMessagesErrorToChat(answer, status),
      },
      otherProvider: true,
    };
  }
  if (wire === "messages" && paths?.chat !== undefined) {
    return {
      provider,
      model,
      upstreamPath: paths.chat,
      endpoint: provider.endpoint(call.method, paths.chat),
      bytes: encoder.encode(JSON.stringify(convertMessagesRequestToChat(json, { model }))),
      answer: {
        stream: () => createSseTranslation(createChatToMessagesMapper()),
        whole: (answer) => convertChatResponseToMessages(answer),
        error: (answer, status) => convertChatErrorToMessages(answer, status),
      },
      otherProvider: true,
    };
  }
  return new LoupeError("invalid_request", `provider ${provider.id} serves no chat format this call can be translated to`);
}
