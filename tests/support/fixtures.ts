import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

/** Fixtures of real provider traffic, copied from ../shared/fixtures (provenance in tests/fixtures/SOURCES.md). */
export const FIXTURES = join(import.meta.dir, "..", "fixtures");

export function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, name), "utf8");
}

export function fixtureJson<T = unknown>(name: string): T {
  return JSON.parse(fixtureText(name)) as T;
}

/** A `.http` fixture: status line, headers, blank line, body. */
export function fixtureHttp(name: string): { status: number; headers: Headers; body: string } {
  const text = fixtureText(name);
  const split = text.indexOf("\n\n");
  const [statusLine, ...headerLines] = text.slice(0, split).split("\n");
  const headers = new Headers();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { status: Number(statusLine!.split(" ")[1]), headers, body: text.slice(split + 2) };
}

/** A one-line JSON document as the one SSE event that carries it (a documented stream chunk). */
export function sseEvent(json: string): string {
  if (json.trim().includes("\n")) throw new Error("only a one-line JSON document can be one SSE event");
  return `data: ${json.trim()}\n\n`;
}

/** The events of an SSE fixture, each with its own trailing blank line, in order. */
export function sseEvents(text: string): string[] {
  return text.split(/(?<=\r\n\r\n|\n\n)/).filter((e) => e.trim() !== "");
}

/**
 * Every response fixture (provenance and expected-usage files aside), as
 * `<folder>/<file>`, sorted. A folder with a `manifest.json` holds captured
 * requests, described by that manifest (claude-code/), not responses to walk.
 */
export function listFixtures(): string[] {
  const names: string[] = [];
  for (const folder of readdirSync(FIXTURES, { withFileTypes: true })) {
    if (!folder.isDirectory() || existsSync(join(FIXTURES, folder.name, "manifest.json"))) continue;
    for (const file of readdirSync(join(FIXTURES, folder.name))) {
      if (file.endsWith(".source.txt") || file.endsWith(EXPECTED)) continue;
      names.push(`${folder.name}/${file}`);
    }
  }
  return names.sort();
}

export const EXPECTED = ".expected.json";

const usageSchema = z.strictObject({
  inputTokens: z.number().int().nonnegative().optional(),
  cacheReadTokens: z.number().int().nonnegative().optional(),
  cacheWriteTokens: z.number().int().nonnegative().optional(),
  cacheWrite1hTokens: z.number().int().nonnegative().optional(),
  outputTokens: z.number().int().nonnegative().optional(),
  reasoningTokens: z.number().int().nonnegative().optional(),
});

const decimal = z.string().regex(/^\d+\.\d{9}$/);

/**
 * `<fixture>.expected.json`: how the contract test (tests/contract) walks a
 * response fixture through the gateway and what the record must then say, or
 * why a fixture is not a response to walk. Figures are worked out by hand
 * from the fixture and the provider's documented usage semantics (`why`).
 */
const walkedSchema = z.strictObject({
  walked: z.literal(true),
  /** Walk through this registered provider instead of the folder's (only while the folder's provider is not registered). */
  provider: z.string().optional(),
  request: z.strictObject({
    method: z.enum(["GET", "POST"]),
    /** Below the provider's prefix, query included: the path the upstream must receive. */
    path: z.string().startsWith("/"),
    body: z.unknown().optional(),
    /** A request fixture to send as the body, byte for byte. */
    bodyFixture: z.string().optional(),
  }),
  /** `sse`: the mock sends the one-line JSON fixture as one SSE event (a documented stream chunk). */
  frame: z.literal("sse").optional(),
  status: z.number().int(),
  /** Normalized usage; a field left out was not reported (NULL). null: no usage at all. */
  usage: usageSchema.nullable(),
  /** The exact cost; for prices that depend on the UTC time of day, per `HH:MM-HH:MM` window. null: unpriced. */
  cost_usd: z.union([decimal, z.null(), z.record(z.string().regex(/^\d\d:\d\d-\d\d:\d\d$/), decimal)]),
  record: z.strictObject({
    operation: z.string().nullable(),
    model: z.string().nullable(),
    response_model: z.string().nullable(),
    streamed: z.boolean(),
    finish_reason: z.string().nullable(),
    error_type: z.string().nullable(),
    cost_source: z.enum(["genai-prices", "provider", "free", "override"]).nullable(),
  }),
  /** The record's `ratelimit` JSON, parsed (the provider's rate-limit headers); left out: not checked. */
  ratelimit: z.strictObject({ organization: z.string().optional(), headers: z.record(z.string(), z.string()) }).nullable().optional(),
  why: z.string().min(1),
});

const notWalkedSchema = z.strictObject({
  walked: z.literal(false),
  /** documentation: doc text no server sends; request: a request body; listing: headers or decoded events; unregistered-provider: its folder's provider is not registered yet. */
  kind: z.enum(["documentation", "request", "listing", "unregistered-provider"]),
  why: z.string().min(1),
});

export const expectedSchema = z.discriminatedUnion("walked", [walkedSchema, notWalkedSchema]);
export type Expected = z.infer<typeof expectedSchema>;
export type Walk = z.infer<typeof walkedSchema>;

export function readExpected(fixture: string): Expected {
  return expectedSchema.parse(fixtureJson(fixture + EXPECTED));
}

/** The bytes a walk of `fixture` must hand the client: the fixture's own (a `.http` fixture's body; one SSE event when framed). */
export function expectedBytes(fixture: string, walk: Walk): Uint8Array {
  if (fixture.endsWith(".http")) return new TextEncoder().encode(fixtureHttp(fixture).body);
  if (walk.frame === "sse") return new TextEncoder().encode(sseEvent(fixtureText(fixture)));
  return new Uint8Array(readFileSync(join(FIXTURES, fixture)));
}

/** The usage columns of a record, keyed like `Usage`. */
export const USAGE_COLUMNS = {
  inputTokens: "input_tokens",
  cacheReadTokens: "cache_read_tokens",
  cacheWriteTokens: "cache_write_tokens",
  cacheWrite1hTokens: "cache_write_1h_tokens",
  outputTokens: "output_tokens",
  reasoningTokens: "reasoning_tokens",
} as const;
