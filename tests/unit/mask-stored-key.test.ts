import { describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { maskStoredKey } from "../../src/proxy/mask-stored-key.ts";
import type { Answer } from "../../src/proxy/respond.ts";

const KEY = "org-credential-Lz58Xc1Vb0Nm";
const answerOf = (encoding: string | null, length: number) =>
  ({ encoding, headers: new Headers({ "content-type": "application/json", "content-length": String(length), ...(encoding ? { "content-encoding": encoding } : {}) }) }) as Answer;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("an upstream error quoting the stored key Loupe sent", () => {
  test("every occurrence masked; the length header dropped, as the body changed", () => {
    const body = new TextEncoder().encode(`{"error":"bad key ${KEY}","again":"${KEY}"}`);
    const answer = answerOf(null, body.byteLength);
    expect(text(maskStoredKey(answer, body, KEY))).toBe('{"error":"bad key ***","again":"***"}');
    expect(answer.headers.has("content-length")).toBe(false);
  });

  test("a gzipped body is read, and handed on decoded and masked", () => {
    const body = gzipSync(`{"error":"bad key ${KEY}"}`);
    const answer = answerOf("gzip", body.byteLength);
    expect(text(maskStoredKey(answer, body, KEY))).toBe('{"error":"bad key ***"}');
    expect([answer.encoding, answer.headers.has("content-encoding"), answer.headers.has("content-length")]).toEqual([null, false, false]);
  });

  test("without the key, or in a coding Loupe cannot read, the bytes go on untouched", () => {
    for (const [encoding, body] of [[null, new TextEncoder().encode('{"error":"bad key"}')], ["gzip", gzipSync('{"error":"bad key"}')], ["compress", new Uint8Array([1, 2, 3])], ["gzip", new Uint8Array([1, 2, 3])]] as const) {
      const answer = answerOf(encoding, body.byteLength);
      expect(maskStoredKey(answer, body, KEY)).toBe(body);
      expect([answer.encoding, answer.headers.get("content-length")]).toEqual([encoding, String(body.byteLength)]);
    }
  });
});
