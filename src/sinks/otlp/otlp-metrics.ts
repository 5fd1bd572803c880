import { jsonAttributes, jsonDouble, jsonUnixNanos, writeAttributes, writeUnixNanos, type Attributes, type OtlpProtocol, type Origin } from "./otlp-common.ts";
import { ProtobufWriter } from "./protobuf-writer.ts";

/**
 * Cumulative explicit-bucket histograms (opentelemetry.io/docs/specs/otel/metrics/data-model/#histogram)
 * and their ExportMetricsServiceRequest (opentelemetry-proto metrics/v1/metrics.proto).
 */

export interface HistogramPoint {
  readonly attributes: Attributes;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** One more than the bounds: bucket i holds bounds[i-1] < value ≤ bounds[i]. */
  readonly bucketCounts: number[];
}

export interface Histogram {
  name: string;
  description: string;
  unit: string;
  bounds: readonly number[];
}

export function createPoint(histogram: Histogram, attributes: Attributes): HistogramPoint {
  return { attributes, count: 0, sum: 0, min: Infinity, max: -Infinity, bucketCounts: new Array<number>(histogram.bounds.length + 1).fill(0) };
}

export function recordValue(histogram: Histogram, point: HistogramPoint, value: number): void {
  const bounds = histogram.bounds;
  let bucket = 0;
  while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
  point.bucketCounts[bucket]!++;
  point.count++;
  point.sum += value;
  if (value < point.min) point.min = value;
  if (value > point.max) point.max = value;
}

export interface MetricsSnapshot {
  /** When the cumulative counts started, and when they were read (ms since the epoch). */
  startTime: number;
  time: number;
  histograms: { histogram: Histogram; points: HistogramPoint[] }[];
}

/** AggregationTemporality */
const CUMULATIVE = 2;

export function encodeMetrics(protocol: OtlpProtocol, origin: Origin, snapshot: MetricsSnapshot): Uint8Array {
  return protocol === "http/json" ? new TextEncoder().encode(jsonMetrics(origin, snapshot)) : protobufMetrics(origin, snapshot);
}

function protobufMetrics(origin: Origin, { startTime, time, histograms }: MetricsSnapshot): Uint8Array {
  const w = new ProtobufWriter(16 * 1024);
  const resourceMetrics = w.open(1);
  w.lengthDelimited(1, origin.protobuf.resource);
  const scopeMetrics = w.open(2);
  w.lengthDelimited(1, origin.protobuf.scope);
  for (const { histogram, points } of histograms) {
    if (points.length === 0) continue;
    const metric = w.open(2);
    w.string(1, histogram.name);
    w.string(2, histogram.description);
    w.string(3, histogram.unit);
    const data = w.open(9); // Metric.histogram
    for (const point of points) {
      const dataPoint = w.open(1);
      writeUnixNanos(w, 2, startTime);
      writeUnixNanos(w, 3, time);
      w.fixed64Number(4, point.count);
      w.double(5, point.sum);
      const counts = w.open(6); // packed
      for (const count of point.bucketCounts) w.rawFixed64(Math.floor(count / 2 ** 32), count % 2 ** 32);
      w.close(counts);
      const bounds = w.open(7); // packed
      for (const bound of histogram.bounds) w.rawDouble(bound);
      w.close(bounds);
      writeAttributes(w, 9, point.attributes);
      w.double(11, point.min);
      w.double(12, point.max);
      w.close(dataPoint);
    }
    w.uint32(2, CUMULATIVE);
    w.close(data);
    w.close(metric);
  }
  w.close(scopeMetrics);
  w.close(resourceMetrics);
  return w.bytes();
}

function jsonMetrics(origin: Origin, { startTime, time, histograms }: MetricsSnapshot): string {
  const start = jsonUnixNanos(startTime);
  const now = jsonUnixNanos(time);
  const metrics = histograms
    .filter(({ points }) => points.length > 0)
    .map(({ histogram, points }) => {
      const dataPoints = points.map(
        (point) =>
          `{"attributes":${jsonAttributes(point.attributes)},"startTimeUnixNano":"${start}","timeUnixNano":"${now}","count":"${point.count}",` +
          `"sum":${jsonDouble(point.sum)},"bucketCounts":[${point.bucketCounts.map((n) => `"${n}"`).join(",")}],` +
          `"explicitBounds":[${histogram.bounds.map(jsonDouble).join(",")}],"min":${jsonDouble(point.min)},"max":${jsonDouble(point.max)}}`,
      );
      return (
        `{"name":${JSON.stringify(histogram.name)},"description":${JSON.stringify(histogram.description)},"unit":${JSON.stringify(histogram.unit)},` +
        `"histogram":{"dataPoints":[${dataPoints.join(",")}],"aggregationTemporality":${CUMULATIVE}}}`
      );
    });
  return `{"resourceMetrics":[{"resource":${origin.json.resource},"scopeMetrics":[{"scope":${origin.json.scope},"metrics":[${metrics.join(",")}]}]}]}`;
}
