import type { PriceBook } from "../pricing/price-book.ts";
import { providers } from "../providers/registry.ts";
import type { ProviderAdapter } from "../providers/contract.ts";
import { recordLine } from "./journal-writer.ts";
import type { CallTelemetry } from "../telemetry/call-tracer.ts";
import { buildRecord, callError, priceCall, type CallSummary } from "./build-record.ts";
import { createResponseObserver } from "../observe/response-observer.ts";

/**
 * A non-streamed call whose record is made later, off the request path: all
 * the proxy knew when the response went out, as JSON. It is journaled with
 * the response body beside it (journal.ts), and the store makes the record
 * from the two before loading it (`completeRecord`). Reading usage, pricing
 * and building the record then run at storage's (background) priority, not
 * while calls wait; the record is the same as if it had been made at once.
 */
export interface DeferredCall extends Omit<CallSummary, "endpoint" | "response" | "responseBody"> {
  /** The upstream path without its query: with `method`, it finds the endpoint again. */
  upstreamPath: string;
  /** The response's content-encoding (the body is kept as it was forwarded). */
  encoding: string | null;
  /** How much of the decoded response body the record keeps (`log_body` full), 0 for none. */
  captureBytes: number;
  traceId: string | undefined;
  /** Telemetry's part, its response id still to fill in. */
  otel: CallTelemetry | undefined;
}

const adapters = providers as Record<string, ProviderAdapter>;

/**
 * The journal line (record JSON, with its `otel` part if any) of a deferred
 * call, made from its head and response body exactly as the proxy makes a
 * record at once; `problems` are what could not be read (the record is made
 * anyway). Never throws for a bad body: a call is recorded whatever its body says.
 */
export function completeRecord(call: DeferredCall, body: Uint8Array, priceBook: PriceBook): { line: string; problems: string[] } {
  const endpoint = adapters[call.provider]?.endpoint(call.method, call.upstreamPath);
  const observer = createResponseObserver({ endpoint, kind: "json", encoding: call.encoding, captureBytes: call.captureBytes });
  observer.feed(body);
  const observed = observer.finish();
  const response = observed.facts;
  const summary: CallSummary = { ...call, endpoint, response, responseBody: observed.body, ...callError({ kind: "complete" }, call.status, response) };
  const record = buildRecord(summary, priceCall(summary, priceBook), call.traceId);
  if (call.otel) call.otel.details.responseId = response.responseId;
  return { line: recordLine(record, call.otel), problems: observed.problems };
}

/**
 * Completes journal entries (head JSON + body) into record lines, for the
 * store. A head that is not JSON (a damaged journal) gives no line; a body
 * that cannot be read still gives its call's record, without usage.
 */
export function createRecordCompleter(priceBook: PriceBook, onProblem: (message: string) => void): (head: string, body: Uint8Array) => string {
  return (head, body) => {
    let call: DeferredCall;
    try {
      call = JSON.parse(head) as DeferredCall;
    } catch (error) {
      onProblem(`journal entry skipped, its head is not JSON: ${(error as Error).message}`);
      return "";
    }
    try {
      const { line, problems } = completeRecord(call, body, priceBook);
      if (problems.length) onProblem(`response ${call.id}: ${problems.join("; ")}`);
      return line;
    } catch (error) {
      onProblem(`record ${call.id} made without its response: ${(error as Error).message}`);
      return completeRecord(call, new Uint8Array(0), priceBook).line;
    }
  };
}
