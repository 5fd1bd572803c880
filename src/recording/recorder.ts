import type { PriceBook } from "../pricing/price-book.ts";
import type { Endpoint, ResponseFacts } from "../providers/contract.ts";
import { readPromptPreview } from "../providers/prompt-preview.ts";
import { providerById, type ProviderLookup } from "../providers/registry.ts";
import { readWholeBody } from "../observe/response-observer.ts";
import type { RequestRecord } from "../record.ts";
import type { CallTelemetry } from "../sinks/otlp/call-telemetry.ts";
import { buildRecord, priceCall, type CallSummary } from "./build-record.ts";
import type { CallEvent } from "./call-event.ts";
import { redactDeep, redactOptional, redactSecrets } from "./redact-secrets.ts";
import { stringifyWellFormed } from "./well-formed-json.ts";

/** A call's record, and what its spans and metrics need beyond it (when telemetry is on). */
export interface Recorded {
  record: RequestRecord;
  telemetry?: CallTelemetry | undefined;
}

/**
 * The one record maker: a call event (and the response body that follows it,
 * if any) → usage → cost → record, plus the call's telemetry. Pure: the same
 * event and price book always give the same record, wherever it runs (the
 * recording worker, replay at start, `loupe sql` on a crashed journal).
 * Never throws for a bad body: a call is recorded whatever its body says;
 * `problems` say what could not be read. `findProvider` knows the providers
 * the gateway's config declared (provider-snapshot.ts) besides the registered ones.
 * Secrets are masked here (redact-secrets.ts), in every text a record or a
 * span carries, so the DuckDB file, the API, exports and spans never hold one;
 * only the journal, until this runs, does.
 */
export function recordCall(
  event: CallEvent,
  body: Uint8Array | undefined,
  priceBook: PriceBook,
  findProvider: ProviderLookup = providerById,
): { recorded: Recorded; problems: string[] } {
  // A routed call's answer is the target's: read and priced as that provider's.
  const provider = findProvider(event.routedProvider ?? event.provider);
  const endpoint: Endpoint | undefined = provider?.endpoint(event.method, event.upstreamPath);
  let response: ResponseFacts = event.response ?? {};
  let responseBody = event.responseBody;
  let outputContent = event.telemetry?.outputContent;
  let problems: string[] = [];
  if (body) {
    const read = readWholeBody(endpoint, body, { encoding: event.encoding ?? null, captureBytes: event.captureBytes ?? 0, captureContent: event.telemetry?.captureContent === true });
    response = read.facts;
    responseBody = read.body;
    outputContent = read.content ?? outputContent;
    problems = read.problems;
  }
  // The provider's own error type, when the call failed and Loupe had nothing to say of its own.
  const errorType = event.errorType ?? (event.status >= 400 ? (response.errorType ?? `http_${event.status}`) : undefined);
  // The preview is read from the redacted body: a key cut at its 200th character would escape the patterns.
  const requestBody = redactOptional(event.requestBody);
  const summary: CallSummary = {
    ...event,
    path: redactSecrets(event.path),
    requestBody,
    errorMessage: redactOptional(event.errorMessage),
    pricingProvider: provider?.pricingId ?? event.routedProvider ?? event.provider,
    freeUnlessPriced: provider?.freeUnlessPriced,
    endpoint,
    response: redactResponse(response),
    responseBody: redactOptional(responseBody),
    errorType,
    promptPreview: event.logBody === "full" && requestBody ? readPromptPreview(endpoint, requestBody) : undefined,
  };
  const record = buildRecord(summary, priceCall(summary, priceBook), event.traceId);
  const t = event.telemetry;
  const telemetry: CallTelemetry | undefined = t && {
    endTime: t.endTime,
    spans: t.spans?.attempts ? { ...t.spans, attempts: t.spans.attempts.map((a) => ({ ...a, genAiProvider: findProvider(a.provider)?.genAiProvider ?? a.provider })) } : t.spans,
    details: {
      genAiProvider: provider?.genAiProvider ?? event.provider,
      serverAddress: t.serverAddress,
      serverPort: t.serverPort,
      params: event.request.params,
      responseId: response.responseId,
      requestContent: redactDeep(t.requestContent),
      outputContent: redactDeep(outputContent),
    },
  };
  return { recorded: { record, telemetry }, problems };
}

/** The response's texts a record keeps: the provider's error message and its raw usage object. */
function redactResponse(response: ResponseFacts): ResponseFacts {
  if (response.errorMessage === undefined && response.usageRaw === undefined) return response;
  return { ...response, errorMessage: redactOptional(response.errorMessage), usageRaw: redactDeep(response.usageRaw) };
}

/** A record's line in a record segment: the record's columns, with its telemetry under `telemetry` (no column has that name). */
export function recordedLine({ record, telemetry }: Recorded): string {
  return stringifyWellFormed(telemetry ? { ...record, telemetry } : record);
}

/**
 * Turns journal lines and entries into record lines, for a record segment.
 * A line that is not an event is a record an earlier version journaled: it
 * passes as it is. A head that is not JSON (a damaged journal) gives no line;
 * a body that cannot be read still gives its call's record, without usage.
 */
export function createRecorder(priceBook: PriceBook, onProblem: (message: string) => void, findProvider: ProviderLookup = providerById) {
  function record(event: CallEvent, body: Uint8Array | undefined): string {
    try {
      const { recorded, problems } = recordCall(event, body, priceBook, findProvider);
      if (problems.length) onProblem(`response ${event.id}: ${problems.join("; ")}`);
      return recordedLine(recorded);
    } catch (error) {
      onProblem(`record ${event.id} made without its response: ${(error as Error).message}`);
      return recordedLine(recordCall({ ...event, response: {} }, undefined, priceBook, findProvider).recorded);
    }
  }
  return {
    /** One journal line (an event, or an earlier version's record). */
    line(text: string): string {
      const parsed = parseHead(text, onProblem);
      if (!parsed) return "";
      if (isEvent(parsed)) return record(parsed, undefined);
      // An earlier version's record: as it was (its secrets masked), with `billable` by the rule DuckDB's migration uses (duckdb-store.ts).
      return redactSecrets("billable" in parsed ? text : JSON.stringify({ ...parsed, billable: parsed.cost_source !== "free" }));
    },
    /** One journal entry: an event and the response body that follows it. */
    entry(head: string, body: Uint8Array): string {
      const parsed = parseHead(head, onProblem);
      if (!parsed) return "";
      return record(isEvent(parsed) ? parsed : fromEarlierHead(parsed), body);
    },
  };
}

export type Recorder = ReturnType<typeof createRecorder>;

function parseHead(text: string, onProblem: (message: string) => void): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    throw new Error("not an object");
  } catch (error) {
    onProblem(`journal line skipped, it is not JSON: ${(error as Error).message}`);
    return undefined;
  }
}

const isEvent = (value: Record<string, unknown>): value is CallEvent & Record<string, unknown> => value.event === 2;

/**
 * The head of an entry written by the version before call events (a
 * "deferred call"): the same facts, its telemetry under `otel` with the
 * details already made. Kept so that a journal a crash left behind across an
 * upgrade is still recorded.
 */
function fromEarlierHead(head: Record<string, unknown>): CallEvent {
  const otel = head.otel as { endTime: number; spans?: CallTelemetry["spans"]; details: CallTelemetry["details"] } | undefined;
  return {
    ...(head as unknown as CallEvent),
    event: 2,
    telemetry: otel && {
      endTime: otel.endTime,
      spans: otel.spans,
      serverAddress: otel.details.serverAddress,
      serverPort: otel.details.serverPort,
      requestContent: otel.details.requestContent,
    },
  };
}
