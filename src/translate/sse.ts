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

/**
 * The upstream's SSE bytes in, the client's SSE bytes out. Events split
 * across chunks are reassembled by `eventsource-parser`; the last event is
 * read even without its closing blank line. Nothing thrown by a mapper
 * reaches the client stream: it becomes the client dialect's error event.
 */
export function createSseTranslator(mapper: StreamMapper): TransformStream<Uint8Array, Uint8Array> {
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
  const drain = (controller: TransformStreamDefaultController<Uint8Array>) => {
    if (out) controller.enqueue(encoder.encode(out));
    out = "";
  };
  return new TransformStream({
    transform(chunk, controller) {
      guard(() => (parser.feed(decoder.decode(chunk, { stream: true })), ""));
      drain(controller);
    },
    flush(controller) {
      // A blank line dispatches an event the upstream left unterminated (and adds nothing after a terminated one).
      guard(() => (parser.feed(`${decoder.decode()}\n\n`), ""));
      guard(() => mapper.end());
      drain(controller);
    },
  });
}
