import type { SamplerKind } from "./otel-config.ts";
import type { TraceParent } from "./trace-context.ts";

/**
 * The OTEL_TRACES_SAMPLER samplers (opentelemetry.io/docs/specs/otel/trace/sdk/#built-in-samplers):
 * whether the trace `traceId` is recorded, given the caller's context if any.
 */
export type Sampler = (traceId: string, parent: TraceParent | undefined) => boolean;

export function createSampler(kind: SamplerKind, ratio: number): Sampler {
  switch (kind) {
    case "always_on":
      return () => true;
    case "always_off":
      return () => false;
    case "traceidratio":
      return traceIdRatio(ratio);
    case "parentbased_always_on":
      return (_, parent) => parent?.sampled ?? true;
    case "parentbased_always_off":
      return (_, parent) => parent?.sampled ?? false;
    case "parentbased_traceidratio": {
      const root = traceIdRatio(ratio);
      return (traceId, parent) => (parent ? parent.sampled : root(traceId));
    }
  }
}

const TWO_32 = 2 ** 32;

/**
 * Samples when the trace id's low 8 bytes, read as an unsigned integer, are
 * below ratio × 2^64: deterministic per trace, so every service that uses this
 * rule with the same ratio keeps the same traces (W3C random trace ids make
 * those bytes uniform). Compared in 32-bit halves to stay exact.
 */
export function traceIdRatio(ratio: number): (traceId: string) => boolean {
  if (ratio >= 1) return () => true;
  if (!(ratio > 0)) return () => false;
  const bound = ratio * 2 ** 64;
  const boundHigh = Math.floor(bound / TWO_32);
  const boundLow = bound - boundHigh * TWO_32;
  return (traceId) => {
    const high = parseInt(traceId.slice(16, 24), 16);
    return high < boundHigh || (high === boundHigh && parseInt(traceId.slice(24, 32), 16) < boundLow);
  };
}
