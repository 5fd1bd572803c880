import { describe, expect, test } from "bun:test";
import { encodeOrigin } from "../../src/sinks/otlp/otlp-common.ts";
import { createSpanBatch, SPAN_KIND, type FinishedSpan } from "../../src/sinks/otlp/otlp-spans.ts";
import { createSpanExportQueue, type ExportCounters, type SpanExportOptions } from "../../src/sinks/otlp/span-export-queue.ts";
import { createOtlpPost, OtlpExportError } from "../../src/sinks/otlp/otlp-post.ts";

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
  const posts: { body: Uint8Array; answer: (ok: boolean | Error) => void }[] = [];
  const post = (body: Uint8Array) =>
    new Promise<void>((resolve, reject) =>
      posts.push({ body, answer: (ok) => (ok === true ? resolve() : reject(ok === false ? new Error("answered 400") : ok)) }),
    );
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

  test("settled sends what is batched now and resolves once every span is answered; dropped counts what was given up on", async () => {
    const backend = fakeBackend();
    const { q } = queue({ post: backend.post, maxBatchSpans: 100, maxPendingSpans: 4, maxRetries: 0 });
    q.add(span);
    q.add(span);
    let done = false;
    const settled = q.settled().then(() => (done = true));
    // Not waiting for the batch delay: the open batch left at once.
    expect(backend.posts).toHaveLength(1);
    await Bun.sleep(5);
    expect(done).toBe(false);
    backend.posts[0]!.answer(true);
    await settled;
    expect(q.dropped).toBe(0);
    // A refused batch (not retried) and a span beyond the backlog are given up on, and counted.
    for (let i = 0; i < 5; i++) q.add(span);
    expect(q.dropped).toBe(1);
    const second = q.settled();
    backend.posts[1]!.answer(false);
    await second;
    expect(q.dropped).toBe(5);
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
    expect(counters).toEqual({ spansExported: 0, exportFailures: 1, lastError: "trace export failed: answered 400" });
    expect(errors).toEqual(["trace export failed: answered 400"]);
    await settle();
    expect(backend.posts).toHaveLength(1); // not a transient failure: not sent again
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

  test("transient failures are sent again after a growing delay (Retry-After first), and counted each time", async () => {
    const backend = fakeBackend();
    const { q, counters } = queue({ post: backend.post, maxBatchSpans: 2, retryDelayMs: 20, maxPendingSpans: 2 });
    q.add(span);
    q.add(span);
    backend.posts[0]!.answer(new OtlpExportError("answered 503", true));
    await settle();
    expect(counters.exportFailures).toBe(1);
    expect(counters.lastError).toBe("trace export failed (will retry): answered 503");
    q.add(span); // the batch waiting to be retried still fills the backlog
    expect(counters.exportFailures).toBe(2);
    expect(backend.posts).toHaveLength(1);
    await Bun.sleep(40);
    expect(backend.posts).toHaveLength(2);
    expect(backend.posts[1]!.body).toEqual(backend.posts[0]!.body);
    backend.posts[1]!.answer(new OtlpExportError("answered 429", true, 80));
    await Bun.sleep(50); // 2 × 20 ms would have passed; Retry-After asked for 80
    expect(backend.posts).toHaveLength(2);
    await Bun.sleep(60);
    expect(backend.posts).toHaveLength(3);
    backend.posts[2]!.answer(true);
    await settle();
    expect(counters).toMatchObject({ spansExported: 2, exportFailures: 3 });
    await q.shutdown();
  });

  test("retries stop after maxRetries; shutdown gives a batch in backoff its last try at once", async () => {
    const backend = fakeBackend();
    const { q, counters } = queue({ post: backend.post, maxBatchSpans: 1, retryDelayMs: 5, maxRetries: 2 });
    q.add(span);
    for (let i = 0; i < 3; i++) {
      await Bun.sleep(30);
      backend.posts[i]!.answer(new OtlpExportError("no answer", true));
    }
    await Bun.sleep(30);
    expect(backend.posts).toHaveLength(3); // the first try and 2 retries
    expect(counters.lastError).toBe("trace export failed: no answer");

    const slow = fakeBackend();
    const second = queue({ post: slow.post, maxBatchSpans: 1, retryDelayMs: 60_000 });
    second.q.add(span);
    slow.posts[0]!.answer(new OtlpExportError("answered 502", true));
    await settle();
    const done = second.q.shutdown();
    await settle();
    expect(slow.posts).toHaveLength(2);
    slow.posts[1]!.answer(true);
    await done;
    expect(second.counters.spansExported).toBe(1);
    await q.shutdown();
  });

  test("an OTLP POST tells transient failures (429, 502–504, no answer) from the others, with Retry-After", async () => {
    const statuses = [503, 429, 400, 500];
    const server = Bun.serve({
      port: 0,
      fetch: () => {
        const status = statuses.shift()!;
        return new Response("busy", { status, headers: status === 503 ? { "retry-after": "2" } : {} });
      },
    });
    const target = { url: `http://127.0.0.1:${server.port}/v1/traces`, headers: {}, protocol: "http/protobuf" as const, timeoutMs: 1000, compression: undefined };
    const post = createOtlpPost(target as never, "application/x-protobuf");
    const outcome = async () => {
      const error = (await post(new Uint8Array([1])).then(() => undefined, (e) => e)) as OtlpExportError;
      return [error.retryable, error.retryAfterMs];
    };
    expect(await outcome()).toEqual([true, 2000]);
    expect(await outcome()).toEqual([true, undefined]);
    expect(await outcome()).toEqual([false, undefined]);
    expect(await outcome()).toEqual([false, undefined]);
    server.stop(true);
    expect(await outcome()).toEqual([true, undefined]); // nobody listening
  });

  test("whenRoom holds a producer while the backlog is over half full, and lets it go once answers come or exports fail", async () => {
    const backend = fakeBackend();
    const { q } = queue({ post: backend.post, maxBatchSpans: 2, maxPendingSpans: 8 });
    for (let i = 0; i < 6; i++) q.add(span); // 6 pending > 8 / 2
    let roomy = false;
    const room = q.whenRoom().then(() => (roomy = true));
    await settle();
    expect(roomy).toBe(false);
    backend.posts[0]!.answer(true); // 4 pending
    await room;
    expect(roomy).toBe(true);
    for (let i = 0; i < 4; i++) q.add(span); // 8 pending
    let released = false;
    const failingRoom = q.whenRoom().then(() => (released = true));
    await settle();
    expect(released).toBe(false);
    backend.posts[1]!.answer(false); // failing: waiting would only end in drops
    await failingRoom;
    expect(released).toBe(true);
    const done = q.shutdown();
    await settle();
    for (const post of backend.posts.slice(2)) post.answer(true);
    await done;
  });
});
