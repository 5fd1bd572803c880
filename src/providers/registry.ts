import { anthropic } from "./anthropic.ts";
import { gemini } from "./gemini.ts";
import { openai } from "./openai.ts";
import type { ProviderAdapter } from "./contract.ts";

/**
 * Every provider Loupe knows, keyed by id. Order matters for drop-in root
 * paths: the first adapter that claims a path serves it.
 */
export const providers = { anthropic, openai, gemini } as const satisfies Record<string, ProviderAdapter>;

export type ProviderId = keyof typeof providers;
export const providerIds = Object.keys(providers) as ProviderId[];

export interface RouteMatch {
  adapter: ProviderAdapter;
  /** The path to append to the upstream base URL. */
  upstreamPath: string;
}

const adapters: readonly ProviderAdapter[] = Object.values(providers);
const prefixed = adapters.map((adapter) => ({ adapter, prefix: adapter.prefix, under: `${adapter.prefix}/` }));

/** Finds the provider for an incoming path: by prefix, else a drop-in root path. */
export function matchRoute(method: string, path: string, headers: Headers): RouteMatch | undefined {
  for (const { adapter, prefix, under } of prefixed) {
    if (path === prefix || path.startsWith(under)) return { adapter, upstreamPath: path.slice(prefix.length) || "/" };
  }
  for (const adapter of adapters) {
    if (adapter.claimsDropIn?.(method, path, headers)) return { adapter, upstreamPath: path };
  }
  return undefined;
}

const byId = new Map<string, ProviderAdapter>(adapters.map((adapter) => [adapter.id, adapter]));

/** The provider with this id (as recorded in a call's event), if Loupe knows it. */
export function findProvider(id: string): ProviderAdapter | undefined {
  return byId.get(id);
}
