/** How a proxied body ended, reported exactly once. */
export type BodyOutcome =
  | { kind: "complete" }
  | { kind: "client_cancel" }
  | { kind: "upstream_error"; error: unknown }
  | { kind: "deadline" }
  | { kind: "idle" };

export interface ObserveOptions {
  /** Sees every upstream chunk as it passes (must not throw). */
  onChunk(chunk: Uint8Array): void;
  /** Changes what the client receives (e.g. drops an event Loupe asked for). */
  transform?: { push(chunk: Uint8Array): Uint8Array; end(): Uint8Array } | undefined;
  /** The body's length when the upstream declared it. */
  expectedBytes?: number | undefined;
  /**
   * Ends the body at this time (epoch ms): the upstream read is cancelled and
   * `closing` (the provider's own final events) is handed on instead.
   */
  deadline?: { at: number; closing: () => Uint8Array } | undefined;
  /**
   * Ends the body when the upstream sends nothing for this long (ms) between
   * chunks, the same way: the provider's closing events, then the end.
   */
  idle?: { ms: number; closing: () => Uint8Array } | undefined;
  /**
   * Called once, before the client can see the body as complete: before the
   * last declared byte is handed on, else before the stream closes — so a
   * record written here exists by the time the client has its response. A
   * promise it returns holds those last bytes (or the close, or the error)
   * until it settles: the event's sync with LOUPE_JOURNAL_FSYNC=always.
   */
  settle(outcome: BodyOutcome, bytes: number): Promise<void> | void;
}

/**
 * Passes an upstream body to the client chunk by chunk without buffering or
 * tee-ing: the client pulls (its backpressure reaches the upstream read), the
 * side observer sees the same bytes, and the outcome settles exactly once —
 * on completion, client cancel, or upstream failure.
 */
export function observeBody(upstream: ReadableStream<Uint8Array>, options: ObserveOptions): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const { transform, expectedBytes } = options;
  let bytes = 0;
  let settled = false;
  const settle = (outcome: BodyOutcome): Promise<void> | void => {
    if (settled) return;
    settled = true;
    try {
      return options.settle(outcome, bytes);
    } catch {
      // recording never breaks the client's stream; failures are counted inside settle
    }
  };

  // The deadline, as a promise every read races (only when one is set: no timer otherwise); the idle limit, one per read.
  const deadline = options.deadline;
  const idle = options.idle;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = deadline && new Promise<"deadline">((resolve) => (timer = setTimeout(() => resolve("deadline"), Math.max(0, deadline.at - Date.now()))));
  let lastByte = 10; // "\n": the stream starts at an event boundary
  const clearDeadline = () => timer !== undefined && clearTimeout(timer);

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // Loop until something is handed on: a pull that enqueues nothing is not called again.
        for (;;) {
          let result: Awaited<ReturnType<typeof reader.read>>;
          try {
            const read = reader.read();
            let idleTimer: ReturnType<typeof setTimeout> | undefined;
            const quiet = idle && new Promise<"idle">((resolve) => (idleTimer = setTimeout(() => resolve("idle"), idle.ms)));
            const first = expired || quiet ? await Promise.race(quiet ? (expired ? [read, expired, quiet] : [read, quiet]) : [read, expired!]) : await read;
            if (idleTimer !== undefined) clearTimeout(idleTimer);
            if (first === "deadline" || first === "idle") {
              clearDeadline();
              reader.cancel(first === "idle" ? "stream idle" : "stream deadline").catch(() => {});
              const durable = settle({ kind: first });
              if (durable) await durable;
              // A cut inside an event is ended first, so the closing events parse as events of their own.
              const separator = lastByte === 10 ? "" : "\n\n";
              const events = first === "idle" ? idle!.closing() : deadline!.closing();
              const closing = separator ? new Uint8Array([...new TextEncoder().encode(separator), ...events]) : events;
              if (closing.byteLength) controller.enqueue(closing);
              controller.close();
              return;
            }
            result = first;
          } catch (error) {
            clearDeadline();
            const durable = settle({ kind: "upstream_error", error });
            if (durable) await durable;
            controller.error(error);
            return;
          }
          if (result.done) {
            clearDeadline();
            const tail = transform?.end();
            const durable = settle({ kind: "complete" });
            if (durable) await durable;
            if (tail?.byteLength) controller.enqueue(tail);
            controller.close();
            return;
          }
          const chunk = result.value;
          bytes += chunk.byteLength;
          try {
            options.onChunk(chunk);
          } catch {
            // the observer is on the side
          }
          if (expectedBytes !== undefined && bytes >= expectedBytes) {
            const durable = settle({ kind: "complete" });
            if (durable) await durable;
          }
          const out = transform ? transform.push(chunk) : chunk;
          if (out.byteLength > 0) {
            lastByte = out[out.byteLength - 1]!;
            controller.enqueue(out);
            return;
          }
        }
      },
      cancel(reason) {
        clearDeadline();
        settle({ kind: "client_cancel" });
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** What a body's end says went wrong, if anything: the client left, or the upstream broke off. */
export function outcomeError(outcome: BodyOutcome): { errorType?: string; errorMessage?: string } {
  if (outcome.kind === "idle") return { errorType: "stream_idle_timeout", errorMessage: "the upstream sent nothing for longer than the idle timeout; the stream was ended with the provider's closing events" };
  if (outcome.kind === "deadline") return { errorType: "stream_deadline", errorMessage: "the stream reached LOUPE_STREAM_DEADLINE_S and was ended with the provider's closing events" };
  if (outcome.kind === "client_cancel") return { errorType: "client_disconnected", errorMessage: "client closed the connection mid-response" };
  if (outcome.kind === "upstream_error") {
    const error = outcome.error as Error | undefined;
    return { errorType: "upstream_disconnected", errorMessage: `upstream body failed: ${error?.message ?? String(outcome.error)}` };
  }
  return {};
}
