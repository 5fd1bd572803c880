/**
 * Random trace ids (16 bytes) and span ids (8 bytes) as lowercase hex, cut
 * from a pool of random bytes turned into hex once per refill: an id costs a
 * substring, not a call into the random source.
 */
export interface IdGenerator {
  traceId(): string;
  spanId(): string;
}

export function createIdGenerator(poolBytes = 4096): IdGenerator {
  const bytes = new Uint8Array(poolBytes);
  let pool = "";
  let at = 0;
  function take(chars: number, zero: string): string {
    for (;;) {
      if (at + chars > pool.length) {
        crypto.getRandomValues(bytes);
        pool = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
        at = 0;
      }
      const id = pool.slice(at, at + chars);
      at += chars;
      if (id !== zero) return id; // all zeros is an invalid id (W3C Trace Context §3.2.2.3)
    }
  }
  const zeroTrace = "0".repeat(32);
  const zeroSpan = "0".repeat(16);
  return {
    traceId: () => take(32, zeroTrace),
    spanId: () => take(16, zeroSpan),
  };
}
