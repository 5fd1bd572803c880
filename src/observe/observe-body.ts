/** How a proxied body ended, reported exactly once. */
export type BodyOutcome =
  | { kind: "complete" }
  | { kind: "client_cancel" }
  | { kind: "upstream_error"; error: unknown };

export interface ObserveOptions {
  /** Sees every upstream chunk as it passes (must not throw). */
  onChunk(chunk: Uint8Array): void;
  /** Changes what the client receives (e.g. drops an event Loupe asked for). */
  transform?: { push(chunk: Uint8Array): Uint8Array; end(): Uint8Array } | undefined;
  /** The body's length when the upstream declared it. */
  expectedBytes?: number | undefined;
  /**
   * Called once, before the client can see the body as complete: before the
   * last declared byte is handed on, else before the stream closes — so a
   * record written here exists by the time the client has its response.
   */
  settle(outcome: BodyOutcome, bytes: number): void;
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
  const settle = (outcome: BodyOutcome) => {
    if (settled) return;
    settled = true;
    try {
      options.settle(outcome, bytes);
    } catch {
      // recording never breaks the client's stream; failures are counted inside settle
    }
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // Loop until something is handed on: a pull that enqueues nothing is not called again.
        for (;;) {
          let result: Awaited<ReturnType<typeof reader.read>>;
          try {
            result = await reader.read();
          } catch (error) {
            settle({ kind: "upstream_error", error });
            controller.error(error);
            return;
          }
          if (result.done) {
            const tail = transform?.end();
            settle({ kind: "complete" });
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
          if (expectedBytes !== undefined && bytes >= expectedBytes) settle({ kind: "complete" });
          const out = transform ? transform.push(chunk) : chunk;
          if (out.byteLength > 0) {
            controller.enqueue(out);
            return;
          }
        }
      },
      cancel(reason) {
        settle({ kind: "client_cancel" });
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** What a body's end says went wrong, if anything: the client left, or the upstream broke off. */
export function outcomeError(outcome: BodyOutcome): { errorType?: string; errorMessage?: string } {
  if (outcome.kind === "client_cancel") return { errorType: "client_disconnected", errorMessage: "client closed the connection mid-response" };
  if (outcome.kind === "upstream_error") {
    const error = outcome.error as Error | undefined;
    return { errorType: "upstream_disconnected", errorMessage: `upstream body failed: ${error?.message ?? String(outcome.error)}` };
  }
  return {};
}
