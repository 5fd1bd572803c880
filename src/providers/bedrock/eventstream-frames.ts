import { EventStreamCodec, type Message } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import type { FrameDecoder } from "../contract.ts";

/**
 * AWS event streams (`application/vnd.amazon.eventstream`), the framing of
 * Bedrock's ConverseStream and InvokeModelWithResponseStream, read on the
 * side as the bytes pass. Each message is a 12-byte prelude (total length,
 * headers length, prelude CRC32), headers, payload and a message CRC32
 * (AWS docs, "Event stream encoding"); `@smithy/eventstream-codec` checks the
 * checksums and parses the headers, this file only cuts the byte stream into
 * messages and names them for the stream readers in bedrock.ts.
 *
 * What each message is emitted as (`emit(data, event)`):
 * - `:message-type` event: the payload as text, under its `:event-type`;
 * - exception (a modeled error inside a 200 stream, e.g. throttlingException):
 *   the payload (`{"message": …}`) under `exception:<:exception-type>`;
 * - error: `{"message": <:error-message>}` under `error:<:error-code>`;
 * - a frame that does not decode (bad CRC, impossible length, cut off at the
 *   end): `{"message": why}` under `malformed`, once; nothing after it is
 *   read, since the next frame's start is no longer known. The client still
 *   gets every byte: this decoder only watches.
 * Event type names are identifiers, so none of these can be mistaken for one.
 */

export const EVENT_STREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream";
export const EXCEPTION_PREFIX = "exception:";
export const ERROR_PREFIX = "error:";
export const MALFORMED = "malformed";

/** Prelude and the two checksums: the smallest possible message. */
const MIN_MESSAGE_BYTES = 16;
/**
 * A length beyond this is a corrupt prelude, not a message: a Bedrock event
 * carries one chunk of output (kilobytes); without a cap, a bad length would
 * make the decoder keep the rest of the stream waiting for it.
 */
const MAX_MESSAGE_BYTES = 24 * 1024 * 1024;

const EMPTY = new Uint8Array(0);

type Emit = (data: string, event: string | undefined) => void;

export function createEventStreamFrames(): FrameDecoder {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const text = new TextDecoder();
  // Bytes of a message not complete yet, kept as received (joined once it is whole).
  let parts: Uint8Array[] = [];
  let held = 0;
  let needed = 0;
  let broken = false;

  const fail = (emit: Emit, why: string) => {
    broken = true;
    parts = [];
    held = 0;
    emit(JSON.stringify({ message: `malformed event stream: ${why}` }), MALFORMED);
  };

  const deliver = (message: Message, emit: Emit) => {
    const header = (name: string) => {
      const value = message.headers[name]?.value;
      return typeof value === "string" ? value : undefined;
    };
    switch (header(":message-type") ?? "event") {
      case "exception":
        return emit(text.decode(message.body), `${EXCEPTION_PREFIX}${header(":exception-type") ?? "unknown"}`);
      case "error":
        return emit(JSON.stringify({ message: header(":error-message") ?? "" }), `${ERROR_PREFIX}${header(":error-code") ?? "unknown"}`);
      default:
        return emit(text.decode(message.body), header(":event-type"));
    }
  };

  /** Decodes the whole messages at the start of `bytes`; returns where the unfinished one begins. */
  const drain = (bytes: Uint8Array, emit: Emit): number => {
    let at = 0;
    while (bytes.length - at >= 4) {
      const size = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0);
      if (size < MIN_MESSAGE_BYTES || size > MAX_MESSAGE_BYTES) {
        fail(emit, `a message claims ${size} bytes`);
        return bytes.length;
      }
      if (bytes.length - at < size) {
        needed = size;
        return at;
      }
      let message: Message;
      try {
        message = codec.decode(bytes.subarray(at, at + size));
      } catch (error) {
        fail(emit, (error as Error).message);
        return bytes.length;
      }
      at += size;
      deliver(message, emit);
    }
    needed = 4;
    return at;
  };

  return {
    feed(chunk, emit) {
      if (broken || chunk.byteLength === 0) return;
      if (held === 0) {
        const rest = drain(chunk, emit);
        if (!broken && rest < chunk.length) (parts = [chunk.slice(rest)]), (held = chunk.length - rest);
        return;
      }
      parts.push(chunk);
      held += chunk.byteLength;
      // A message split over many small chunks is joined once, when it is whole.
      if (held < needed) return;
      const joined = join(parts, held);
      parts = [];
      held = 0;
      const rest = drain(joined, emit);
      if (!broken && rest < joined.length) (parts = [joined.subarray(rest)]), (held = joined.length - rest);
    },
    end(emit) {
      if (!broken && held > 0) fail(emit, `the stream ended inside a message (${held} bytes of it)`);
    },
  };
}

function join(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0] ?? EMPTY;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) out.set(part, offset), (offset += part.byteLength);
  return out;
}
