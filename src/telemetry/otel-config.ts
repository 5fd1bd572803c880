import { z } from "zod";

/**
 * OpenTelemetry's standard environment variables, parsed by Loupe itself
 * (the 3.x trace SDK reads none of them). Spec: opentelemetry.io/docs/specs/
 * otel/configuration/sdk-environment-variables and .../protocol/exporter.
 * Export is off until an endpoint is set.
 */
export interface OtlpTarget {
  url: string;
  headers: Record<string, string>;
  protocol: "http/protobuf" | "http/json";
  compression: "gzip" | "none";
  timeoutMs: number;
}

export type SamplerKind =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio";

export interface TelemetryConfig {
  traces?: OtlpTarget | undefined;
  metrics?: (OtlpTarget & { intervalMs: number }) | undefined;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: { kind: SamplerKind; ratio: number };
  captureContent: boolean;
}

export class TelemetryConfigError extends Error {
  override name = "TelemetryConfigError";
}

/** `k1=v1,k2=v2` with percent-encoded values (W3C Baggage-like, per the spec). */
export function parseKeyValueList(name: string, text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const item of text.split(",")) {
    if (item.trim() === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) throw new TelemetryConfigError(`${name}: "${item.trim()}" is not key=value`);
    try {
      out[decodeURIComponent(item.slice(0, eq).trim())] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      throw new TelemetryConfigError(`${name}: "${item.trim()}" is not valid percent-encoding`);
    }
  }
  return out;
}

/** OTLP headers: each must be one an HTTP request can carry (a name token, a value without line breaks), or no export would ever be sent. */
function readHeaders(name: string, text: string | undefined): Record<string, string> {
  const headers = parseKeyValueList(name, text);
  for (const [key, value] of Object.entries(headers)) {
    try {
      new Headers({ [key]: value });
    } catch {
      throw new TelemetryConfigError(`${name}: ${JSON.stringify(`${key}=${value}`)} is not a valid HTTP header`);
    }
  }
  return headers;
}

const SAMPLERS = ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"] as const;

function pick(env: Record<string, string | undefined>, signal: "TRACES" | "METRICS", suffix: string): [string, string | undefined] {
  const specific = `OTEL_EXPORTER_OTLP_${signal}_${suffix}`;
  if (env[specific] !== undefined && env[specific] !== "") return [specific, env[specific]];
  const general = `OTEL_EXPORTER_OTLP_${suffix}`;
  return [general, env[general] || undefined];
}

function readTarget(env: Record<string, string | undefined>, signal: "TRACES" | "METRICS"): OtlpTarget | undefined {
  const specificEndpoint = env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`];
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  // The signal-specific endpoint is used as it is; the general one gets /v1/<signal> appended.
  const url = specificEndpoint || (base ? `${base.replace(/\/+$/, "")}/v1/${signal.toLowerCase()}` : undefined);
  if (!url) return undefined;
  const checkedUrl = z.url({ protocol: /^https?$/ }).safeParse(url);
  if (!checkedUrl.success) {
    const [name, given] = specificEndpoint ? [`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`, specificEndpoint] : ["OTEL_EXPORTER_OTLP_ENDPOINT", base];
    throw new TelemetryConfigError(`${name}: "${given}" is not an http(s) URL`);
  }

  const [protocolName, protocol = "http/protobuf"] = pick(env, signal, "PROTOCOL");
  if (protocol === "grpc") throw new TelemetryConfigError(`${protocolName}=grpc is not supported: use http/protobuf (default) or http/json`);
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    throw new TelemetryConfigError(`${protocolName}: expected http/protobuf or http/json, got "${protocol}"`);
  }
  const [compressionName, compression = "none"] = pick(env, signal, "COMPRESSION");
  if (compression !== "gzip" && compression !== "none") throw new TelemetryConfigError(`${compressionName}: expected gzip or none, got "${compression}"`);
  const [timeoutName, timeout = "10000"] = pick(env, signal, "TIMEOUT");
  const timeoutMs = Number(timeout);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TelemetryConfigError(`${timeoutName}: expected milliseconds, got "${timeout}"`);
  const headers = {
    ...readHeaders("OTEL_EXPORTER_OTLP_HEADERS", env.OTEL_EXPORTER_OTLP_HEADERS),
    ...readHeaders(`OTEL_EXPORTER_OTLP_${signal}_HEADERS`, env[`OTEL_EXPORTER_OTLP_${signal}_HEADERS`]),
  };
  return { url: checkedUrl.data, headers, protocol, compression, timeoutMs };
}

const bool = (name: string, value: string | undefined): boolean => {
  if (value === undefined || value === "") return false;
  const parsed = z.stringbool().safeParse(value.trim());
  if (!parsed.success) throw new TelemetryConfigError(`${name}: expected true or false, got "${value}"`);
  return parsed.data;
};

/** Reads the OTEL_* variables; `undefined` when export is off (disabled, or no endpoint). */
export function readTelemetryConfig(env: Record<string, string | undefined>): TelemetryConfig | undefined {
  if (bool("OTEL_SDK_DISABLED", env.OTEL_SDK_DISABLED)) return undefined;
  const tracesOff = env.OTEL_TRACES_EXPORTER?.trim() === "none";
  const metricsOff = env.OTEL_METRICS_EXPORTER?.trim() === "none";
  const traces = tracesOff ? undefined : readTarget(env, "TRACES");
  const metricsTarget = metricsOff ? undefined : readTarget(env, "METRICS");
  if (!traces && !metricsTarget) return undefined;

  const interval = Number(env.OTEL_METRIC_EXPORT_INTERVAL ?? 60_000);
  if (!Number.isFinite(interval) || interval <= 0) throw new TelemetryConfigError(`OTEL_METRIC_EXPORT_INTERVAL: expected milliseconds, got "${env.OTEL_METRIC_EXPORT_INTERVAL}"`);

  const samplerName = (env.OTEL_TRACES_SAMPLER?.trim() || "parentbased_always_on") as SamplerKind;
  if (!SAMPLERS.includes(samplerName)) throw new TelemetryConfigError(`OTEL_TRACES_SAMPLER: expected one of ${SAMPLERS.join(", ")}, got "${samplerName}"`);
  const ratioText = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const ratio = ratioText ? Number(ratioText) : 1;
  if (samplerName.endsWith("traceidratio") && (!Number.isFinite(ratio) || ratio < 0 || ratio > 1)) {
    throw new TelemetryConfigError(`OTEL_TRACES_SAMPLER_ARG: expected a ratio between 0 and 1, got "${ratioText}"`);
  }

  const resourceAttributes = parseKeyValueList("OTEL_RESOURCE_ATTRIBUTES", env.OTEL_RESOURCE_ATTRIBUTES);
  return {
    traces,
    metrics: metricsTarget ? { ...metricsTarget, intervalMs: interval } : undefined,
    serviceName: env.OTEL_SERVICE_NAME?.trim() || resourceAttributes["service.name"] || "loupe",
    resourceAttributes,
    sampler: { kind: samplerName, ratio },
    captureContent: bool("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT),
  };
}
