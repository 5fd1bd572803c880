import type { LogBodyMode } from "../config.ts";
import type { ClientMeta, RateLimitSnapshot, RequestFacts, ResponseFacts } from "../providers/contract.ts";
import type { CallSpanIds } from "../telemetry/call-tracer.ts";
import type { GenAIOutputMessage, GenAIRequestContent } from "../telemetry/genai-content.ts";

/**
 * What the request thread writes about a finished call, and all it writes:
 * one line of the journal (JSON), followed by the raw response body when the
 * recorder is to read it (an entry: journal.ts). The recorder (recorder.ts)
 * turns every event into the call's record and telemetry, off the request
 * path; nothing else makes a record.
 *
 * Either `response` holds what the proxy observed (streams, errors, and
 * plain bodies of calls whose bodies must not reach disk: `logBody` meta and
 * none), or the body follows the event and `encoding`/`captureBytes` say how
 * to read it (`logBody` full, whose record keeps the body anyway).
 */
export interface CallEvent {
  /** The format (2). Journal lines without it are records an earlier version wrote. */
  event: 2;
  id: string;
  /** Milliseconds since the epoch. */
  startedAt: number;
  durationMs: number;
  ttfbMs: number | undefined;
  /** The provider's id (the registry's key). */
  provider: string;
  method: string;
  /** The path and query as the client sent them. */
  path: string;
  /** The upstream path without its query: with `method`, the provider finds the endpoint again. */
  upstreamPath: string;
  status: number;
  request: RequestFacts;
  tags: RequestTags;
  client: ClientMeta | undefined;
  logBody: LogBodyMode;
  /** The request body as logged (`logBody` full), cut to the logging limit. */
  requestBody: string | undefined;
  requestBytes: number;
  responseBytes: number;
  upstreamRequestId: string | undefined;
  /** The provider's rate-limit headers in its answer, when it sent any; absent in events of earlier versions. */
  rateLimits?: RateLimitSnapshot | undefined;
  truncated: boolean;
  /** Loupe's own error, or how the body ended (client left, upstream broke off). */
  errorType?: string | undefined;
  errorMessage?: string | undefined;
  /** What the response said, as observed in flight; absent when the body follows the event. */
  response?: ResponseFacts | undefined;
  /** The response body as logged (`logBody` full), when observed in flight. */
  responseBody?: string | undefined;
  /** With a body that follows: its content-encoding (it is kept as it was forwarded)… */
  encoding?: string | null | undefined;
  /** …and how many of its decoded bytes the record keeps. */
  captureBytes?: number | undefined;
  /** The W3C trace the call belongs to (the caller's, or one Loupe started). */
  traceId: string | undefined;
  /** The gateway key the call came with, and the limit that refused it (part 7). */
  keyId?: string | undefined;
  limitHit?: string | undefined;
  /** Upstream attempts (retries); absent in events of earlier versions (one). */
  attempts?: number | undefined;
  /** Where a routing rule sent the call (its record is read and priced as that provider's answer). */
  routedProvider?: string | undefined;
  routedModel?: string | undefined;
  /** Present when telemetry is on: what the call's spans and metrics need beyond its record. */
  telemetry?: EventTelemetry | undefined;
}

export interface EventTelemetry {
  /** Milliseconds since the epoch. */
  endTime: number;
  /** The upstream's host and port (`server.address`, `server.port`). */
  serverAddress: string;
  serverPort: number;
  /** Present when the call's trace is sampled. */
  spans?: CallSpanIds | undefined;
  /** Message content, when capture is on (opt-in) and the call's `logBody` allows it. */
  captureContent?: boolean | undefined;
  requestContent?: GenAIRequestContent | undefined;
  outputContent?: GenAIOutputMessage[] | undefined;
}

/** The journal line of an event (no newline). */
export const eventLine = (event: CallEvent): string => JSON.stringify(event);

/** What the caller tells Loupe about a call in `x-loupe-*` headers (stripped before forwarding). */
export interface RequestTags {
  sessionId?: string | undefined;
  userId?: string | undefined;
  project?: string | undefined;
  tags?: string[] | undefined;
  logBody?: LogBodyMode | undefined;
}

