/**
 * What OpenTelemetry export costs per proxied call, measured on the telemetry
 * alone: `begin` + `startUpstream` + `end` for N synthetic calls, exported to
 * the bench's OTLP sink (bench/otlp-sink.ts, its own process, so its CPU is not
 * counted). See bench/README.md.
 *
 *   bun bench/telemetry.ts     N = 50000 (BENCH_CALLS=…); BENCH_VARIANTS=spans,both to run only some
 */
import { join } from "node:path";
import type { RequestRecord } from "../src/record.ts";
import { createTelemetry } from "../src/sinks/otlp/create-telemetry.ts";
import type { CallDetails } from "../src/sinks/otlp/genai-span.ts";
import type { OtlpTarget, TelemetryConfig } from "../src/telemetry/otel-config.ts";
import type { SinkPathStats } from "./otlp-sink.ts";

const CALLS = Number(process.env.BENCH_CALLS ?? 50_000);
const WARMUP = 10_000;
const CHUNK = 256; // calls between yields to the event loop, where batches are sent

const sink = Bun.spawn([process.execPath, join(import.meta.dir, "otlp-sink.ts")], { stdout: "pipe", stderr: "inherit" });
const sinkUrl = await readSinkUrl(sink.stdout);

// A non-streamed OpenAI chat call, as the proxy bench's mock answers it; half the callers send a traceparent.
const record = (i: number): RequestRecord => ({
  id: `0199a0b1-7c2d-7e3f-8a4b-${String(i).padStart(12, "0")}`,
  started_at: new Date().toISOString(),
  duration_ms: 120 + (i % 50),
  ttfb_ms: null,
  provider: "openai",
  operation: "chat",
  key_id: null,
  attempts: 1,
  routed_provider: null,
  routed_model: null,
  ratelimit: null,
  limit_hit: null,
  billable: true,
  prompt_preview: null,
  method: "POST",
  path: "/openai/v1/chat/completions",
  status: 200,
  model: "gpt-4o",
  response_model: "gpt-4o-2024-08-06",
  streamed: false,
  input_tokens: 1117,
  cache_read_tokens: 0,
  cache_write_tokens: null,
  output_tokens: 46,
  reasoning_tokens: null,
  cost_usd: "0.003252500",
  cost_source: "genai-prices",
  price_version: "0.1.8",
  session_id: null,
  user_id: null,
  project: null,
  tags: null,
  finish_reason: "stop",
  error_type: null,
  error_message: null,
  request_bytes: 120,
  response_bytes: 990,
  upstream_request_id: "req_8f0b3c2d1e",
  trace_id: null,
  usage_raw: null,
  request_body: null,
  response_body: null,
  truncated: false,
  cache_write_1h_tokens: null,
  agent_id: null,
  parent_agent_id: null,
  request_class: null,
  agent_type: null,
});
const records = Array.from({ length: 1024 }, (_, i) => record(i));
const details: CallDetails = {
  genAiProvider: "openai",
  serverAddress: "127.0.0.1",
  serverPort: 8080,
  params: { max_tokens: 50, temperature: 0.7 },
  responseId: "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
};
// Every other call continues a caller's trace.
const CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

interface Variant {
  label: string;
  traces: boolean;
  metrics: boolean;
  target?: Partial<OtlpTarget>;
}

async function measure(variant: Variant) {
  const target: OtlpTarget = { url: "", headers: {}, protocol: "http/protobuf", compression: "none", timeoutMs: 10_000, ...variant.target };
  const config: TelemetryConfig = {
    traces: variant.traces ? { ...target, url: `${sinkUrl}/${variant.label}/v1/traces` } : undefined,
    metrics: variant.metrics ? { ...target, url: `${sinkUrl}/${variant.label}/v1/metrics`, intervalMs: 1000 } : undefined,
    serviceName: "loupe-bench",
    resourceAttributes: {},
    sampler: { kind: "parentbased_always_on", ratio: 1 },
    captureContent: false,
  };
  const errors: string[] = [];
  const telemetry = createTelemetry(config, "0.0.0", (message) => errors.push(message));
  const call = (i: number) => {
    const now = Date.now();
    const trace = telemetry.tracer.begin({ method: "POST", path: "/openai/v1/chat/completions", traceparent: i & 1 ? CALLER : null, tracestate: null, startTime: now });
    trace.startUpstream(now);
    telemetry.emit(records[i & 1023]!, { details, endTime: now + 1, spans: trace.finish() });
  };
  const run = async (calls: number) => {
    let syncMs = 0;
    for (let i = 0; i < calls; i += CHUNK) {
      const start = performance.now();
      for (let j = i; j < Math.min(i + CHUNK, calls); j++) call(j);
      syncMs += performance.now() - start;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return syncMs;
  };
  await run(WARMUP);
  await Bun.sleep(1200); // the warm-up's batches and a metric export go out
  Bun.gc(true);
  const cpu = process.cpuUsage();
  const syncMs = await run(CALLS);
  await telemetry.shutdown(); // sends what is left, and the last metrics
  const used = process.cpuUsage(cpu);
  const stats = (await (await fetch(`${sinkUrl}/_stats`)).json()) as Record<string, SinkPathStats>;
  const spans = stats[`/${variant.label}/v1/traces`];
  return {
    variant: variant.label,
    "CPU µs/call": round((used.user + used.system) / CALLS),
    "in calls µs/call": round((syncMs * 1000) / CALLS),
    "bytes/span": spans?.spans ? round(spans.bytes / spans.spans) : "",
    "spans received": spans?.spans ?? 0,
    "spans exported": telemetry.stats().spansExported,
    failures: telemetry.stats().exportFailures + (errors.length ? ` (${errors[0]})` : ""),
  };
}

const round = (n: number) => Math.round(n * 100) / 100;

async function readSinkUrl(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("otlp-sink exited before printing its URL");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return (JSON.parse(text.slice(0, text.indexOf("\n"))) as { url: string }).url;
}

const allVariants: Variant[] = [
  { label: "spans", traces: true, metrics: false },
  { label: "metrics", traces: false, metrics: true },
  { label: "both", traces: true, metrics: true },
  { label: "both-json", traces: true, metrics: true, target: { protocol: "http/json" } },
  { label: "both-gzip", traces: true, metrics: true, target: { compression: "gzip" } },
];
const only = process.env.BENCH_VARIANTS?.split(",");
const variants = only ? allVariants.filter((v) => only.includes(v.label)) : allVariants;
console.log(`telemetry cost per call, N=${CALLS} (after ${WARMUP} warm-up calls); CPU = this process, all threads, export included; span counts include the warm-up`);
console.log("span work = spans row, metric work = metrics row, together = both row (bench/README.md)");
const rows = [];
for (const variant of variants) rows.push(await measure(variant));
console.table(rows);
sink.kill();
