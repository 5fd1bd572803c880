import { createParser } from "eventsource-parser";
import { brotliDecompressSync, gunzipSync, inflateSync, zstdDecompressSync } from "node:zlib";
import type { Endpoint, FrameDecoder, ResponseFacts, StreamReader } from "../providers/contract.ts";
import type { ContentStreamReader, GenAIOutputMessage } from "../telemetry/genai-content.ts";
import { asObject } from "../usage/usage.ts";

/** `frames`: the provider's own framing (`Provider.frames`, e.g. binary event streams). */
export type BodyKind = "sse" | "ndjson" | "frames" | "json";

export interface ObserverOptions {
  endpoint: Endpoint | undefined;
  kind: BodyKind;
  /** The provider's decoder when `kind` is `frames`. */
  frames?: (() => FrameDecoder) | undefined;
  /** The response's content-encoding (bytes are forwarded still encoded). */
  encoding: string | null;
  /** Keep up to this many decoded bytes as the logged response body (0: none). */
  captureBytes: number;
  /** Also read the output messages (opt-in content capture). */
  captureContent?: boolean;
}

export interface Observation {
  facts: ResponseFacts;
  body: string | undefined;
  /** Output messages, when content capture was asked for. */
  content?: GenAIOutputMessage[] | undefined;
  /** Events or bodies that could not be read; the call is still recorded. */
  problems: string[];
}

/** For whole bodies (no state between calls, so one serves all). */
const wholeDecoder = new TextDecoder();

/** Bodies larger than this are forwarded but not parsed for usage. */
const PARSE_LIMIT = 64 * 1024 * 1024;

const DECODERS: Record<string, (data: Uint8Array) => Uint8Array> = {
  gzip: gunzipSync,
  "x-gzip": gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
  zstd: zstdDecompressSync,
};

/** The decoder of a content-encoding this module reads (undefined for identity and for codings it does not know). */
export const decoderFor = (encoding: string): ((data: Uint8Array) => Uint8Array) | undefined => DECODERS[encoding.toLowerCase().trim()];

/**
 * Reads usage from the same bytes the client receives, on the side. Plain
 * event streams are parsed as they pass; JSON bodies and compressed bodies
 * are kept (up to a limit) and read once at the end. Nothing here throws.
 */
export function createResponseObserver(options: ObserverOptions) {
  const { endpoint, kind, captureBytes } = options;
  const encoding = options.encoding?.toLowerCase().trim() || "identity";
  const incremental = kind !== "json" && encoding === "identity";
  const problems: string[] = [];
  const reader: StreamReader | undefined = kind === "json" ? undefined : endpoint?.createStreamReader?.();
  const contentReader: ContentStreamReader | undefined =
    options.captureContent && kind !== "json" ? endpoint?.content?.createContentStreamReader?.() : undefined;
  let content: GenAIOutputMessage[] | undefined;
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let captured = "";
  const decoder = incremental ? new TextDecoder() : wholeDecoder;

  const onEvent = (data: string, event: string | undefined) => {
    try {
      contentReader?.onEvent(data, event);
    } catch {
      // content capture is best effort
    }
    if (!reader) return;
    try {
      reader.onEvent(data, event);
    } catch (error) {
      if (problems.length < 5) problems.push(`unreadable event: ${(error as Error).message}`);
    }
  };
  const streamResult = (): ResponseFacts => {
    if (contentReader) content = contentReader.result();
    return reader?.result() ?? {};
  };
  // Only event streams need the SSE parser (most calls are plain JSON).
  const parser = kind === "sse" ? createParser({ onEvent: (message) => onEvent(message.data, message.event) }) : undefined;
  // A provider's framing takes bytes, not text; its body is not kept as text either.
  const frames = kind === "frames" ? options.frames?.() : undefined;
  let ndjsonRest = "";
  let endsInCr = false;
  const feedText = (text: string) => {
    if (text) endsInCr = text.endsWith("\r");
    if (parser) parser.feed(text);
    else {
      const lines = (ndjsonRest + text).split("\n");
      ndjsonRest = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) onEvent(line, undefined);
    }
  };
  /**
   * The body ended. A CR alone ends a line (WHATWG HTML §9.2.6), but the
   * parser holds a last CR back to see whether an LF follows: the LF it waits
   * for makes it end that line. An event without its blank line is dropped.
   */
  const endText = () => {
    if (parser) {
      if (endsInCr) parser.feed("\n");
      parser.reset({ consume: true });
    } else if (ndjsonRest.trim()) onEvent(ndjsonRest, undefined);
  };
  const capture = (text: string) => {
    if (captured.length < captureBytes) captured += text.slice(0, captureBytes - captured.length);
  };

  return {
    feed(chunk: Uint8Array): void {
      if (frames && incremental) return frames.feed(chunk, onEvent);
      if (incremental) {
        const text = decoder.decode(chunk, { stream: true });
        feedText(text);
        capture(text);
        return;
      }
      if (kept + chunk.byteLength > PARSE_LIMIT) {
        if (kept <= PARSE_LIMIT) problems.push(`body over ${PARSE_LIMIT} bytes: not parsed`);
        kept = PARSE_LIMIT + 1;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
      kept += chunk.byteLength;
    },

    finish(): Observation {
      try {
        if (frames && incremental) {
          frames.end(onEvent);
          return { facts: streamResult(), body: undefined, content, problems };
        }
        if (incremental) {
          const rest = decoder.decode();
          feedText(rest);
          capture(rest);
          endText();
          return { facts: streamResult(), body: captureBytes ? captured : undefined, content, problems };
        }
        if (kept > PARSE_LIMIT) return { facts: {}, body: undefined, problems };
        const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        if (kind === "json") return readWholeBody(endpoint, raw, { encoding, captureBytes, captureContent: options.captureContent === true });
        const decode = DECODERS[encoding];
        if (!decode && encoding !== "identity") {
          return { facts: {}, body: undefined, problems: [`content-encoding ${encoding} not readable`] };
        }
        if (frames) {
          frames.feed(decode ? decode(raw) : raw, onEvent);
          frames.end(onEvent);
          return { facts: streamResult(), body: undefined, content, problems };
        }
        const text = wholeDecoder.decode(decode ? decode(raw) : raw);
        capture(text);
        feedText(text);
        endText();
        return { facts: streamResult(), body: captureBytes ? captured : undefined, content, problems };
      } catch (error) {
        problems.push(`unreadable response: ${(error as Error).message}`);
        return { facts: streamResult(), body: captureBytes ? captured : undefined, content, problems };
      }
    },
  };
}

/**
 * Reads a whole JSON response body: usage and the other facts, the body as
 * logged (up to `captureBytes` decoded bytes), and output messages when
 * content capture is on. One parse, no state: the recorder reads journaled
 * bodies with it, and the proxy the bodies that must not reach disk.
 * Nothing here throws.
 */
export function readWholeBody(
  endpoint: Endpoint | undefined,
  raw: Uint8Array,
  options: { encoding: string | null; captureBytes: number; captureContent: boolean },
): Observation {
  const encoding = options.encoding?.toLowerCase().trim() || "identity";
  const decode = DECODERS[encoding];
  if (!decode && encoding !== "identity") return { facts: {}, body: undefined, problems: [`content-encoding ${encoding} not readable`] };
  let body: string | undefined;
  try {
    if (raw.byteLength > PARSE_LIMIT) return { facts: {}, body: undefined, problems: [`body over ${PARSE_LIMIT} bytes: not parsed`] };
    const text = wholeDecoder.decode(decode ? decode(raw) : raw);
    if (options.captureBytes > 0) body = text.length > options.captureBytes ? text.slice(0, options.captureBytes) : text;
    if (text.trim() === "") return { facts: {}, body, problems: [] };
    const json: unknown = JSON.parse(text);
    let content: GenAIOutputMessage[] | undefined;
    if (options.captureContent) {
      try {
        content = endpoint?.content?.readResponseContent?.(json);
      } catch {
        // content capture is best effort
      }
    }
    return { facts: endpoint?.readResponse?.(json) ?? readGenericError(json), body, content, problems: [] };
  } catch (error) {
    return { facts: {}, body, problems: [`unreadable response: ${(error as Error).message}`] };
  }
}

/** Error bodies of unknown endpoints still say what went wrong, in the common error shapes (`error.type`, `.status` or `.code`, and `.message`). */
function readGenericError(body: unknown): ResponseFacts {
  const error = asObject(asObject(body)?.error);
  if (!error) return {};
  const type = error.type ?? error.status ?? error.code;
  return {
    errorType: typeof type === "string" ? type : undefined,
    errorMessage: typeof error.message === "string" ? error.message : undefined,
  };
}
