import { describe, expect, test } from "bun:test";
import { LoupeError } from "../../src/errors.ts";
import { createSseRewriter } from "../../src/observe/sse-rewriter.ts";
import { acceptsStreamOptions, azure } from "../../src/providers/azure.ts";
import type { UpstreamRequest } from "../../src/providers/contract.ts";
import { fixtureText, sseEvents } from "../support/fixtures.ts";

/**
 * Azure's own rules, on the adapter alone: which model a path shape records,
 * which api-versions take `stream_options`, what `prepare` does without a
 * resource, and that the client's stream is the one it asked for.
 */

const MOCK = "https://my-resource.openai.azure.com";
const request = (path: string, body: unknown): UpstreamRequest => ({
  url: MOCK + path,
  method: "POST",
  headers: { "content-type": "application/json", "api-key": "k" },
  body: new TextEncoder().encode(JSON.stringify(body)),
});
const prepare = (req: UpstreamRequest, path: string) =>
  azure.upstream.prepare!(req, { settings: {}, path: path.split("?")[0]!, endpoint: azure.endpoint("POST", path.split("?")[0]!) });

describe("the model a call records", () => {
  const body = { model: "what-the-sdk-sent", messages: [], input: "x" };
  test.each([
    ["/openai/deployments/prod-chat/chat/completions", "chat", "prod-chat"],
    ["/openai/deployments/prod%20chat/chat/completions", "chat", "prod chat"],
    ["/openai/deployments/legacy/completions", "text_completion", "legacy"],
    ["/openai/deployments/embed-small/embeddings", "embeddings", "embed-small"],
    ["/openai/deployments/old/extensions/chat/completions", "chat", "old"],
    ["/openai/v1/chat/completions", "chat", "what-the-sdk-sent"],
    ["/openai/v1/responses", "chat", "what-the-sdk-sent"],
    ["/openai/responses", "chat", "what-the-sdk-sent"],
  ])("%s: %s, model %s", (path, operation, model) => {
    const endpoint = azure.endpoint("POST", path)!;
    expect(endpoint.operation).toBe(operation);
    expect(endpoint.readRequest!(body).model).toBe(model);
  });

  test("paths without usage are forwarded as unknown endpoints; model lists are free", () => {
    expect(azure.endpoint("POST", "/openai/deployments/dalle/images/generations")).toBeUndefined();
    expect(azure.endpoint("GET", "/openai/models")?.billable).toBe(false);
    expect(azure.endpoint("GET", "/openai/v1/models")?.billable).toBe(false);
  });
});

describe("stream_options by api-version", () => {
  test.each([
    ["2024-09-01-preview", true],
    ["2024-12-01-preview", true],
    ["2025-04-01-preview", true],
    ["2024-08-01-preview", false],
    ["2024-02-15-preview", false],
    ["2024-10-21", false],
    ["2024-06-01", false],
    ["2023-05-15", false],
    ["preview", false],
    [null, false],
  ])("%s → %p", (version, accepts) => {
    expect(acceptsStreamOptions(version)).toBe(accepts);
  });
});

describe("prepare", () => {
  test("without a configured resource: a LoupeError naming LOUPE_AZURE_BASE_URL, answered without retries", async () => {
    const unset = { ...request("/openai/v1/chat/completions", {}), url: `${azure.upstream.baseUrl}/openai/v1/chat/completions` };
    const error = await prepare(unset, "/openai/v1/chat/completions").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoupeError);
    expect((error as LoupeError).status).toBe(503);
    expect((error as LoupeError).message).toContain("LOUPE_AZURE_BASE_URL");
    expect(azure.dialect.headers?.(error as LoupeError)).toEqual({ "x-should-retry": "false" });
    // The same code raised elsewhere (draining) may be retried.
    expect(azure.dialect.headers?.(new LoupeError("unavailable", "Loupe is shutting down"))).toEqual({});
  });

  test("with one: the request is left as it is", async () => {
    const req = request("/openai/deployments/d/chat/completions?api-version=2024-10-21", { messages: [] });
    expect(await prepare(req, "/openai/deployments/d/chat/completions?api-version=2024-10-21")).toBe(req);
  });

  const client = { messages: [{ role: "user", content: "é" }], stream: true, stream_options: { include_usage: false } };

  test("a deployment stream on a preview api-version that takes stream_options: usage asked, then hidden from the client", async () => {
    const path = "/openai/deployments/d/chat/completions";
    const endpoint = azure.endpoint("POST", path)!;
    const edited = endpoint.prepareUpstream!(client, { query: "?api-version=2024-12-01-preview" })!;
    const req = { ...request(`${path}?api-version=2024-12-01-preview`, {}), body: edited.bytes };
    const sent = await azure.upstream.prepare!(req, { settings: {}, path, endpoint });
    expect(JSON.parse(new TextDecoder().decode(sent.body))).toEqual({ ...client, stream_options: { include_usage: true } });
    expect(edited.rewriteEvent!('{"choices":[],"id":"c","usage":{"prompt_tokens":1}}')).toBeNull();
    expect(edited.rewriteEvent!('{"choices":[{"index":0}],"usage":null}')).toBe('{"choices":[{"index":0}]}');
  });

  test("on an api-version without stream_options: the client's request goes up byte for byte, its stream untouched", () => {
    const endpoint = azure.endpoint("POST", "/openai/deployments/d/chat/completions")!;
    expect(endpoint.prepareUpstream!(client, { query: "?api-version=2024-10-21" })).toBeUndefined();
    expect(endpoint.prepareUpstream!(client, { query: "" })).toBeUndefined();
  });

  test("a stream that asks for usage itself, and a plain call, are not edited", () => {
    const endpoint = azure.endpoint("POST", "/openai/deployments/d/chat/completions")!;
    const preview = { query: "?api-version=2024-12-01-preview" };
    expect(endpoint.prepareUpstream!({ ...client, stream_options: { include_usage: true } }, preview)).toBeUndefined();
    expect(endpoint.prepareUpstream!({ messages: [] }, preview)).toBeUndefined();
  });
});

describe("the client's stream after Loupe asked for usage (recorded Azure streams)", () => {
  test.each(["azure/chat-stream-include-usage-2026.observed.sse", "azure/chat-stream-v1-include-usage.mirascope-recording.sse"])(
    "%s: the usage chunk and the usage:null fields go, every other byte stays",
    (name) => {
      const endpoint = azure.endpoint("POST", "/openai/v1/chat/completions")!;
      const { rewriteEvent } = endpoint.prepareUpstream!({ model: "m", messages: [], stream: true }, { query: "" })!;
      const rewriter = createSseRewriter(rewriteEvent!);
      const text = fixtureText(name);
      const out = new TextDecoder().decode(Buffer.concat([rewriter.push(new TextEncoder().encode(text)), rewriter.end()]));
      const events = sseEvents(text);
      const kept = sseEvents(out);
      // The prompt-filter chunk (no usage key) first, [DONE] last, one chunk fewer.
      expect(kept[0]).toBe(events[0]!);
      expect(kept.at(-1)).toBe("data: [DONE]\n\n");
      expect(kept.length).toBe(events.length - 1);
      expect(out).not.toContain('"usage"');
      expect(kept.slice(1, -1)).toEqual(events.slice(1, -2).map((event) => event.replace(',"usage":null', "")));
    },
  );
});
