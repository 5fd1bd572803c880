import { anthropic } from "./anthropic.ts";
import { cohere } from "./cohere.ts";
import { azure } from "./azure.ts";
import { cerebras } from "./cerebras.ts";
import { bedrock } from "./bedrock/bedrock.ts";
import { deepseek } from "./deepseek.ts";
import { fireworks } from "./fireworks.ts";
import { gemini } from "./gemini.ts";
import { groq } from "./groq.ts";
import { mistral } from "./mistral.ts";
import { openai } from "./openai.ts";
import { openrouter } from "./openrouter.ts";
import { vertex } from "./vertex.ts";
import { perplexity } from "./perplexity.ts";
import { together } from "./together.ts";
import { xai } from "./xai.ts";
import { ollama } from "./ollama.ts";
import type { ErrorDialect } from "../errors.ts";
import type { Provider } from "./contract.ts";
import { declareProvider, type DeclaredProvider } from "./declare-provider.ts";

/**
 * Every provider Loupe knows, keyed by id. Order matters for drop-in root
 * paths: the first provider that claims a path serves it.
 */
export const providers = { anthropic, openai, gemini, groq, deepseek, openrouter, vertex, cohere, azure, mistral, xai, together, fireworks, cerebras, perplexity, ollama, bedrock } as const satisfies Record<string, Provider>;

export type ProviderId = keyof typeof providers;
export const providerIds = Object.keys(providers) as ProviderId[];

/** Finds a provider by the id a record names (its `provider` column). */
export type ProviderLookup = (id: string) => Provider | undefined;

export interface RouteMatch {
  /** The provider as it serves this path (with the dialect of that part of its API). */
  adapter: Provider;
  /** The path to append to the upstream base URL. */
  upstreamPath: string;
}

export interface RouteDescription {
  provider: string;
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

/** The providers a gateway serves and its recorder knows: the registered ones, and those the config file declares. */
export interface ProviderRegistry {
  providerById: ProviderLookup;
  /** The provider id in the price data for a record's provider (the id itself when unknown or the same). */
  pricingIdOf(id: string): string;
  /** Finds the provider for an incoming path: by prefix (or its `/proxy/<id>` alias), else a drop-in root path. */
  matchRoute(method: string, path: string, headers: Headers): RouteMatch | undefined;
  /** The mounted routes, for `GET /`, the OpenAPI description and `--help`. */
  describeRoutes(): RouteDescription[];
}

const ALIAS = "/proxy";

/** First path segments the gateway serves itself, the dashboard's pages included (provider routes are matched first): no declared id may take one. */
const RESERVED = new Set(["api", "proxy", "v1", "v1beta", "health", "livez", "reference", "openapi", "assets", "requests", "sessions", "users", "projects", "models", "live", "settings"]);

/** Why each declared id cannot be served, if any: taken by a registered provider, by the gateway, or declared twice. */
export function checkDeclaredIds(declared: readonly Pick<DeclaredProvider, "id">[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const { id } of declared) {
    if (Object.hasOwn(providers, id)) problems.push(`provider "${id}" is already registered: pick another id for the declared one`);
    else if (RESERVED.has(id)) problems.push(`provider id "${id}" is a path the gateway serves itself: pick another`);
    else if (seen.has(id)) problems.push(`provider "${id}" is declared twice`);
    seen.add(id);
  }
  return problems;
}

/**
 * The registered providers, joined by the declared ones. Made once by
 * whoever serves or records with a config (the gateway's app, the recording
 * worker, a journal's replay), never at import: the module-level functions
 * below are the registered providers alone.
 */
export function createRegistry(declared: readonly DeclaredProvider[] = []): ProviderRegistry {
  const problems = checkDeclaredIds(declared);
  if (problems.length > 0) throw new Error(problems.join("; "));
  const all: readonly Provider[] = [...Object.values(providers), ...declared.map(declareProvider)];
  const byId: ReadonlyMap<string, Provider> = new Map(all.map((provider) => [provider.id, provider]));
  const prefixed = all.map((provider) => ({ provider, prefix: provider.route.prefix, under: `${provider.route.prefix}/` }));

  // A provider with another dialect for part of its API is handed over with it (one object per provider and dialect).
  const faces = new Map<Provider, Map<ErrorDialect, Provider>>();
  function servedAt(provider: Provider, upstreamPath: string): Provider {
    const dialect = provider.dialectAt?.(upstreamPath);
    if (dialect === undefined || dialect === provider.dialect) return provider;
    let byDialect = faces.get(provider);
    if (!byDialect) faces.set(provider, (byDialect = new Map()));
    let face = byDialect.get(dialect);
    if (!face) byDialect.set(dialect, (face = { ...provider, dialect }));
    return face;
  }
  const match = (provider: Provider, upstreamPath: string): RouteMatch => ({ adapter: servedAt(provider, upstreamPath), upstreamPath });

  return {
    providerById: (id) => byId.get(id),
    pricingIdOf: (id) => byId.get(id)?.pricingId ?? id,
    matchRoute(method, path, headers) {
      for (const { provider, prefix, under } of prefixed) {
        if (path === prefix || path.startsWith(under)) return match(provider, path.slice(prefix.length) || "/");
      }
      if (path.startsWith(`${ALIAS}/`)) {
        const rest = path.slice(ALIAS.length);
        for (const { provider, prefix, under } of prefixed) {
          if (rest === prefix || rest.startsWith(under)) return match(provider, rest.slice(prefix.length) || "/");
        }
      }
      for (const provider of all) {
        if (provider.claimsDropIn?.(method, path, headers)) return match(provider, path);
      }
      return undefined;
    },
    describeRoutes: () =>
      all.map((provider) => ({
        provider: provider.id,
        prefix: provider.route.prefix,
        alias: `${ALIAS}${provider.route.prefix}`,
        sdkPath: provider.route.prefix + provider.route.sdkPath,
        upstream: provider.upstream.baseUrl,
        dropIn: provider.route.dropIn ?? [],
        examplePath: provider.route.examplePath,
      })),
  };
}

const registered = createRegistry();

/** The registered providers alone (no config): `--help`, the contract tests, and records of registered providers. */
export const { providerById, pricingIdOf, matchRoute, describeRoutes } = registered;
