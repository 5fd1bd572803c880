// A real OTLP/HTTP receiver for tests: listens on loopback, accepts what the official
// OpenTelemetry JS exporters send (protobuf or JSON, gzip or identity) on /v1/traces and
// /v1/metrics, and decodes every request into plain objects that are easy to assert on.
//
// Protobuf is decoded with protobufjs against the opentelemetry-proto v1 schema below
// (only the messages and fields Loupe can emit; unknown fields are skipped). OTLP/JSON is
// read per the OTLP JSON mapping: trace/span ids are hex, bytes are base64, enums may be
// integers or names, 64-bit integers may be strings or numbers, keys are lowerCamelCase
// (snake_case is accepted too). Both encodings go through the same normalizer.
import protobuf from "protobufjs";

export type SpanKindName = "INTERNAL" | "SERVER" | "CLIENT" | "PRODUCER" | "CONSUMER" | "UNSPECIFIED";
export type StatusCodeName = "UNSET" | "OK" | "ERROR";

export interface ReceivedSpanEvent {
  name: string;
  timeUnixNano: bigint;
  attributes: Record<string, unknown>;
}

export interface ReceivedSpanLink {
  traceId: string;
  spanId: string;
  attributes: Record<string, unknown>;
}

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: SpanKindName;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  /** AnyValue flattened: string, number (int64 → number), boolean, arrays as JS arrays, kvlists as objects, bytes as Uint8Array. */
  attributes: Record<string, unknown>;
  status: { code: StatusCodeName; message?: string };
  resource: Record<string, unknown>;
  scope: { name: string; version?: string };
  events: ReceivedSpanEvent[];
  links: ReceivedSpanLink[];
  traceState?: string;
}

export interface ReceivedMetricPoint {
  metric: string;
  unit: string;
  description: string;
  type: "histogram" | "sum" | "gauge";
  attributes: Record<string, unknown>;
  /** histogram */
  count?: number;
  sum?: number;
  min?: number;
  max?: number;
  bucketCounts?: number[];
  explicitBounds?: number[];
  /** sum / gauge (asInt or asDouble) */
  value?: number;
  /** sum */
  isMonotonic?: boolean;
  /** histogram / sum */
  temporality?: "DELTA" | "CUMULATIVE" | "UNSPECIFIED";
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  resource: Record<string, unknown>;
  scope: { name: string; version?: string };
}

export interface ReceivedRequest {
  path: string;
  /** media type without parameters, e.g. "application/x-protobuf" */
  contentType: string;
  /** Content-Encoding, "identity" when absent */
  encoding: string;
  headers: Headers;
  /** body size on the wire (before gunzip) */
  bodyBytes: number;
  /** HTTP status the receiver answered */
  status: number;
  /** why the request was rejected (decode error, unsupported type, ...) */
  error?: string;
  /** the body as decoded, before normalizing (protobufjs toObject or parsed JSON): to check how a value was encoded, e.g. intValue or doubleValue */
  decoded?: unknown;
}

export interface OtlpReceiver {
  /** http://127.0.0.1:PORT — the base; exporters configured with `url` need `${url}/v1/traces` etc. */
  url: string;
  spans: ReceivedSpan[];
  metrics: ReceivedMetricPoint[];
  requests: ReceivedRequest[];
  waitForSpans(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  waitForMetrics(predicate: (points: ReceivedMetricPoint[]) => boolean, timeoutMs?: number): Promise<ReceivedMetricPoint[]>;
  /** Answer every request with this status (e.g. 503) instead of 200; null = normal. Failed requests are still recorded in `requests` but not decoded into spans/metrics. */
  failWith(status: number | null): void;
  /** Forget everything received so far. */
  reset(): void;
  stop(): Promise<void>;
}

const OTLP_PROTO = `
syntax = "proto3";
package otlp;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
message Resource {
  repeated KeyValue attributes = 1;
  uint32 dropped_attributes_count = 2;
}

message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans {
  Resource resource = 1;
  repeated ScopeSpans scope_spans = 2;
  string schema_url = 3;
}
message ScopeSpans {
  InstrumentationScope scope = 1;
  repeated Span spans = 2;
  string schema_url = 3;
}
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  uint32 dropped_attributes_count = 10;
  repeated Event events = 11;
  uint32 dropped_events_count = 12;
  repeated Link links = 13;
  uint32 dropped_links_count = 14;
  Status status = 15;
  fixed32 flags = 16;
  message Event {
    fixed64 time_unix_nano = 1;
    string name = 2;
    repeated KeyValue attributes = 3;
    uint32 dropped_attributes_count = 4;
  }
  message Link {
    bytes trace_id = 1;
    bytes span_id = 2;
    string trace_state = 3;
    repeated KeyValue attributes = 4;
    uint32 dropped_attributes_count = 5;
    fixed32 flags = 6;
  }
}
message Status {
  string message = 2;
  int32 code = 3;
}

message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ResourceMetrics {
  Resource resource = 1;
  repeated ScopeMetrics scope_metrics = 2;
  string schema_url = 3;
}
message ScopeMetrics {
  InstrumentationScope scope = 1;
  repeated Metric metrics = 2;
  string schema_url = 3;
}
message Metric {
  string name = 1;
  string description = 2;
  string unit = 3;
  oneof data {
    Gauge gauge = 5;
    Sum sum = 7;
    Histogram histogram = 9;
  }
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum {
  repeated NumberDataPoint data_points = 1;
  int32 aggregation_temporality = 2;
  bool is_monotonic = 3;
}
message Histogram {
  repeated HistogramDataPoint data_points = 1;
  int32 aggregation_temporality = 2;
}
message NumberDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  oneof value {
    double as_double = 4;
    sfixed64 as_int = 6;
  }
  uint32 flags = 8;
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  optional double sum = 5;
  repeated fixed64 bucket_counts = 6;
  repeated double explicit_bounds = 7;
  uint32 flags = 10;
  optional double min = 11;
  optional double max = 12;
}
`;

const protoRoot = protobuf.parse(OTLP_PROTO).root;
const TraceRequest = protoRoot.lookupType("otlp.ExportTraceServiceRequest");
const MetricsRequest = protoRoot.lookupType("otlp.ExportMetricsServiceRequest");

/** protobuf bytes → number[] (then hex / Uint8Array in the normalizer), 64-bit → decimal strings: the same shapes OTLP/JSON uses, so one normalizer serves both. */
function decodeProtobuf(type: protobuf.Type, body: Uint8Array): unknown {
  return type.toObject(type.decode(body), { longs: String, bytes: Array, defaults: false, arrays: false });
}

// ---------------------------------------------------------------------------------------
// normalizer (input: protobufjs toObject output or parsed OTLP/JSON, both lowerCamelCase)

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Field by its lowerCamelCase name, falling back to the proto (snake_case) name. */
function field(obj: unknown, key: string): unknown {
  if (!isObj(obj)) return undefined;
  if (key in obj) return obj[key];
  const alt = snake(key);
  return alt in obj ? obj[alt] : undefined;
}

function has(obj: Obj, key: string): boolean {
  return key in obj || snake(key) in obj;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function num(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" || typeof value === "bigint") return Number(value);
  return 0;
}

function optNum(value: unknown): number | undefined {
  return value === undefined || value === null ? undefined : num(value);
}

function big(value: unknown): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "string" && value !== "") return BigInt(value);
  if (typeof value === "number") return BigInt(Math.trunc(value));
  return 0n;
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return Uint8Array.from(value.map(num));
  if (typeof value === "string") return Uint8Array.from(Buffer.from(value, "base64"));
  return new Uint8Array();
}

/** Trace/span ids: hex in OTLP/JSON, bytes in protobuf. Empty → "". */
function id(value: unknown): string {
  if (typeof value === "string") return value.toLowerCase();
  return Buffer.from(toBytes(value)).toString("hex");
}

export function flattenAnyValue(value: unknown): unknown {
  if (!isObj(value)) return undefined;
  if (has(value, "stringValue")) return str(field(value, "stringValue"));
  if (has(value, "boolValue")) return field(value, "boolValue") === true;
  if (has(value, "intValue")) return num(field(value, "intValue"));
  if (has(value, "doubleValue")) return num(field(value, "doubleValue"));
  if (has(value, "arrayValue")) return list(field(field(value, "arrayValue"), "values")).map(flattenAnyValue);
  if (has(value, "kvlistValue")) return flattenAttributes(field(field(value, "kvlistValue"), "values"));
  if (has(value, "bytesValue")) return toBytes(field(value, "bytesValue"));
  return undefined;
}

export function flattenAttributes(keyValues: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list(keyValues)) out[str(field(kv, "key"))] = flattenAnyValue(field(kv, "value"));
  return out;
}

function scopeOf(scope: unknown): { name: string; version?: string } {
  const version = str(field(scope, "version"));
  return version ? { name: str(field(scope, "name")), version } : { name: str(field(scope, "name")) };
}

const SPAN_KINDS: SpanKindName[] = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"];
const STATUS_CODES: StatusCodeName[] = ["UNSET", "OK", "ERROR"];
const TEMPORALITIES = ["UNSPECIFIED", "DELTA", "CUMULATIVE"] as const;

/** Enum given as number (protobuf, JSON) or as its proto name (JSON), e.g. "SPAN_KIND_SERVER". */
function enumName<T extends string>(value: unknown, names: readonly T[], prefix: string): T {
  if (typeof value === "string") {
    const bare = value.startsWith(prefix) ? value.slice(prefix.length) : value;
    const found = names.find((n) => n === bare);
    if (found) return found;
    if (/^\d+$/.test(value)) return names[Number(value)] ?? names[0]!;
    throw new Error(`unknown ${prefix}* enum value ${JSON.stringify(value)}`);
  }
  return names[num(value)] ?? names[0]!;
}

export function normalizeTraces(request: unknown): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of list(field(request, "resourceSpans"))) {
    const resource = flattenAttributes(field(field(rs, "resource"), "attributes"));
    for (const ss of list(field(rs, "scopeSpans"))) {
      const scope = scopeOf(field(ss, "scope"));
      for (const span of list(field(ss, "spans"))) {
        const status = field(span, "status");
        const statusMessage = str(field(status, "message"));
        const parent = id(field(span, "parentSpanId"));
        const traceState = str(field(span, "traceState"));
        const received: ReceivedSpan = {
          traceId: id(field(span, "traceId")),
          spanId: id(field(span, "spanId")),
          parentSpanId: parent === "" ? undefined : parent,
          name: str(field(span, "name")),
          kind: enumName(field(span, "kind"), SPAN_KINDS, "SPAN_KIND_"),
          startTimeUnixNano: big(field(span, "startTimeUnixNano")),
          endTimeUnixNano: big(field(span, "endTimeUnixNano")),
          attributes: flattenAttributes(field(span, "attributes")),
          status: statusMessage
            ? { code: enumName(field(status, "code"), STATUS_CODES, "STATUS_CODE_"), message: statusMessage }
            : { code: enumName(field(status, "code"), STATUS_CODES, "STATUS_CODE_") },
          resource,
          scope,
          events: list(field(span, "events")).map((e) => ({
            name: str(field(e, "name")),
            timeUnixNano: big(field(e, "timeUnixNano")),
            attributes: flattenAttributes(field(e, "attributes")),
          })),
          links: list(field(span, "links")).map((l) => ({
            traceId: id(field(l, "traceId")),
            spanId: id(field(l, "spanId")),
            attributes: flattenAttributes(field(l, "attributes")),
          })),
        };
        if (traceState) received.traceState = traceState;
        out.push(received);
      }
    }
  }
  return out;
}

export function normalizeMetrics(request: unknown): ReceivedMetricPoint[] {
  const out: ReceivedMetricPoint[] = [];
  for (const rm of list(field(request, "resourceMetrics"))) {
    const resource = flattenAttributes(field(field(rm, "resource"), "attributes"));
    for (const sm of list(field(rm, "scopeMetrics"))) {
      const scope = scopeOf(field(sm, "scope"));
      for (const metric of list(field(sm, "metrics"))) {
        const base = {
          metric: str(field(metric, "name")),
          unit: str(field(metric, "unit")),
          description: str(field(metric, "description")),
          resource,
          scope,
        };
        const common = (dp: unknown) => ({
          attributes: flattenAttributes(field(dp, "attributes")),
          startTimeUnixNano: big(field(dp, "startTimeUnixNano")),
          timeUnixNano: big(field(dp, "timeUnixNano")),
        });
        const numberValue = (dp: unknown) => (isObj(dp) && has(dp, "asInt") ? num(field(dp, "asInt")) : num(field(dp, "asDouble")));

        const histogram = field(metric, "histogram");
        const sum = field(metric, "sum");
        const gauge = field(metric, "gauge");
        if (isObj(histogram)) {
          const temporality = enumName(field(histogram, "aggregationTemporality"), TEMPORALITIES, "AGGREGATION_TEMPORALITY_");
          for (const dp of list(field(histogram, "dataPoints"))) {
            const point: ReceivedMetricPoint = {
              ...base,
              type: "histogram",
              ...common(dp),
              temporality,
              count: num(field(dp, "count")),
              bucketCounts: list(field(dp, "bucketCounts")).map(num),
              explicitBounds: list(field(dp, "explicitBounds")).map(num),
            };
            const s = optNum(field(dp, "sum"));
            const min = optNum(field(dp, "min"));
            const max = optNum(field(dp, "max"));
            if (s !== undefined) point.sum = s;
            if (min !== undefined) point.min = min;
            if (max !== undefined) point.max = max;
            out.push(point);
          }
        } else if (isObj(sum)) {
          const temporality = enumName(field(sum, "aggregationTemporality"), TEMPORALITIES, "AGGREGATION_TEMPORALITY_");
          const isMonotonic = field(sum, "isMonotonic") === true;
          for (const dp of list(field(sum, "dataPoints"))) {
            out.push({ ...base, type: "sum", ...common(dp), temporality, isMonotonic, value: numberValue(dp) });
          }
        } else if (isObj(gauge)) {
          for (const dp of list(field(gauge, "dataPoints"))) {
            out.push({ ...base, type: "gauge", ...common(dp), value: numberValue(dp) });
          }
        }
        // exponential histograms and summaries are not decoded (Loupe emits neither)
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// server

const SIGNALS = {
  "/v1/traces": { proto: TraceRequest },
  "/v1/metrics": { proto: MetricsRequest },
} as const;

type Waiter = () => void;

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetricPoint[] = [];
  const requests: ReceivedRequest[] = [];
  const waiters = new Set<Waiter>();
  let failStatus: number | null = null;

  const notify = () => {
    for (const w of [...waiters]) w();
  };

  const handle = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    const contentType = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    const encoding = (req.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
    const raw = new Uint8Array(await req.arrayBuffer());
    const record: ReceivedRequest = { path, contentType, encoding, headers: new Headers(req.headers), bodyBytes: raw.byteLength, status: 200 };
    requests.push(record);
    const reply = (status: number, error?: string): Response => {
      record.status = status;
      if (error !== undefined) record.error = error;
      if (status === 200) {
        return contentType === "application/json"
          ? new Response("{}", { headers: { "content-type": "application/json" } })
          : new Response(new Uint8Array(), { headers: { "content-type": "application/x-protobuf" } });
      }
      return new Response(error ?? "", { status, headers: { "content-type": "text/plain" } });
    };

    const signal = path === "/v1/traces" || path === "/v1/metrics" ? SIGNALS[path] : undefined;
    if (!signal) return reply(404, `unknown path ${path}`);
    if (req.method !== "POST") return reply(405, `method ${req.method} not allowed`);
    if (failStatus !== null) {
      notify();
      return reply(failStatus, `failing on purpose with ${failStatus}`);
    }
    if (contentType !== "application/x-protobuf" && contentType !== "application/json") return reply(415, `unsupported content-type ${contentType}`);

    let body: Uint8Array;
    if (encoding === "gzip") {
      try {
        body = Bun.gunzipSync(raw);
      } catch (err) {
        return reply(400, `bad gzip body: ${String(err)}`);
      }
    } else if (encoding === "identity") {
      body = raw;
    } else {
      return reply(415, `unsupported content-encoding ${encoding}`);
    }

    try {
      const decoded = contentType === "application/json" ? JSON.parse(new TextDecoder().decode(body)) : decodeProtobuf(signal.proto, body);
      record.decoded = decoded;
      if (path === "/v1/traces") spans.push(...normalizeTraces(decoded));
      else metrics.push(...normalizeMetrics(decoded));
    } catch (err) {
      return reply(400, `cannot decode ${contentType} body: ${err instanceof Error ? err.message : String(err)}`);
    }
    notify();
    return reply(200);
  };

  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handle });

  function waitFor<T>(what: string, items: T[], predicate: (items: T[]) => boolean, timeoutMs: number, describe: (items: T[]) => string): Promise<T[]> {
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const check: Waiter = () => {
        let ok: boolean;
        try {
          ok = predicate(items);
        } catch (err) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(err);
          return;
        }
        if (ok) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(items);
        }
      };
      waiters.add(check);
      timer = setTimeout(() => {
        waiters.delete(check);
        const failed = requests.filter((r) => r.status !== 200).map((r) => `${r.path} ${r.status}${r.error ? ` (${r.error})` : ""}`);
        reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what}; have ${items.length}: ${describe(items)}` + (failed.length ? `; rejected requests: ${failed.join("; ")}` : "")));
      }, timeoutMs);
      check();
    });
  }

  return {
    url: `http://127.0.0.1:${server.port}`,
    spans,
    metrics,
    requests,
    waitForSpans: (predicate, timeoutMs = 5000) => waitFor("spans", spans, predicate, timeoutMs, (s) => JSON.stringify(s.map((x) => x.name))),
    waitForMetrics: (predicate, timeoutMs = 5000) =>
      waitFor("metric points", metrics, predicate, timeoutMs, (m) => JSON.stringify(m.map((x) => `${x.metric}:${x.type}`))),
    failWith(status) {
      failStatus = status;
    },
    reset() {
      spans.length = 0;
      metrics.length = 0;
      requests.length = 0;
    },
    async stop() {
      waiters.clear();
      await server.stop(true);
    },
  };
}
