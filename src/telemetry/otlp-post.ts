import { gzip } from "node:zlib";
import type { OtlpTarget } from "./otel-config.ts";

/**
 * One OTLP/HTTP export request (opentelemetry.io/docs/specs/otlp/#otlphttp):
 * POST the body with the configured headers, gzip if asked (compressed on
 * zlib's thread pool, off the event loop), bounded by the configured timeout.
 * Resolves when the backend answered 2xx; rejects with the reason otherwise.
 */
export type OtlpPost = (body: Uint8Array) => Promise<void>;

export function createOtlpPost(target: OtlpTarget, contentType: string, timeoutMs = target.timeoutMs): OtlpPost {
  const headers: Record<string, string> = { ...target.headers, "content-type": contentType };
  if (target.compression === "gzip") headers["content-encoding"] = "gzip";
  return async function postOtlp(body) {
    const signal = AbortSignal.timeout(timeoutMs);
    const payload = target.compression === "gzip" ? await gzipAsync(body) : body;
    let response: Response;
    try {
      response = await fetch(target.url, { method: "POST", headers, body: payload, signal });
    } catch (error) {
      throw new Error(signal.aborted ? `no answer from ${target.url} within ${timeoutMs} ms` : `${target.url}: ${(error as Error).message}`);
    }
    // Read the (small) answer either way, so the connection goes back to the pool.
    const answer = await response.text().catch(() => "");
    if (!response.ok) throw new Error(`${target.url} answered ${response.status}${answer ? `: ${answer.slice(0, 200)}` : ""}`);
  };
}

function gzipAsync(body: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => gzip(body, (error, result) => (error ? reject(error) : resolve(result))));
}
