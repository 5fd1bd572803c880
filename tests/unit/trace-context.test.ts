import { describe, expect, test } from "bun:test";
import type { SamplerKind } from "../../src/telemetry/otel-config.ts";
import { createSampler, traceIdRatio } from "../../src/telemetry/sampler.ts";
import { formatTraceparent, parseTraceparent, type TraceParent } from "../../src/telemetry/trace-context.ts";
import { createIdGenerator } from "../../src/telemetry/trace-ids.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

describe("traceparent (W3C Trace Context §3.2)", () => {
  test.each([
    [`00-${TRACE}-${SPAN}-01`, { traceId: TRACE, spanId: SPAN, sampled: true }],
    [`00-${TRACE}-${SPAN}-00`, { traceId: TRACE, spanId: SPAN, sampled: false }],
    [`00-${TRACE}-${SPAN}-03`, { traceId: TRACE, spanId: SPAN, sampled: true }], // other flag bits are not ours to read
    [`00-${TRACE}-${SPAN}-02`, { traceId: TRACE, spanId: SPAN, sampled: false }],
    [` 00-${TRACE}-${SPAN}-01 `, { traceId: TRACE, spanId: SPAN, sampled: true }],
    [`01-${TRACE}-${SPAN}-01-future-fields`, { traceId: TRACE, spanId: SPAN, sampled: true }], // a later version may append fields
    [`cc-${TRACE}-${SPAN}-01`, { traceId: TRACE, spanId: SPAN, sampled: true }],
  ])("%s is read", (header, expected) => {
    expect(parseTraceparent(header)).toEqual(expected);
  });

  test.each([
    null,
    "",
    "garbage",
    `00-${TRACE}-${SPAN}-01-extra`, // version 00 has exactly four fields
    `00-${TRACE}-${SPAN}-011`,
    `01-${TRACE}-${SPAN}-01x`,
    `ff-${TRACE}-${SPAN}-01`, // version ff is invalid
    `00-${TRACE.toUpperCase()}-${SPAN}-01`, // lowercase hex only
    `00-${"0".repeat(32)}-${SPAN}-01`, // all-zero ids are invalid
    `00-${TRACE}-${"0".repeat(16)}-01`,
    `00-${TRACE.slice(1)}-${SPAN}-01`,
    `0-${TRACE}-${SPAN}-01`,
    `00_${TRACE}_${SPAN}_01`,
  ])("%p is ignored", (header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  test("ours is version 00 with the sampled flag", () => {
    expect(formatTraceparent(TRACE, SPAN, true)).toBe(`00-${TRACE}-${SPAN}-01`);
    expect(formatTraceparent(TRACE, SPAN, false)).toBe(`00-${TRACE}-${SPAN}-00`);
    expect(parseTraceparent(formatTraceparent(TRACE, SPAN, true))).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
  });
});

describe("ids", () => {
  test("trace ids are 32 and span ids 16 lowercase hex digits, distinct across pool refills", () => {
    const ids = createIdGenerator(64); // a small pool: refilled every call or two
    const traces = Array.from({ length: 2000 }, () => ids.traceId());
    const spans = Array.from({ length: 2000 }, () => ids.spanId());
    for (const id of traces) expect(id).toMatch(/^[0-9a-f]{32}$/);
    for (const id of spans) expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(traces).size).toBe(traces.length);
    expect(new Set(spans).size).toBe(spans.length);
  });

  test("every hex digit turns up in every position (the bytes are random, not a counter)", () => {
    const ids = createIdGenerator();
    const seen = Array.from({ length: 32 }, () => new Set<string>());
    for (let i = 0; i < 2000; i++) [...ids.traceId()].forEach((digit, at) => seen[at]!.add(digit));
    expect(seen.every((digits) => digits.size === 16)).toBe(true);
  });
});

// Trace ids whose low 8 bytes are just below and at a bound.
const low = (hex16: string) => `${"ab".repeat(8)}${hex16}`;
const parent = (sampled: boolean): TraceParent => ({ traceId: TRACE, spanId: SPAN, sampled });

describe("samplers (OTEL_TRACES_SAMPLER)", () => {
  test("trace id ratio: low 8 bytes below ratio × 2^64", () => {
    const half = traceIdRatio(0.5);
    expect(half(low("7fffffffffffffff"))).toBe(true);
    expect(half(low("8000000000000000"))).toBe(false);
    const quarter = traceIdRatio(0.25);
    expect(quarter(low("3fffffffffffffff"))).toBe(true);
    expect(quarter(low("4000000000000000"))).toBe(false);
    expect(quarter(low("0000000000000000"))).toBe(true);
    // the low 32 bits decide when the high 32 bits equal the bound's: the double 0.1 is 0x1.999999999999ap-4, so 0.1 × 2^64 = 0x1999999999999a00
    const tenth = traceIdRatio(0.1);
    expect(tenth(low("19999999999999ff"))).toBe(true);
    expect(tenth(low("1999999999999a00"))).toBe(false);
    expect(tenth(low("1999999a00000000"))).toBe(false);
    expect(traceIdRatio(1)(low("ffffffffffffffff"))).toBe(true);
    expect(traceIdRatio(0)(low("0000000000000000"))).toBe(false);
  });

  test("trace id ratio keeps about that share of random traces, the same ones every time", () => {
    const ids = createIdGenerator();
    const traces = Array.from({ length: 20_000 }, () => ids.traceId());
    const sampler = traceIdRatio(0.2);
    const kept = traces.filter((id) => sampler(id));
    expect(kept.length / traces.length).toBeGreaterThan(0.18);
    expect(kept.length / traces.length).toBeLessThan(0.22);
    expect(traces.filter((id) => traceIdRatio(0.2)(id))).toEqual(kept);
  });

  const decisions = (kind: SamplerKind, ratio = 0.5) => {
    const sample = createSampler(kind, ratio);
    const keptRoot = low("0000000000000001");
    const droppedRoot = low("ffffffffffffff00");
    return [sample(keptRoot, undefined), sample(droppedRoot, undefined), sample(droppedRoot, parent(true)), sample(keptRoot, parent(false))];
  };

  test.each<[SamplerKind, boolean[]]>([
    // [root, ratio keeps it], [root, ratio drops it], [sampled parent, ratio drops], [unsampled parent, ratio keeps]
    ["always_on", [true, true, true, true]],
    ["always_off", [false, false, false, false]],
    ["traceidratio", [true, false, false, true]], // ignores the parent
    ["parentbased_always_on", [true, true, true, false]],
    ["parentbased_always_off", [false, false, true, false]],
    ["parentbased_traceidratio", [true, false, true, false]],
  ])("%s", (kind, expected) => {
    expect(decisions(kind)).toEqual(expected);
  });
});
