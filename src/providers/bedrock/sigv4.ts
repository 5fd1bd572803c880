import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { LoupeError } from "../../errors.ts";
import type { PrepareUpstream, UpstreamRequest } from "../contract.ts";

/**
 * Bedrock's `upstream.prepare`: the regional URL, and the request's
 * authentication as Bedrock needs it.
 *
 * Region. The AWS SDKs call a regional endpoint, `bedrock-runtime.<region>.amazonaws.com`;
 * pointed at Loupe they call Loupe's host, and the region would be lost —
 * except that a SigV4 client still signs for it: the `Credential=` scope of its
 * `Authorization` header names the region its SDK was configured with
 * (AWS docs, "Signature Version 4 signing": credential scope). So the region
 * is, in order: the client's signed region; `LOUPE_BEDROCK_REGION`
 * (`--bedrock-region`), for clients that sign nothing (Bedrock API keys,
 * `skipAuth`); `us-east-1`. `LOUPE_BEDROCK_BASE_URL` pins one endpoint for
 * every call instead (a FIPS or VPC endpoint, another gateway, a test double).
 *
 * Authentication, by what the client sent:
 * - `Authorization: Bearer …` (a Bedrock API key): forwarded untouched.
 * - SigV4 (`AWS4-HMAC-SHA256 …`): the client signed for Loupe's host, so the
 *   signature is worthless upstream; Loupe drops it and signs again for the
 *   real host with the AWS credentials it holds. Without any: a clear 401
 *   in Bedrock's dialect, nothing sent.
 * - nothing (AnthropicBedrock `skipAuth`, Claude Code's
 *   CLAUDE_CODE_SKIP_BEDROCK_AUTH: "a gateway handles auth"): signed with
 *   Loupe's credentials when it holds some, else forwarded as sent (a gateway
 *   further on may sign it; AWS itself answers 403).
 *
 * Loupe's credentials come from the standard AWS chain
 * (`@aws-sdk/credential-provider-node`: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN, AWS_PROFILE and ~/.aws files, SSO, web identity, ECS
 * and EC2 roles). That chain reads the environment and those files itself:
 * the one place outside src/config.ts that does, because its rules are
 * AWS's, not Loupe's. It is loaded on the first call that needs it.
 */

export const DEFAULT_REGION = "us-east-1";
/** The public endpoint of the default region; the base URL other regions are derived from. */
export const DEFAULT_BASE_URL = `https://bedrock-runtime.${DEFAULT_REGION}.amazonaws.com`;
/** AWS region names: us-east-1, eu-central-2, us-gov-west-1, ap-southeast-5, … */
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** Bedrock's SigV4 signing name (the runtime's host says bedrock-runtime, the scope says bedrock). */
const SERVICE = "bedrock";
/** The client's signature, made for Loupe's host: dropped before signing again. */
const CLIENT_SIGNATURE = new Set(["authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"]);
/** A failed credential lookup is not repeated for this long (each tries files and instance metadata). */
const RETRY_LOOKUP_MS = 10_000;

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** Resolves the credentials Loupe holds, or undefined when there are none. Must not throw. */
export type CredentialSource = () => Promise<AwsCredentials | undefined>;

export interface SigV4Options {
  /** Where Loupe's credentials come from (default: the standard AWS chain). */
  credentials?: CredentialSource;
}

export function createSigV4Prepare(options: SigV4Options = {}): PrepareUpstream {
  const held = options.credentials ?? createCredentialChain();
  return async function prepareBedrockRequest(request, { settings, storedSecret }) {
    if (storedSecret !== undefined) return signWithStored(request, storedSecret, settings);
    const authorization = request.headers.authorization ?? "";
    const signedByClient = authorization.startsWith("AWS4-HMAC-SHA256");
    const clientRegion = signedByClient ? scopeRegion(authorization) : undefined;
    if (clientRegion !== undefined && !REGION.test(clientRegion)) {
      throw new LoupeError("invalid_request", `the request is signed for region "${clientRegion}", which is not an AWS region name`);
    }
    const configured = typeof settings.region === "string" ? settings.region : undefined;
    const region = clientRegion ?? configured ?? DEFAULT_REGION;
    const url = inRegion(request.url, region);
    // A Bedrock API key, or a scheme Loupe does not know: the client's own business.
    if (authorization !== "" && !signedByClient) return url === request.url ? request : { ...request, url };
    const credentials = await held();
    if (!credentials) {
      if (!signedByClient) return { ...request, url };
      throw new LoupeError(
        "unauthorized",
        `the client signed this request with SigV4 for Loupe's address, and Loupe holds no AWS credentials to sign it for ${new URL(url).host}: give the gateway AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a role), or send a Bedrock API key (Authorization: Bearer)`,
      );
    }
    return await signRequest({ ...request, url }, credentials, signingRegion(url) ?? region);
  };
}

/** A call that came with a gateway key: signed with the AWS credentials stored for it (part 7), in the configured region. */
async function signWithStored(request: UpstreamRequest, storedSecret: string, settings: Readonly<Record<string, unknown>>): Promise<UpstreamRequest> {
  let stored: Partial<AwsCredentials & { region: string }>;
  try {
    stored = JSON.parse(storedSecret) as typeof stored;
  } catch {
    throw new LoupeError("unauthorized", 'the stored Bedrock key is not AWS credentials as JSON ({"accessKeyId": …, "secretAccessKey": …})');
  }
  if (typeof stored.accessKeyId !== "string" || typeof stored.secretAccessKey !== "string") {
    throw new LoupeError("unauthorized", "the stored Bedrock key lacks accessKeyId or secretAccessKey");
  }
  const region = stored.region ?? (typeof settings.region === "string" ? settings.region : DEFAULT_REGION);
  const url = inRegion(request.url, region);
  const credentials = { accessKeyId: stored.accessKeyId, secretAccessKey: stored.secretAccessKey, sessionToken: stored.sessionToken };
  return await signRequest({ ...request, url }, credentials, signingRegion(url) ?? region);
}

/** The region of a SigV4 `Authorization` header's scope: `Credential=<key>/<date>/<region>/<service>/aws4_request`. */
export function scopeRegion(authorization: string): string | undefined {
  const scope = /Credential=([^,\s]+)/.exec(authorization)?.[1]?.split("/");
  return scope && scope.length === 5 ? scope[2] : undefined;
}

/** The default endpoint moved to `region`; any other base URL (LOUPE_BEDROCK_BASE_URL) is kept. */
function inRegion(url: string, region: string): string {
  if (region === DEFAULT_REGION || !url.startsWith(DEFAULT_BASE_URL)) return url;
  const suffix = region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  return `https://bedrock-runtime.${region}.${suffix}${url.slice(DEFAULT_BASE_URL.length)}`;
}

/** The region an AWS Bedrock host serves (public, FIPS or VPC endpoint), for a pinned base URL. */
function signingRegion(url: string): string | undefined {
  const host = new URL(url).hostname;
  return /(?:^|\.)bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$/.exec(host)?.[1];
}

/** Signs the request for its own URL (AWS Signature Version 4), replacing whatever signature the client made. */
export async function signRequest(request: UpstreamRequest, credentials: AwsCredentials, region: string, signingDate?: Date): Promise<UpstreamRequest> {
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  for (const name in request.headers) if (!CLIENT_SIGNATURE.has(name)) headers[name] = request.headers[name]!;
  // fetch sends Host from the URL; the signature must cover the same value.
  headers.host = url.host;
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  const { accessKeyId, secretAccessKey, sessionToken } = credentials;
  const identity = sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
  const signer = new SignatureV4({ credentials: identity, region, service: SERVICE, sha256: NodeSha256 });
  const signed = await signer.sign(
    new HttpRequest({
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      // Still percent-encoded, as sent: SigV4 encodes each segment once more (the model id's `:` is `%253A` in the canonical request).
      path: url.pathname,
      query,
      headers,
      body: request.body ?? "",
    }),
    signingDate ? { signingDate } : undefined,
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) if (name !== "host") out[name] = value;
  return { ...request, headers: out };
}

/** The standard AWS credential chain, loaded on first use; a failed lookup is remembered for a few seconds. */
function createCredentialChain(): CredentialSource {
  let chain: Promise<() => Promise<AwsCredentials>> | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;
  return async () => {
    if (performance.now() - failedAt < RETRY_LOOKUP_MS) return undefined;
    try {
      // One chain for all calls; it memoizes what it finds and refreshes it before it expires.
      chain ??= import("@aws-sdk/credential-provider-node").then((module) => module.defaultProvider());
      return await (await chain)();
    } catch {
      failedAt = performance.now();
      return undefined;
    }
  };
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

/** SHA-256 and HMAC-SHA-256 for the signer, from the runtime's native crypto (a JS hash costs milliseconds per large prompt). */
class NodeSha256 {
  readonly #secret: SourceData | undefined;
  #hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.#secret = secret;
    this.#hash = this.#create();
  }
  #create(): Hash | Hmac {
    return this.#secret === undefined ? createHash("sha256") : createHmac("sha256", bytesOf(this.#secret));
  }
  update(data: SourceData): void {
    this.#hash.update(bytesOf(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
  reset(): void {
    this.#hash = this.#create();
  }
}

function bytesOf(data: SourceData): Uint8Array | string {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
