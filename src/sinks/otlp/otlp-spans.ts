import { CONTENT_TYPES, jsonAttributes, jsonUnixNanos, writeAttributes, writeUnixNanos, type Attributes, type OtlpProtocol, type Origin } from "./otlp-common.ts";
import { ProtobufWriter, varintSize } from "./protobuf-writer.ts";

/**
 * A batch of finished spans as an OTLP ExportTraceServiceRequest
 * (opentelemetry-proto trace/v1/trace.proto, collector/trace/v1/trace_service.proto).
 * Each span is encoded when it is added; `take()` only wraps the batch in
 * its ResourceSpans and ScopeSpans.
 */

/** Span.SpanKind */
export const SPAN_KIND = { server: 2, client: 3 } as const;
/** Status.StatusCode */
export const STATUS_ERROR = 2;
/** SpanFlags: bits 0–7 are the W3C trace flags; bit 8 says bit 9 (parent is remote) is known. */
export const SPAN_FLAGS_HAS_IS_REMOTE = 0x100;
export const SPAN_FLAGS_IS_REMOTE = 0x200;

export interface FinishedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  traceState: string | undefined;
  flags: number;
  name: string;
  kind: number;
  /** Milliseconds since the epoch. */
  startTime: number;
  endTime: number;
  attributes: Attributes;
  /** Set only for an error (the only status Loupe reports). */
  error: { message: string | undefined } | undefined;
}

export interface SpanBatch {
  readonly contentType: string;
  /** Spans added since the last `take()`. */
  readonly spans: number;
  /** Their encoded size so far. */
  readonly bytes: number;
  add(span: FinishedSpan): void;
  /** The request body for the spans added so far; the batch starts over empty. */
  take(): Uint8Array;
}

export function createSpanBatch(protocol: OtlpProtocol, origin: Origin): SpanBatch {
  return protocol === "http/json" ? createJsonSpanBatch(origin) : createProtobufSpanBatch(origin);
}

function createProtobufSpanBatch(origin: Origin): SpanBatch {
  const w = new ProtobufWriter(256 * 1024);
  let spans = 0;
  const { resource, scope } = origin.protobuf;
  return {
    contentType: CONTENT_TYPES["http/protobuf"],
    get spans() {
      return spans;
    },
    get bytes() {
      return w.pos;
    },
    add(span) {
      const mark = w.open(2); // ScopeSpans.spans
      w.hexBytes(1, span.traceId);
      w.hexBytes(2, span.spanId);
      if (span.traceState) w.string(3, span.traceState);
      if (span.parentSpanId) w.hexBytes(4, span.parentSpanId);
      w.string(5, span.name);
      w.uint32(6, span.kind);
      writeUnixNanos(w, 7, span.startTime);
      writeUnixNanos(w, 8, span.endTime);
      writeAttributes(w, 9, span.attributes);
      if (span.error) {
        const status = w.open(15);
        if (span.error.message) w.string(2, span.error.message);
        w.uint32(3, STATUS_ERROR);
        w.close(status);
      }
      w.fixed32(16, span.flags);
      w.close(mark);
      spans++;
    },
    take() {
      const spansBytes = w.bytes();
      const scopeSpans = 1 + varintSize(scope.length) + scope.length + spansBytes.length;
      const resourceSpans = 1 + varintSize(resource.length) + resource.length + 1 + varintSize(scopeSpans) + scopeSpans;
      const head = new ProtobufWriter(32 + resource.length + scope.length);
      head.tag(1, 2); // ExportTraceServiceRequest.resource_spans
      head.varint(resourceSpans);
      head.lengthDelimited(1, resource); // ResourceSpans.resource
      head.tag(2, 2); // ResourceSpans.scope_spans
      head.varint(scopeSpans);
      head.lengthDelimited(1, scope); // ScopeSpans.scope
      // Not zero-filled: every byte is written just below.
      const body = new Uint8Array(Buffer.allocUnsafeSlow(head.pos + spansBytes.length).buffer);
      body.set(head.bytes());
      body.set(spansBytes, head.pos); // ScopeSpans.spans, each already tagged
      w.reset();
      spans = 0;
      return body;
    },
  };
}

function createJsonSpanBatch(origin: Origin): SpanBatch {
  let parts: string[] = [];
  let bytes = 0;
  const head = `{"resourceSpans":[{"resource":${origin.json.resource},"scopeSpans":[{"scope":${origin.json.scope},"spans":[`;
  return {
    contentType: CONTENT_TYPES["http/json"],
    get spans() {
      return parts.length;
    },
    get bytes() {
      return bytes;
    },
    add(span) {
      let json = `{"traceId":"${span.traceId}","spanId":"${span.spanId}"`;
      if (span.traceState) json += `,"traceState":${JSON.stringify(span.traceState)}`;
      if (span.parentSpanId) json += `,"parentSpanId":"${span.parentSpanId}"`;
      json += `,"flags":${span.flags},"name":${JSON.stringify(span.name)},"kind":${span.kind}`;
      json += `,"startTimeUnixNano":"${jsonUnixNanos(span.startTime)}","endTimeUnixNano":"${jsonUnixNanos(span.endTime)}"`;
      json += `,"attributes":${jsonAttributes(span.attributes)}`;
      if (span.error) json += `,"status":{${span.error.message ? `"message":${JSON.stringify(span.error.message)},` : ""}"code":${STATUS_ERROR}}`;
      json += "}";
      parts.push(json);
      bytes += json.length;
    },
    take() {
      const body = new TextEncoder().encode(`${head}${parts.join(",")}]}]}]}`);
      parts = [];
      bytes = 0;
      return body;
    },
  };
}
