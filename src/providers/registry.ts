import { anthropic } from "./anthropic.ts";
import { gemini } from "./gemini.ts";
import { openai } from "./openai.ts";
import type { ProviderAdapter } from "./types.ts";

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

/** Finds the provider for an incoming path: by prefix, else a drop-in root path. */
export function matchRoute(method: string, path: string, headers: Headers): RouteMatch | undefined {
  for (const adapter of Object.values(providers) as ProviderAdapter[]) {
    if (path === adapter.prefix || path.startsWith(`${adapter.prefix}/`)) {
      return { adapter, upstreamPath: path.slice(adapter.prefix.length) || "/" };
    }
  }
  for (const adapter of Object.values(providers) as ProviderAdapter[]) {
    if (adapter.claimsDropIn?.(method, path, headers)) return { adapter, upstreamPath: path };
  }
  return undefined;
}
