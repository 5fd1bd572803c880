/**
 * A request body of undeclared length (chunked) read whole, unless it grows
 * past `limit` bytes: then the read stops there and `undefined` says so,
 * having held at most `limit` bytes. (A declared content-length, checked
 * against the limit first, is the body's exact length as the runtime frames
 * it, RFC 9112 §6.3: that body is read with one native `request.bytes()`.)
 */
export async function readBodyWithin(request: Request, limit: number): Promise<Uint8Array | undefined> {
  if (request.body === null) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}
