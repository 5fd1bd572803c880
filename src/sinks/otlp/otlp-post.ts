import { gzip } from "node:zlib";
import { urlWithoutCredentials } from "../../http/url-without-credentials.ts";
import type { OtlpTarget } from "../../telemetry/otel-config.ts";

/**
 * One OTLP/HTTP export request (opentelemetry.io/docs/specs/otlp/#otlphttp):
 * POST the body with the configured headers, gzip if asked (compressed on
 * zlib's thread pool, off the event loop), bounded by the configured timeout.
 * Resolves when the backend answered 2xx; rejects with the reason otherwise.
 */
export type OtlpPost = (body: Uint8Array) => Promise<void>;

/**
 * A failed export. `retryable`: the OTLP spec's transient failures (no answer,
 * 429, 502, 503, 504), worth sending again later; `retryAfterMs` from the
 * backend's Retry-After (seconds), if it gave one.
 */
export class OtlpExportError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

export function createOtlpPost(target: OtlpTarget, contentType: string, timeoutMs = target.timeoutMs): OtlpPost {
  const headers: Record<string, string> = { ...target.headers, "content-type": contentType };
  if (target.compression === "gzip") headers["content-encoding"] = "gzip";
  // Errors are logged and shown in /livez: they name the backend without the credentials its URL may carry.
  const where = urlWithoutCredentials(target.url);
  return async function postOtlp(body) {
    const signal = AbortSignal.timeout(timeoutMs);
    const payload = target.compression === "gzip" ? await gzipAsync(body) : body;
    let response: Response;
    try {
      response = await fetch(target.url, { method: "POST", headers, body: payload, signal });
    } catch (error) {
      throw new OtlpExportError(signal.aborted ? `no answer from ${where} within ${timeoutMs} ms` : `${where}: ${(error as Error).message}`, true);
    }
    // Read the (small) answer either way, so the connection goes back to the pool.
    const answer = await response.text().catch(() => "");
    if (!response.ok) {
      const seconds = Number(response.headers.get("retry-after"));
      throw new OtlpExportError(
        `${where} answered ${response.status}${answer ? `: ${answer.slice(0, 200)}` : ""}`,
        RETRYABLE_STATUS.has(response.status),
        Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined,
      );
    }
  };
}

function gzipAsync(body: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => gzip(body, (error, result) => (error ? reject(error) : resolve(result))));
}
