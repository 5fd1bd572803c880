import { LoupeError, type ErrorDialect } from "../errors.ts";
import { asObject } from "../usage/usage.ts";
import type { Endpoint, PrepareUpstream, Provider, UpstreamBody } from "./contract.ts";
import { openAIErrors } from "./dialects.ts";
import { createOpenAIEndpoints, removeUsageChunk } from "./openai-wire.ts";
import { readRateLimitHeaders } from "./rate-limit-headers.ts";

/**
 * Azure OpenAI (learn.microsoft.com/azure/ai-foundry/openai/reference): an
 * OpenAI wire format served per resource at
 * `https://<resource>.openai.azure.com`, in two path shapes:
 *
 * - deployment paths, `/openai/deployments/{deployment}/chat/completions?api-version=…`
 *   (the `AzureOpenAI` SDK client): the deployment in the path picks the
 *   model, so the record's `model` is the deployment;
 * - the v1 API, `/openai/v1/chat/completions` (the plain `OpenAI` client), and
 *   the dated `/openai/responses?api-version=…`: `model` in the body is the
 *   deployment's name.
 *
 * Chat and embeddings responses report the model that ran
 * (`gpt-4o-2024-08-06`): that is `response_model`, and the price is
 * genai-prices' `azure` entry for it (which falls back to OpenAI's list).
 * In Azure's Responses API, recorded and documented, `model` comes back as
 * the request named it (the deployment), not dated: a deployment not named
 * after its model may be unpriced there (NULL) unless the price file names
 * it. Clients authenticate with `api-key` or, with Entra ID,
 * `Authorization: Bearer`; both pass through untouched.
 */

/**
 * There is no public default: until `LOUPE_AZURE_BASE_URL` names a resource,
 * calls go nowhere and are answered so. An underscore cannot be in a resource's
 * subdomain (Azure allows letters, digits and hyphens), so this placeholder
 * never shadows a real resource.
 */
const UNSET_BASE_URL = "https://YOUR_RESOURCE.openai.azure.com";

/** Loupe's answer while no resource is configured: the gateway's fault, not the client's, and no use retrying. */
class NoAzureResource extends LoupeError {
  constructor() {
    super(
      "unavailable",
      "this gateway has no Azure OpenAI resource configured: set LOUPE_AZURE_BASE_URL (or --azure-base-url) to the resource's endpoint, e.g. https://my-resource.openai.azure.com",
    );
  }
}

/** OpenAI's error shape; `x-should-retry: false` stops the OpenAI SDK's retries (it honours that header) when retrying cannot help. */
const azureErrors: ErrorDialect = {
  body: openAIErrors.body,
  headers: (error) => (error instanceof NoAzureResource ? { "x-should-retry": "false" } : {}),
};

/**
 * `stream_options` came in api-version 2024-09-01-preview (Azure OpenAI, "API
 * version lifecycle": "stream_options & include_usage added"); the dated GA
 * versions, 2024-10-21 the last of them, do not define it, and older versions
 * refuse it ("Unrecognized request argument supplied: stream_options"). The
 * v1 API always takes it.
 */
export function acceptsStreamOptions(apiVersion: string | null): boolean {
  const preview = /^(\d{4}-\d{2}-\d{2})-preview$/.exec(apiVersion ?? "");
  return preview !== null && preview[1]! >= "2024-09-01";
}

/**
 * A deployment's chat stream without include_usage has no usage. Loupe asks
 * for it when the request's api-version allows, and then hands the client the
 * stream it asked for, as for OpenAI (`removeUsageChunk`). When the version
 * does not allow it, the request goes up byte for byte, and the stream is
 * recorded without usage.
 */
const utf8 = new TextEncoder();

function deploymentChat(chat: Endpoint, deployment: string): Endpoint {
  const readRequest = chat.readRequest!;
  return {
    ...chat,
    readRequest: (body) => ({ ...readRequest(body), model: deployment }),
    prepareUpstream(body, { query }): UpstreamBody | undefined {
      if (body.stream !== true || !acceptsStreamOptions(new URLSearchParams(query).get("api-version"))) return undefined;
      const options = asObject(body.stream_options);
      if (options?.include_usage === true) return undefined;
      const edited = { ...body, stream_options: { ...options, include_usage: true } };
      return { bytes: utf8.encode(JSON.stringify(edited)), rewriteEvent: removeUsageChunk };
    },
  };
}

const prepare: PrepareUpstream = async (request) => {
  if (request.url.startsWith(`${UNSET_BASE_URL}/`)) throw new NoAzureResource();
  return request;
};

const DEPLOYMENT_PATH = /^\/openai\/deployments\/([^/]+)(\/.+)$/;

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Dated APIs: forwarded as sent. */
const dated = createOpenAIEndpoints();
/** The v1 GA API: OpenAI's, `stream_options` included. */
const v1 = createOpenAIEndpoints({ askStreamUsage: true });

function endpoint(method: string, path: string): Endpoint | undefined {
  if (path.startsWith("/openai/v1/")) return v1(method, path);
  const deployment = DEPLOYMENT_PATH.exec(path);
  if (!deployment) return dated(method, path);
  const rest = deployment[2]!;
  const known = dated(method, rest);
  if (!known?.readRequest) return known;
  const model = decodeSegment(deployment[1]!);
  if (rest === "/chat/completions") return deploymentChat(known, model);
  const readRequest = known.readRequest;
  return { ...known, readRequest: (body) => ({ ...readRequest(body), model }) };
}

export const azure: Provider<"azure"> = {
  id: "azure",
  route: { prefix: "/azure", sdkPath: "/openai/v1", examplePath: "openai/v1/chat/completions" },
  // A stored key may be JSON `{"key": "…", "baseUrl": "https://<resource>.openai.azure.com"}`: the resource comes with it.
  upstream: { baseUrl: UNSET_BASE_URL, prepare, credentials: { header: "api-key" } },
  endpoint,
  dialect: azureErrors,
  genAiProvider: "azure.ai.openai",
  requestIdHeaders: ["x-request-id", "apim-request-id"],
  // learn.microsoft.com, Azure OpenAI quota: x-ratelimit-remaining-requests and x-ratelimit-remaining-tokens.
  rateLimits: readRateLimitHeaders({ prefixes: ["x-ratelimit-"] }),
};
