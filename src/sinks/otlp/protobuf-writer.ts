/**
 * Protocol Buffers wire format (protobuf.dev/programming-guides/encoding),
 * written into one growable buffer: just what the OTLP messages need. A
 * nested message reserves one byte for its length and is shifted in place
 * when it turns out longer than 127 bytes, so nothing is built twice.
 */

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

const TWO_32 = 2 ** 32;
const utf8 = new TextEncoder();

export class ProtobufWriter {
  buf: Uint8Array;
  pos = 0;
  private view: DataView;

  constructor(initialBytes = 64 * 1024) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** The bytes written so far (a view: copy it before writing on). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }

  ensure(more: number): void {
    if (this.pos + more <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.pos + more));
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  /** A varint below 2^53 (lengths, counts, non-negative int64 values). */
  varint(value: number): void {
    this.ensure(10);
    this.varintUnchecked(value);
  }

  tag(field: number, wireType: number): void {
    this.ensure(5);
    this.varintUnchecked(field * 8 + wireType);
  }

  // Each write checks the room once for all it writes, then uses this (the checks were a third of the encoding time).
  private varintUnchecked(value: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (value > 0x7fffffff) {
      buf[pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    while (value > 0x7f) {
      buf[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[pos++] = value;
    this.pos = pos;
  }

  /** int64 (two's complement varint, ten bytes when negative). */
  int64(field: number, value: number): void {
    this.tag(field, VARINT);
    if (value >= 0) return this.varint(value);
    let rest = BigInt.asUintN(64, BigInt(value));
    this.ensure(10);
    while (rest > 0x7fn) {
      this.buf[this.pos++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.buf[this.pos++] = Number(rest);
  }

  uint32(field: number, value: number): void {
    this.ensure(15);
    this.varintUnchecked(field * 8 + VARINT);
    this.varintUnchecked(value);
  }

  bool(field: number, value: boolean): void {
    this.ensure(6);
    this.varintUnchecked(field * 8 + VARINT);
    this.buf[this.pos++] = value ? 1 : 0;
  }

  fixed32(field: number, value: number): void {
    this.ensure(9);
    this.varintUnchecked(field * 8 + FIXED32);
    this.view.setUint32(this.pos, value, true);
    this.pos += 4;
  }

  /** fixed64 from its two 32-bit halves (a JS number cannot hold every 64-bit value). */
  fixed64(field: number, high: number, low: number): void {
    this.ensure(13);
    this.varintUnchecked(field * 8 + FIXED64);
    this.view.setUint32(this.pos, low >>> 0, true);
    this.view.setUint32(this.pos + 4, high >>> 0, true);
    this.pos += 8;
  }

  /** fixed64 of a non-negative integer below 2^53 (counts). */
  fixed64Number(field: number, value: number): void {
    this.fixed64(field, Math.floor(value / TWO_32), value % TWO_32);
  }

  rawFixed64(high: number, low: number): void {
    this.ensure(8);
    this.view.setUint32(this.pos, low >>> 0, true);
    this.view.setUint32(this.pos + 4, high >>> 0, true);
    this.pos += 8;
  }

  double(field: number, value: number): void {
    this.ensure(13);
    this.varintUnchecked(field * 8 + FIXED64);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  rawDouble(value: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  string(field: number, value: string): void {
    const length = value.length;
    this.ensure(length + 6);
    this.varintUnchecked(field * 8 + LEN);
    // Short ASCII (keys, names, model ids): a loop beats a call into the encoder.
    if (length < 128) {
      const buf = this.buf;
      const start = this.pos;
      let pos = start + 1;
      let i = 0;
      for (; i < length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[pos++] = c;
      }
      if (i === length) {
        buf[start] = length;
        this.pos = pos;
        return;
      }
    }
    // UTF-8 is at most 3 bytes per UTF-16 unit: reserve the length for that, shift back after.
    const most = length * 3;
    const reserved = varintSize(most);
    this.ensure(reserved + most);
    const start = this.pos;
    const { written } = utf8.encodeInto(value, this.buf.subarray(start + reserved));
    this.pos = start + reserved + written;
    this.settleLength(start, reserved, written);
  }

  /** `bytes` given as lowercase hex (trace and span ids). */
  hexBytes(field: number, hex: string): void {
    const length = hex.length >>> 1;
    this.ensure(length + 6);
    this.varintUnchecked(field * 8 + LEN);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = length;
    for (let i = 0; i < hex.length; i += 2) buf[pos++] = HEX_PAIRS[(hex.charCodeAt(i) << 7) | hex.charCodeAt(i + 1)]!;
    this.pos = pos;
  }

  /** Bytes written as they are (a field encoded earlier). */
  raw(bytes: Uint8Array): void {
    const length = bytes.length;
    this.ensure(length);
    const buf = this.buf;
    let pos = this.pos;
    // Short runs: a loop is cheaper than a call into TypedArray.set.
    if (length < 64) for (let i = 0; i < length; i++) buf[pos++] = bytes[i]!;
    else {
      buf.set(bytes, pos);
      pos += length;
    }
    this.pos = pos;
  }

  /** Raw bytes as a length-delimited field. */
  lengthDelimited(field: number, bytes: Uint8Array): void {
    this.tag(field, LEN);
    this.varint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Opens a nested message (or packed field); returns the mark `close` needs. */
  open(field: number): number {
    this.ensure(6);
    this.varintUnchecked(field * 8 + LEN);
    return this.pos++;
  }

  close(mark: number): void {
    this.settleLength(mark, 1, this.pos - mark - 1);
  }

  /** Writes `length` at `at`, where `reserved` bytes were kept for it, moving the content if the varint needs another size. */
  private settleLength(at: number, reserved: number, length: number): void {
    const size = varintSize(length);
    if (size !== reserved) {
      this.ensure(size - reserved);
      this.buf.copyWithin(at + size, at + reserved, this.pos);
      this.pos += size - reserved;
    }
    let value = length;
    let pos = at;
    while (value > 0x7f) {
      this.buf[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buf[pos] = value;
  }
}

export function varintSize(value: number): number {
  let size = 1;
  while (value > 0x7f) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

// The byte of every pair of lowercase hex digits, indexed by their two char codes (ids are
// validated or generated lowercase hex): one load per byte, several times faster than arithmetic.
const HEX_PAIRS = new Uint8Array(128 * 128);
for (let high = 0; high < 16; high++) {
  for (let low = 0; low < 16; low++) HEX_PAIRS[(high.toString(16).charCodeAt(0) << 7) | low.toString(16).charCodeAt(0)] = high * 16 + low;
}
