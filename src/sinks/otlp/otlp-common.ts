import { ProtobufWriter, varintSize } from "./protobuf-writer.ts";

/**
 * The parts of opentelemetry-proto's common.proto and resource.proto that
 * spans and metrics share, in both OTLP/HTTP encodings: protobuf, and the
 * OTLP/JSON mapping (opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding:
 * lowerCamelCase keys, int64 as decimal strings, enums as integers, ids as hex).
 */

export type AttributeValue = string | number | boolean | readonly (string | number | boolean)[];
export type Attributes = Readonly<Record<string, AttributeValue | undefined>>;

export type OtlpProtocol = "http/protobuf" | "http/json";

export const CONTENT_TYPES: Record<OtlpProtocol, string> = { "http/protobuf": "application/x-protobuf", "http/json": "application/json" };

/** Who is reporting: the Resource and the InstrumentationScope, encoded once. */
export interface Origin {
  protobuf: { resource: Uint8Array; scope: Uint8Array };
  json: { resource: string; scope: string };
}

export function encodeOrigin(resource: Attributes, scope: { name: string; version: string }): Origin {
  const w = new ProtobufWriter(1024);
  writeAttributes(w, 1, resource); // Resource.attributes
  const resourceBytes = w.bytes().slice();
  w.reset();
  w.string(1, scope.name);
  w.string(2, scope.version);
  return {
    protobuf: { resource: resourceBytes, scope: w.bytes().slice() },
    json: { resource: `{"attributes":${jsonAttributes(resource)}}`, scope: `{"name":${JSON.stringify(scope.name)},"version":${JSON.stringify(scope.version)}}` },
  };
}

// A number is an int64 when it is a safe integer (as the OpenTelemetry JS SDK decides), a double otherwise.
const isInt = (value: number): boolean => Number.isSafeInteger(value);

// Attribute names come from a small fixed set: each is encoded once (KeyValue.key, tag included).
const encodedKeys = new Map<string, Uint8Array>();
const keyWriter = new ProtobufWriter(256);

function encodedKey(key: string): Uint8Array {
  let bytes = encodedKeys.get(key);
  if (!bytes) {
    keyWriter.reset();
    keyWriter.string(1, key);
    bytes = keyWriter.bytes().slice();
    if (encodedKeys.size < 1000) encodedKeys.set(key, bytes);
  }
  return bytes;
}

/** Repeated KeyValue `field`: one entry per attribute (undefined ones are left out). */
export function writeAttributes(w: ProtobufWriter, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined) continue;
    const keyBytes = encodedKey(key);
    if (typeof value !== "object" && writeShortAttribute(w, field * 8 + 2, keyBytes, value)) continue;
    const keyValue = w.open(field);
    w.raw(keyBytes);
    const anyValue = w.open(2);
    writeAnyValue(w, value);
    w.close(anyValue);
    w.close(keyValue);
  }
}

/**
 * Most attributes are a short name and a scalar: their KeyValue is under 128
 * bytes, so every length is one byte known in advance and the entry is written
 * in one pass. False (nothing written) when the entry is longer or not ASCII.
 */
function writeShortAttribute(w: ProtobufWriter, tag: number, key: Uint8Array, value: string | number | boolean): boolean {
  let anyLength: number;
  if (typeof value === "string") anyLength = 2 + value.length;
  else if (typeof value === "boolean") anyLength = 2;
  else if (!isInt(value)) anyLength = 9;
  else if (value >= 0) anyLength = 1 + varintSize(value);
  else return false;
  const entryLength = key.length + 2 + anyLength;
  if (entryLength > 127 || tag > 127) return false;
  w.ensure(entryLength + 2);
  const buf = w.buf;
  let pos = w.pos;
  buf[pos++] = tag;
  buf[pos++] = entryLength;
  for (let i = 0; i < key.length; i++) buf[pos++] = key[i]!;
  buf[pos++] = 0x12; // KeyValue.value
  buf[pos++] = anyLength;
  if (typeof value === "string") {
    buf[pos++] = 0x0a; // AnyValue.string_value
    buf[pos++] = value.length;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) return false;
      buf[pos++] = c;
    }
    w.pos = pos;
  } else if (typeof value === "boolean") {
    buf[pos++] = 0x10; // AnyValue.bool_value
    buf[pos++] = value ? 1 : 0;
    w.pos = pos;
  } else if (!isInt(value)) {
    buf[pos++] = 0x21; // AnyValue.double_value
    w.pos = pos;
    w.rawDouble(value);
  } else {
    buf[pos++] = 0x18; // AnyValue.int_value
    let rest = value;
    if (rest > 0x7fffffff) {
      w.pos = pos;
      w.varint(rest);
      return true;
    }
    while (rest > 0x7f) {
      buf[pos++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    buf[pos++] = rest;
    w.pos = pos;
  }
  return true;
}

function writeAnyValue(w: ProtobufWriter, value: AttributeValue): void {
  if (typeof value === "string") w.string(1, value);
  else if (typeof value === "number") {
    if (isInt(value)) w.int64(3, value);
    else w.double(4, value);
  } else if (typeof value === "boolean") w.bool(2, value);
  else {
    const array = w.open(5);
    for (const item of value) {
      const element = w.open(1);
      writeAnyValue(w, item);
      w.close(element);
    }
    w.close(array);
  }
}

export function jsonAttributes(attributes: Attributes): string {
  let out = "[";
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined) continue;
    if (out.length > 1) out += ",";
    out += `{"key":${JSON.stringify(key)},"value":${jsonAnyValue(value)}}`;
  }
  return out + "]";
}

function jsonAnyValue(value: AttributeValue): string {
  if (typeof value === "string") return `{"stringValue":${JSON.stringify(value)}}`;
  if (typeof value === "number") return isInt(value) ? `{"intValue":"${value}"}` : `{"doubleValue":${jsonDouble(value)}}`;
  if (typeof value === "boolean") return value ? `{"boolValue":true}` : `{"boolValue":false}`;
  return `{"arrayValue":{"values":[${value.map(jsonAnyValue).join(",")}]}}`;
}

/** Proto3 JSON writes non-finite doubles as the strings "NaN", "Infinity", "-Infinity". */
export function jsonDouble(value: number): string {
  return Number.isFinite(value) ? String(value) : `"${value}"`;
}

const TWO_16 = 65_536;
const TWO_32 = 2 ** 32;

/**
 * fixed64 nanoseconds since the epoch from milliseconds since the epoch,
 * exact for whole milliseconds (ns values pass 2^53 in 1970 + 104 days, so
 * the product is split into 32-bit halves instead of computed as a double).
 */
export function writeUnixNanos(w: ProtobufWriter, field: number, ms: number): void {
  const [whole, fraction] = splitMillis(ms);
  // ns = whole·10^6 + fraction, with whole = upper·2^16 + lower and upper·10^6 = high·2^16 + low16
  const upper = Math.floor(whole / TWO_16);
  const lower = whole - upper * TWO_16;
  const scaled = upper * 1_000_000;
  const high = Math.floor(scaled / TWO_16);
  const low = (scaled - high * TWO_16) * TWO_16 + lower * 1_000_000 + fraction;
  const carry = Math.floor(low / TWO_32);
  w.fixed64(field, high + carry, low - carry * TWO_32);
}

/** The same nanoseconds as an OTLP/JSON int64 string. */
export function jsonUnixNanos(ms: number): string {
  const [whole, fraction] = splitMillis(ms);
  if (whole === 0) return String(fraction);
  return `${whole}${String(fraction).padStart(6, "0")}`;
}

/** Whole milliseconds and the nanoseconds past them (0 ≤ ns < 10^6). */
function splitMillis(ms: number): [number, number] {
  let whole = Math.floor(ms);
  let fraction = Math.round((ms - whole) * 1_000_000);
  if (fraction === 1_000_000) {
    whole++;
    fraction = 0;
  }
  return [whole, fraction];
}
