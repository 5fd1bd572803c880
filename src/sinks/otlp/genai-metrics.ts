import type { RequestRecord } from "../../record.ts";
import { describeMetricAttributes, type CallDetails } from "./genai-span.ts";
import type { Attributes } from "./otlp-common.ts";
import { createPoint, recordValue, type Histogram, type HistogramPoint, type MetricsSnapshot } from "./otlp-metrics.ts";

/** The GenAI client metrics (gen-ai-metrics.md), with the bucket boundaries it recommends. */
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

const DURATION: Histogram = { name: "gen_ai.client.operation.duration", description: "GenAI operation duration", unit: "s", bounds: DURATION_BUCKETS };
const TOKENS: Histogram = { name: "gen_ai.client.token.usage", description: "Number of input and output tokens used", unit: "{token}", bounds: TOKEN_BUCKETS };
const FIRST_CHUNK: Histogram = {
  name: "gen_ai.client.operation.time_to_first_chunk",
  description: "Time to receive the first chunk of a streamed response",
  unit: "s",
  bounds: DURATION_BUCKETS,
};

/** The points of one attribute set (provider × model × error …), made on first use. */
interface Series {
  attributes: Attributes;
  duration?: HistogramPoint;
  firstChunk?: HistogramPoint;
  input?: HistogramPoint;
  output?: HistogramPoint;
}

// The SDK's default cardinality limit; later sets share one overflow series (metrics/sdk.md "Cardinality limits").
const MAX_SERIES = 2000;
const OVERFLOW: Attributes = { "otel.metric.overflow": true };

export interface GenAiMetrics {
  record(record: RequestRecord, details: CallDetails): void;
  snapshot(time: number): MetricsSnapshot;
}

export function createGenAiMetrics(startTime: number): GenAiMetrics {
  const series = new Map<string, Series>();
  let overflow: Series | undefined;

  function seriesFor(attributes: Record<string, string | number>): Series {
    // The attribute sets repeat: a flat key finds the set. JSON.stringify is native and gives a flat
    // string, which hashes at half the cost of one concatenated in JS (a rope).
    const key = JSON.stringify(attributes);
    let found = series.get(key);
    if (found) return found;
    if (series.size >= MAX_SERIES) return (overflow ??= { attributes: OVERFLOW });
    found = { attributes };
    series.set(key, found);
    return found;
  }

  const point = (histogram: Histogram, attributes: Attributes) => createPoint(histogram, attributes);

  return {
    record(record, details) {
      const s = seriesFor(describeMetricAttributes(record, details));
      recordValue(DURATION, (s.duration ??= point(DURATION, s.attributes)), record.duration_ms / 1000);
      if (record.input_tokens !== null) recordValue(TOKENS, (s.input ??= point(TOKENS, { ...s.attributes, "gen_ai.token.type": "input" })), Number(record.input_tokens));
      if (record.output_tokens !== null) recordValue(TOKENS, (s.output ??= point(TOKENS, { ...s.attributes, "gen_ai.token.type": "output" })), Number(record.output_tokens));
      if (record.streamed && record.ttfb_ms !== null) recordValue(FIRST_CHUNK, (s.firstChunk ??= point(FIRST_CHUNK, s.attributes)), record.ttfb_ms / 1000);
    },
    snapshot(time) {
      const all = overflow ? [...series.values(), overflow] : [...series.values()];
      const collect = (pick: (s: Series) => HistogramPoint | undefined) => all.map(pick).filter((p) => p !== undefined);
      return {
        startTime,
        time,
        histograms: [
          { histogram: DURATION, points: collect((s) => s.duration) },
          { histogram: TOKENS, points: [...collect((s) => s.input), ...collect((s) => s.output)] },
          { histogram: FIRST_CHUNK, points: collect((s) => s.firstChunk) },
        ],
      };
    },
  };
}
