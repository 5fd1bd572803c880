import { describe, expect, test } from "bun:test";
import { readTelemetryConfig } from "../../src/telemetry/otel-config.ts";
import { readTraceId } from "../../src/telemetry/call-tracer.ts";

describe("OTEL_* variables", () => {
  test("off until an endpoint is set, and when disabled", () => {
    expect(readTelemetryConfig({})).toBeUndefined();
    expect(readTelemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_SDK_DISABLED: "true" })).toBeUndefined();
  });

  test("general endpoint gets /v1/<signal>; signal endpoints are used as they are", () => {
    const config = readTelemetryConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/",
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://metrics:9000/custom",
    })!;
    expect(config.traces?.url).toBe("http://collector:4318/v1/traces");
    expect(config.metrics?.url).toBe("http://metrics:9000/custom");
    expect(config.traces).toMatchObject({ protocol: "http/protobuf", compression: "none", timeoutMs: 10000 });
    expect(config.sampler).toEqual({ kind: "parentbased_always_on", ratio: 1 });
    expect(config.serviceName).toBe("loupe");
  });

  test("headers (percent-decoded, per-signal wins), protocol, compression, timeout, resource, sampler", () => {
    const config = readTelemetryConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "https://otlp.example:4318",
      OTEL_EXPORTER_OTLP_HEADERS: "Authorization=Basic%20abc,x-team=a",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-team=b",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: "gzip",
      OTEL_EXPORTER_OTLP_TIMEOUT: "2500",
      OTEL_SERVICE_NAME: "gateway-eu",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=prod,team=ml",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      OTEL_METRICS_EXPORTER: "none",
      OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "true",
    })!;
    expect(config.traces).toEqual({
      url: "https://otlp.example:4318/v1/traces",
      headers: { Authorization: "Basic abc", "x-team": "b" },
      protocol: "http/json",
      compression: "gzip",
      timeoutMs: 2500,
    });
    expect(config.metrics).toBeUndefined();
    expect(config.serviceName).toBe("gateway-eu");
    expect(config.resourceAttributes).toEqual({ "deployment.environment.name": "prod", team: "ml" });
    expect(config.sampler).toEqual({ kind: "parentbased_traceidratio", ratio: 0.25 });
    expect(config.captureContent).toBe(true);
  });

  test("bad values are refused by name", () => {
    const base = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };
    expect(() => readTelemetryConfig({ ...base, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(/grpc is not supported/);
    expect(() => readTelemetryConfig({ ...base, OTEL_TRACES_SAMPLER: "sometimes" })).toThrow(/OTEL_TRACES_SAMPLER/);
    expect(() => readTelemetryConfig({ ...base, OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" })).toThrow(/between 0 and 1/);
    expect(() => readTelemetryConfig({ ...base, OTEL_EXPORTER_OTLP_HEADERS: "novalue" })).toThrow(/not key=value/);
    expect(() => readTelemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toThrow(/not an http/);
  });

  test("traceparent parsing", () => {
    expect(readTraceId("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(readTraceId("00-00000000000000000000000000000000-00f067aa0ba902b7-01")).toBeUndefined();
    expect(readTraceId("garbage")).toBeUndefined();
    expect(readTraceId(null)).toBeUndefined();
  });
});
