import { describe, expect, test } from "bun:test";
import { anthropic } from "../../src/providers/anthropic.ts";
import { openai } from "../../src/providers/openai.ts";
import { providerById, providerIds } from "../../src/providers/registry.ts";
import type { FrameDecoder, Provider } from "../../src/providers/contract.ts";
import { createResponseObserver, type BodyKind } from "../../src/observe/response-observer.ts";
import type { Usage } from "../../src/usage/usage.ts";
import { expectedBytes, fixtureText, listFixtures, readExpected } from "../support/fixtures.ts";
import { contentTypeFor } from "../support/mock-upstream.ts";

interface Case {
  adapter: Provider;
  method?: string;
  path: string;
  fixture: string;
  kind: BodyKind;
  /** The provider's own framing, for a body it answers with (binary event streams). */
  frames?: (() => FrameDecoder) | undefined;
  bytes?: Uint8Array;
  usage: Usage | undefined;
}

/**
 * Every walked fixture of tests/fixtures, with the usage its expected file
 * states (worked out by hand); the contract test sends them through the
 * gateway whole, here they are cut into pieces.
 */
const cases: Case[] = listFixtures().flatMap((fixture) => {
  const expected = readExpected(fixture);
  if (!expected.walked || expected.status >= 400) return [];
  const adapter = providerById(expected.provider ?? fixture.slice(0, fixture.indexOf("/")))!;
  const frames = adapter.frames?.(contentTypeFor(fixture));
  const kind: BodyKind = frames ? "frames" : expected.frame === "sse" || fixture.endsWith(".sse") ? "sse" : fixture.endsWith(".ndjson") ? "ndjson" : "json";
  const path = expected.request.path.split("?")[0]!;
  return [{ adapter, method: expected.request.method, path, fixture, kind, frames, bytes: expectedBytes(fixture, expected), usage: expected.usage ?? undefined }];
});

function observe(c: Case, chunkSize: number) {
  const endpoint = c.adapter.endpoint(c.method ?? "POST", c.path);
  const observer = createResponseObserver({ endpoint, kind: c.kind, frames: c.frames, encoding: null, captureBytes: 0 });
  const bytes = c.bytes ?? new TextEncoder().encode(fixtureText(c.fixture));
  for (let i = 0; i < bytes.length; i += chunkSize) observer.feed(bytes.subarray(i, i + chunkSize));
  return observer.finish();
}

const defined = (usage: Usage | undefined) => usage && Object.fromEntries(Object.entries(usage).filter(([, v]) => v !== undefined && v !== null));

describe("usage extraction over every fixture, whatever the chunking", () => {
  test("every registered provider has cases", () => {
    expect(new Set(cases.map((c) => c.adapter.id))).toEqual(new Set(providerIds));
  });

  for (const c of cases) {
    test(`${c.fixture}`, () => {
      const whole = observe(c, 1 << 20);
      // A fixture built with a malformed frame (named so) reports it as a problem, and still gives its usage.
      expect(whole.problems.length).toBe(c.fixture.includes("-malformed") ? 1 : 0);
      const { providerCostUsd: _, ...tokens } = whole.facts.usage ?? {};
      expect(defined(whole.facts.usage && tokens) ?? undefined).toEqual(c.usage && defined(c.usage));
      // Split into 7-byte chunks (CRLFs and UTF-8 cut in half): the same facts.
      expect(observe(c, 7).facts).toEqual(whole.facts);
    });
  }

  test("Anthropic message_delta overwrites message_start counts, never adds", () => {
    const c = cases.find((c) => c.fixture === "anthropic/messages-stream-cache.CONSTRUCTED.sse")!;
    expect(observe(c, 64).facts.usage?.outputTokens).toBe(503); // not 1 + 503
  });

  test("an in-stream error event is reported", () => {
    const facts = observe({ adapter: anthropic, path: "/v1/messages", fixture: "anthropic/error-stream-overloaded.sse", kind: "sse", usage: undefined }, 5).facts;
    expect(facts).toMatchObject({ errorType: "overloaded_error", errorMessage: "Overloaded" });
  });

  test("compressed bodies are decoded on the side", () => {
    const endpoint = openai.endpoint("POST", "/v1/chat/completions");
    const observer = createResponseObserver({ endpoint, kind: "json", encoding: "gzip", captureBytes: 0 });
    observer.feed(Bun.gzipSync(new TextEncoder().encode(fixtureText("openai/chat-nonstream.json"))));
    expect(observer.finish().facts.usage?.inputTokens).toBe(1117);
  });
});
