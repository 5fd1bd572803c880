import { describe, expect, test } from "bun:test";
import { encodeOrigin } from "../../src/telemetry/otlp-common.ts";
import { createSpanBatch, SPAN_KIND, type FinishedSpan } from "../../src/telemetry/otlp-spans.ts";
import { createSpanExportQueue, type ExportCounters, type SpanExportOptions } from "../../src/telemetry/span-export-queue.ts";

const span: FinishedSpan = {
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  parentSpanId: undefined,
  traceState: undefined,
  flags: 1,
  name: "chat",
  kind: SPAN_KIND.client,
  startTime: 1_700_000_000_000,
  endTime: 1_700_000_000_100,
  attributes: { "gen_ai.operation.name": "chat" },
  error: undefined,
};

/** A backend the test answers by hand: each post waits until `answer` is called. */
function fakeBackend() {
  const posts: { body: Uint8Array; answer: (ok: boolean) => void }[] = [];
  const post = (body: Uint8Array) =>
    new Promise<void>((resolve, reject) => posts.push({ body, answer: (ok) => (ok ? resolve() : reject(new Error("answered 503"))) }));
  return { posts, post };
}

function queue(options: Partial<SpanExportOptions> & Pick<SpanExportOptions, "post">) {
  const counters: ExportCounters = { spansExported: 0, exportFailures: 0 };
  const errors: string[] = [];
  const q = createSpanExportQueue({ batch: createSpanBatch("http/protobuf", encodeOrigin({}, { name: "loupe", version: "0" })), counters, onError: (m) => errors.push(m), delayMs: 60_000, ...options });
  return { q, counters, errors };
}

const settle = () => Bun.sleep(5);

describe("span export queue", () => {
  test("a full batch goes out at once; spans count as exported only when the backend accepts them", async () => {
    const backend = fakeBackend();
    const { q, counters } = queue({ post: backend.post, maxBatchSpans: 3 });
    q.add(span);
    q.add(span);
    expect(backend.posts).toHaveLength(0);
    q.add(span);
    expect(backend.posts).toHaveLength(1);
    expect(counters.spansExported).toBe(0);
    backend.posts[0]!.answer(true);
    await settle();
    expect(counters).toEqual({ spansExported: 3, exportFailures: 0 });
    void q.shutdown();
  });

  test("a partial batch goes out after the delay", async () => {
    const backend = fakeBackend();
    const { q } = queue({ post: backend.post, delayMs: 20 });
    q.add(span);
    expect(backend.posts).toHaveLength(0);
    await Bun.sleep(60);
    expect(backend.posts).toHaveLength(1);
    backend.posts[0]!.answer(true);
    await q.shutdown();
  });

  test("at most two exports in flight; the next one leaves when one is answered", async () => {
    const backend = fakeBackend();
    const { q, counters } = queue({ post: backend.post, maxBatchSpans: 1 });
    for (let i = 0; i < 5; i++) q.add(span);
    expect(backend.posts).toHaveLength(2);
    backend.posts[0]!.answer(true);
    await settle();
    expect(backend.posts).toHaveLength(3);
    for (const post of backend.posts.slice(1)) post.answer(true);
    await settle();
    for (const post of backend.posts.slice(3)) post.answer(true);
    await settle();
    expect(backend.posts).toHaveLength(5);
    expect(counters.spansExported).toBe(5);
    await q.shutdown();
  });

  test("a failed export is counted, kept as lastError and reported", async () => {
    const backend = fakeBackend();
    const { q, counters, errors } = queue({ post: backend.post, maxBatchSpans: 2 });
    q.add(span);
    q.add(span);
    backend.posts[0]!.answer(false);
    await settle();
    expect(counters).toEqual({ spansExported: 0, exportFailures: 1, lastError: "trace export failed: answered 503" });
    expect(errors).toEqual(["trace export failed: answered 503"]);
    await q.shutdown();
  });

  test("a backend that does not answer fills the backlog; beyond it spans are dropped and counted", async () => {
    const backend = fakeBackend();
    const { q, counters } = queue({ post: backend.post, maxBatchSpans: 2, maxPendingSpans: 6 });
    for (let i = 0; i < 10; i++) q.add(span);
    expect(backend.posts).toHaveLength(2); // 4 spans in flight, 2 waiting, 4 dropped
    expect(counters.exportFailures).toBe(4);
    expect(counters.lastError).toContain("backlog full");
    for (const post of backend.posts) post.answer(true);
    await settle();
    q.add(span); // room again
    expect(counters.exportFailures).toBe(4);
    const done = q.shutdown();
    await settle();
    for (const post of backend.posts.slice(2)) post.answer(true);
    await done;
    expect(counters.spansExported).toBe(7);
  });

  test("shutdown sends everything pending at once and waits for the answers", async () => {
    const backend = fakeBackend();
    const { q, counters } = queue({ post: backend.post, maxBatchSpans: 2 });
    for (let i = 0; i < 7; i++) q.add(span);
    let finished = false;
    const done = q.shutdown().then(() => (finished = true));
    await settle();
    expect(backend.posts).toHaveLength(4); // 3 full batches and the last span, past the in-flight limit
    expect(finished).toBe(false);
    for (const post of backend.posts) post.answer(true);
    await done;
    expect(counters.spansExported).toBe(7);
    q.add(span); // after shutdown: ignored
    await settle();
    expect(backend.posts).toHaveLength(4);
  });
});
