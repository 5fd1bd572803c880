import type { AttemptOutcome, AttemptSpanIds, CallSpanIds, CallTrace, CallTracer } from "./call-tracer.ts";
import type { TelemetryConfig } from "./otel-config.ts";
import { createSampler } from "./sampler.ts";
import { formatTraceparent, parseTraceparent, type TraceParent } from "./trace-context.ts";
import { createIdGenerator, type IdGenerator } from "./trace-ids.ts";

/** The proxy's half: trace context in, `traceparent` out, and what the export will need. */
export function createCallTracer(config: TelemetryConfig): CallTracer {
  const ids = createIdGenerator();
  const sample = createSampler(config.sampler.kind, config.sampler.ratio);
  return {
    captureContent: config.captureContent,
    begin({ method, path, traceparent, tracestate: givenState, startTime }): CallTrace {
      const parent = parseTraceparent(traceparent);
      if (!config.traces) return new UntracedCall(parent?.traceId);
      const traceId = parent?.traceId ?? ids.traceId();
      const tracestate = parent ? (givenState?.trim() ?? "") : "";
      return new TracedCall(ids, {
        traceId,
        parent,
        traceState: tracestate || undefined,
        sampled: sample(traceId, parent),
        method,
        path: path.includes("?") ? path.slice(0, path.indexOf("?")) : path,
        startTime,
      });
    },
  };
}

interface ServerSpan {
  traceId: string;
  parent: TraceParent | undefined;
  traceState: string | undefined;
  sampled: boolean;
  method: string;
  path: string;
  startTime: number;
}

/**
 * Tracing on: the SERVER span is open from `begin`, each attempt's CLIENT
 * span from `startUpstream`; failed attempts are kept only when sampled.
 */
class TracedCall implements CallTrace {
  readonly traceId: string;
  private readonly spanId: string;
  private clientSpanId: string | undefined;
  private clientStart = 0;
  private attempts: AttemptSpanIds[] | undefined;

  constructor(
    private readonly ids: IdGenerator,
    private readonly server: ServerSpan,
  ) {
    this.traceId = server.traceId;
    this.spanId = ids.spanId();
  }

  startUpstream(startTime: number): Record<string, string> {
    this.clientSpanId = this.ids.spanId();
    this.clientStart = startTime;
    const headers: Record<string, string> = { traceparent: formatTraceparent(this.traceId, this.clientSpanId, this.server.sampled) };
    if (this.server.traceState) headers.tracestate = this.server.traceState;
    return headers;
  }

  failUpstream(outcome: AttemptOutcome, endTime: number): void {
    const spanId = this.clientSpanId;
    this.clientSpanId = undefined;
    if (spanId === undefined || !this.server.sampled) return;
    (this.attempts ??= []).push({ spanId, start: this.clientStart, end: endTime, ...outcome });
  }

  finish(): CallSpanIds | undefined {
    const { server } = this;
    if (!server.sampled) return undefined;
    const ids: CallSpanIds = {
      traceId: this.traceId,
      spanId: this.spanId,
      parentSpanId: server.parent?.spanId,
      traceState: server.traceState,
      clientSpanId: this.clientSpanId,
      clientStart: this.clientStart,
      serverStart: server.startTime,
      method: server.method,
      path: server.path,
    };
    if (this.attempts) ids.attempts = this.attempts;
    return ids;
  }
}

/** Tracing off (metrics only): the caller's trace id for the record, its traceparent left as it came. */
class UntracedCall implements CallTrace {
  constructor(readonly traceId: string | undefined) {}

  startUpstream(): Record<string, string> {
    return {};
  }

  failUpstream(): void {}

  finish(): undefined {
    return undefined;
  }
}

