import { decoderFor } from "../observe/response-observer.ts";
import type { Answer } from "./respond.ts";

const MASK = Buffer.from("***");

/**
 * An upstream error answer to a call Loupe put a stored provider key in, with
 * every occurrence of that key masked. Some upstreams quote the key they
 * refused (`invalid x-api-key: …`); unmasked, it would reach the caller, who
 * holds only a gateway key or a JWT and must never learn the provider key,
 * and the record, the spans and the API, whose redaction knows only some
 * providers' key formats. An encoded body is decoded to be searched, and
 * handed on decoded when it held the key; bytes without it go on untouched.
 */
export function maskStoredKey(answer: Answer, bytes: Uint8Array, storedKey: string): Uint8Array {
  const coding = answer.encoding?.toLowerCase().trim();
  const encoded = coding !== undefined && coding !== "" && coding !== "identity";
  const decode = encoded ? decoderFor(coding) : undefined;
  if (encoded && decode === undefined) return bytes; // a coding Loupe cannot read
  let text: Buffer;
  try {
    text = Buffer.from(decode ? decode(bytes) : bytes);
  } catch {
    return bytes; // not what its content-encoding says: handed on as it came
  }
  const key = Buffer.from(storedKey);
  let found = text.indexOf(key);
  if (found < 0) return bytes;
  const parts: Uint8Array[] = [];
  let from = 0;
  for (; found >= 0; found = text.indexOf(key, from)) {
    parts.push(text.subarray(from, found), MASK);
    from = found + key.length;
  }
  parts.push(text.subarray(from));
  answer.headers.delete("content-length");
  if (decode) {
    answer.headers.delete("content-encoding");
    answer.encoding = null;
  }
  return new Uint8Array(Buffer.concat(parts));
}
