import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";

/**
 * What AWS does with a SigV4-signed request, for the mock upstream: compute
 * the signature again from the request as received (method, path, query,
 * the signed headers, the body) with the secret key, and compare. The hash is
 * @aws-crypto/sha256-js, not the runtime's crypto Loupe signs with: a wrong
 * canonical request or a wrong key fails here as it would at AWS.
 */

/** The credentials the test gateway holds (its AWS_* environment) and the mock knows. */
export const MOCK_AWS_CREDENTIALS = {
  accessKeyId: "AKIDLOUPETESTKEY0001",
  secretAccessKey: "loupe/test/secret+key/0000000000000000000",
  sessionToken: "loupe-test-session-token",
} as const;

/** The same keys as the standard AWS environment variables, for a gateway process. */
export const MOCK_AWS_ENV = {
  AWS_ACCESS_KEY_ID: MOCK_AWS_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: MOCK_AWS_CREDENTIALS.secretAccessKey,
  AWS_SESSION_TOKEN: MOCK_AWS_CREDENTIALS.sessionToken,
} as const;

export interface SigV4Check {
  valid: boolean;
  accessKeyId?: string;
  region?: string;
  service?: string;
  /** Why the signature was refused, in AWS's words where AWS has some. */
  error?: { type: string; message: string };
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const MISMATCH = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

export async function verifySigV4(request: Request, body: Uint8Array): Promise<SigV4Check> {
  const match = AUTHORIZATION.exec(request.headers.get("authorization") ?? "");
  if (!match) return { valid: false, error: { type: "IncompleteSignatureException", message: "Authorization header is not a SigV4 signature" } };
  const [, accessKeyId, , region, service, signedHeaders] = match as unknown as [string, string, string, string, string, string];
  const seen = { accessKeyId, region, service };
  if (accessKeyId !== MOCK_AWS_CREDENTIALS.accessKeyId) return { valid: false, ...seen, error: { type: "UnrecognizedClientException", message: "The security token included in the request is invalid." } };
  if (request.headers.get("x-amz-security-token") !== MOCK_AWS_CREDENTIALS.sessionToken) return { valid: false, ...seen, error: { type: "UnrecognizedClientException", message: "The security token included in the request is invalid." } };
  const amzDate = request.headers.get("x-amz-date") ?? "";
  const signingDate = new Date(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z"));
  if (Number.isNaN(signingDate.getTime()) || Math.abs(Date.now() - signingDate.getTime()) > 5 * 60_000) {
    return { valid: false, ...seen, error: { type: "InvalidSignatureException", message: "Signature expired or not yet current" } };
  }
  const url = new URL(request.url);
  const names = signedHeaders.split(";");
  const headers: Record<string, string> = {};
  // The body's hash is computed here, never taken from the request's own x-amz-content-sha256.
  for (const name of names) if (name !== "x-amz-content-sha256") headers[name] = request.headers.get(name) ?? "";
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const had = query[name];
    query[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  const signer = new SignatureV4({ credentials: MOCK_AWS_CREDENTIALS, region, service, sha256: Sha256, applyChecksum: names.includes("x-amz-content-sha256") });
  const expected = await signer.sign(
    new HttpRequest({ method: request.method, protocol: url.protocol, hostname: url.hostname, path: url.pathname, query, headers, body }),
    { signingDate, signableHeaders: new Set(names) },
  );
  const valid = expected.headers.authorization === request.headers.get("authorization");
  return valid ? { valid, ...seen } : { valid, ...seen, error: { type: "InvalidSignatureException", message: MISMATCH } };
}
