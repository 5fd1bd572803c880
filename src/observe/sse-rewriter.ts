import type { EventRewrite } from "../providers/contract.ts";

/**
 * Applies an adapter's per-event rewrite to an SSE byte stream on its way to
 * the client. Events (blocks ending in a blank line, WHATWG HTML §9.2.6) are
 * passed on whole; untouched events keep their exact bytes, and a dropped
 * event disappears with its blank line.
 */
export function createSseRewriter(rewrite: EventRewrite) {
  // ignoreBOM keeps a leading BOM in the text, so it reaches the client too.
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  const encoder = new TextEncoder();
  let buffer = "";

  function rewriteEvent(block: string): string {
    const match = /^data: ?(.*)$/m.exec(block);
    if (!match || match[1] === undefined) return block;
    let data: string | null;
    try {
      data = rewrite(match[1]);
    } catch {
      return block; // never break the client's stream over a rewrite
    }
    if (data === null) return "";
    return data === match[1] ? block : block.slice(0, match.index) + match[0].replace(match[1], () => data) + block.slice(match.index + match[0].length);
  }

  function take(final: boolean): Uint8Array {
    let out = "";
    const boundary = /\r\n\r\n|\n\n|\r\r/g;
    let start = 0;
    for (let m = boundary.exec(buffer); m; m = boundary.exec(buffer)) {
      const end = m.index + m[0].length;
      out += rewriteEvent(buffer.slice(start, end));
      start = end;
    }
    buffer = buffer.slice(start);
    if (final) (out += buffer), (buffer = "");
    return encoder.encode(out);
  }

  return {
    push(chunk: Uint8Array): Uint8Array {
      buffer += decoder.decode(chunk, { stream: true });
      return take(false);
    },
    end(): Uint8Array {
      buffer += decoder.decode();
      return take(true);
    },
  };
}
