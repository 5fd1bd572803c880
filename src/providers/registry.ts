import { anthropic } from "./anthropic.ts";
import { bedrock } from "./bedrock/bedrock.ts";
import { deepseek } from "./deepseek.ts";
import { gemini } from "./gemini.ts";
import { groq } from "./groq.ts";
import { openai } from "./openai.ts";
import { openrouter } from "./openrouter.ts";
import type { Provider } from "./contract.ts";

/**
 * Every provider Loupe knows, keyed by id. Order matters for drop-in root
 * paths: the first provider that claims a path serves it.
 */
export const providers = { anthropic, openai, gemini, groq, deepseek, openrouter, bedrock } as const satisfies Record<string, Provider>;

export type ProviderId = keyof typeof providers;
export const providerIds = Object.keys(providers) as ProviderId[];

const all: readonly Provider[] = Object.values(providers);
const byId: ReadonlyMap<string, Provider> = new Map(all.map((provider) => [provider.id, provider]));

/** The provider a record names (its `provider` column), if it is registered. */
export function providerById(id: string): Provider | undefined {
  return byId.get(id);
}

/** The provider id in the price data for a record's provider (the id itself when unknown or the same). */
export function pricingIdOf(id: string): string {
  return byId.get(id)?.pricingId ?? id;
}

export interface RouteMatch {
  adapter: Provider;
  /** The path to append to the upstream base URL. */
  upstreamPath: string;
}

const ALIAS = "/proxy";
const prefixed = all.map((provider) => ({ provider, prefix: provider.route.prefix, under: `${provider.route.prefix}/` }));

/** Finds the provider for an incoming path: by prefix (or its `/proxy/<id>` alias), else a drop-in root path. */
export function matchRoute(method: string, path: string, headers: Headers): RouteMatch | undefined {
  for (const { provider, prefix, under } of prefixed) {
    if (path === prefix || path.startsWith(under)) return { adapter: provider, upstreamPath: path.slice(prefix.length) || "/" };
  }
  if (path.startsWith(`${ALIAS}/`)) {
    const rest = path.slice(ALIAS.length);
    for (const { provider, prefix, under } of prefixed) {
      if (rest === prefix || rest.startsWith(under)) return { adapter: provider, upstreamPath: rest.slice(prefix.length) || "/" };
    }
  }
  for (const provider of all) {
    if (provider.claimsDropIn?.(method, path, headers)) return { adapter: provider, upstreamPath: path };
  }
  return undefined;
}

export interface RouteDescription {
  provider: ProviderId;
  /** `/<id>`: everything below it goes to `upstream`. */
  prefix: string;
  alias: string;
  /** The official SDK's base URL, below the gateway's origin (`/openai/v1`). */
  sdkPath: string;
  /** The provider's public API, unless `LOUPE_<ID>_BASE_URL` says otherwise. */
  upstream: string;
  /** Root paths served without a prefix, for SDKs whose base URL is the gateway itself. */
  dropIn: readonly string[];
  /** A typical path below the prefix (`v1/messages`), for the OpenAPI description. */
  examplePath: string;
}

/** The mounted routes, for `GET /`, the OpenAPI description and `--help`. */
export function describeRoutes(): RouteDescription[] {
  return all.map((provider) => ({
    provider: provider.id as ProviderId,
    prefix: provider.route.prefix,
    alias: `${ALIAS}${provider.route.prefix}`,
    sdkPath: provider.route.prefix + provider.route.sdkPath,
    upstream: provider.upstream.baseUrl,
    dropIn: provider.route.dropIn ?? [],
    examplePath: provider.route.examplePath,
  }));
}
