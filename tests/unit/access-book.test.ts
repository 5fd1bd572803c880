import { describe, expect, test } from "bun:test";
import { createAccessBook } from "../../src/keys/access-book.ts";
import type { AccessDefinitions, GatewayKey } from "../../src/keys/definitions.ts";
import { createSecrets, fingerprint, newGatewayKey } from "../../src/keys/secrets.ts";

/**
 * The access book remembers a presented key's hash and an opened provider key
 * (bench/keys.ts): what it remembers must never outlive the definitions that
 * made it. Every call is decided on the current snapshot.
 */
const secrets = createSecrets("access-book-secret-0123456789abcdef");
const now = new Date().toISOString();
const made = newGatewayKey(secrets);
const key: GatewayKey = { id: made.id, name: null, project: "p", user: null, providers: null, models: null, metadata: null, hash: made.hash, prefix: made.prefix, created_at: now, expires_at: null, revoked_at: null, last_used_at: null };
const stored = (secret: string) => ({ id: "pk_openai_0001", provider: "openai", project: null, sealed: secrets.seal(secret), fingerprint: fingerprint(secret), created_at: now });
const defs = (over: Partial<AccessDefinitions> = {}): AccessDefinitions => ({ keys: [key], providerKeys: [stored("sk-first")], limits: [], ...over });

describe("access book: what it remembers follows every change", () => {
  test("a key found before is refused at once once revoked, expired, deleted or rotated", () => {
    const book = createAccessBook(secrets, defs());
    expect(book.findKey(made.key)).toMatchObject({ key: { id: key.id } });
    expect(book.findKey(made.key)).toMatchObject({ key: { id: key.id } }); // from the remembered hash
    book.replace(defs({ keys: [{ ...key, revoked_at: now }] }));
    expect(book.findKey(made.key)).toEqual({ problem: "revoked" });
    book.replace(defs({ keys: [{ ...key, expires_at: new Date(Date.now() - 1000).toISOString() }] }));
    expect(book.findKey(made.key)).toEqual({ problem: "expired" });
    book.replace(defs({ keys: [] }));
    expect(book.findKey(made.key)).toEqual({ problem: "unknown" });
    const rotated = newGatewayKey(secrets);
    book.replace(defs({ keys: [{ ...key, hash: rotated.hash, prefix: rotated.prefix }] }));
    expect(book.findKey(made.key)).toEqual({ problem: "unknown" });
    expect(book.findKey(rotated.key)).toMatchObject({ key: { id: key.id } });
    book.replace(defs());
    expect(book.findKey(made.key)).toMatchObject({ key: { id: key.id } });
  });

  test("unknown keys are refused every time and a last use is drained as an ISO time", () => {
    const book = createAccessBook(secrets, defs());
    const stranger = newGatewayKey(secrets).key;
    expect(book.findKey(stranger)).toEqual({ problem: "unknown" });
    expect(book.findKey(stranger)).toEqual({ problem: "unknown" });
    book.findKey(made.key, Date.parse("2026-01-02T03:04:05.000Z"));
    expect(book.drainUsed()).toEqual(new Map([[key.id, "2026-01-02T03:04:05.000Z"]]));
    expect(book.drainUsed().size).toBe(0);
  });

  test("a provider key set again or deleted is never served from what was opened before", () => {
    const book = createAccessBook(secrets, defs());
    expect(book.providerSecret("openai", "p")).toBe("sk-first");
    expect(book.providerSecret("openai", "p")).toBe("sk-first");
    book.replace(defs({ providerKeys: [stored("sk-second")] }));
    expect(book.providerSecret("openai", "p")).toBe("sk-second");
    book.replace(defs({ providerKeys: [] }));
    expect(book.providerSecret("openai", "p")).toBeUndefined();
  });

  test("a value that does not open fails on every call", () => {
    const other = createSecrets("another-secret-0123456789abcdef0");
    const book = createAccessBook(secrets, defs({ providerKeys: [{ ...stored("x"), sealed: other.seal("sk-other") }] }));
    expect(() => book.providerSecret("openai", undefined)).toThrow();
    expect(() => book.providerSecret("openai", undefined)).toThrow();
  });
});
