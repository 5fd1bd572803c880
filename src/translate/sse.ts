import { createParser, type EventSourceMessage } from "eventsource-parser";

/**
 * One direction of stream translation: it reads the upstream's SSE events and
 * writes the client's SSE text. `fail` renders a problem as the client
 * dialect's error event; after it, the mapper writes nothing more.
 */
export interface StreamMapper {
  event(message: EventSourceMessage): string;
  comment(text: string): string;
  /** The upstream ended: whatever closing events the client still needs. */
  end(): string;
  fail(message: string): string;
}

/** One SSE event (WHATWG HTML §9.2.6); `data` is a single line of JSON. */
export function encodeSse(data: string, event?: string): string {
  return event ? `event: ${event}\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}

/** The translation as push/end calls on bytes: what the proxy's stream pass-through takes (observe-body.ts `transform`). */
export interface SseTranslation {
  push(chunk: Uint8Array): Uint8Array;
  end(): Uint8Array;
}

/**
 * The upstream's SSE bytes in, the client's SSE bytes out. Events split
 * across chunks are reassembled by `eventsource-parser`; the last event is
 * read even without its closing blank line. Nothing thrown by a mapper
 * reaches the client stream: it becomes the client dialect's error event.
 */
export function createSseTranslation(mapper: StreamMapper): SseTranslation {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let out = "";
  let failed = false;
  const guard = (write: () => string) => {
    if (failed) return;
    try {
      const text = write(); // before reading `out`: a nested guard may append to it
      out += text;
    } catch (error) {
      failed = true;
      out += mapper.fail(`translation failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const parser = createParser({
    onEvent: (message) => guard(() => mapper.event(message)),
    onComment: (text) => guard(() => mapper.comment(text)),
  });
  const drain = () => {
    const bytes = encoder.encode(out);
    out = "";
    return bytes;
  };
  return {
    push(chunk) {
      guard(() => (parser.feed(decoder.decode(chunk, { stream: true })), ""));
      return drain();
    },
    end() {
      // A blank line dispatches an event the upstream left unterminated (and adds nothing after a terminated one).
      guard(() => (parser.feed(`${decoder.decode()}\n\n`), ""));
      guard(() => mapper.end());
      return drain();
    },
  };
}

/** The same as a TransformStream. */
export function createSseTranslator(mapper: StreamMapper): TransformStream<Uint8Array, Uint8Array> {
  const translation = createSseTranslation(mapper);
  return new TransformStream({
    transform(chunk, controller) {
      const out = translation.push(chunk);
      if (out.byteLength) controller.enqueue(out);
    },
    flush(controller) {
      const out = translation.end();
      if (out.byteLength) controller.enqueue(out);
    },
  });
}
