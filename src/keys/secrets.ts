import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Everything LOUPE_SECRET protects. From each secret, HKDF-SHA256 derives
 * two independent keys: an AES-256-GCM key that seals stored provider keys,
 * and a pepper for the HMAC that stores gateway keys (only their hash is
 * kept). LOUPE_SECRET may list several secrets, comma-separated: the first
 * seals and hashes from now on, the others still open and match what they
 * made (rotation). A sealed value names the secret that made it (`kid`), so a
 * wrong secret is detected, never silently used.
 */
export class WrongSecretError extends Error {
  override name = "WrongSecretError";
}

export interface Secrets {
  /** The current secret's id (8 hex), stored beside what it seals. */
  readonly kid: string;
  /** Every configured secret's id, current first. */
  readonly kids: readonly string[];
  /** The hashes a presented gateway key would have under each configured secret (current first). */
  keyHashes(key: string): string[];
  seal(plaintext: string): string;
  /** Opens a sealed value; WrongSecretError when no configured secret made it, or it was tampered with. */
  open(sealed: string): string;
  /** A value proving which secret is in use, stored once per database: `<kid>.<mac>`. */
  verifier(): string;
  /** Whether a stored verifier was made by one of the configured secrets. */
  accepts(verifier: string): boolean;
}

interface Derived {
  kid: string;
  aes: Buffer;
  pepper: Buffer;
}

const MIN_LENGTH = 16;

function derive(secret: string): Derived {
  const aes = Buffer.from(hkdfSync("sha256", secret, "loupe", "provider-keys v1", 32));
  const pepper = Buffer.from(hkdfSync("sha256", secret, "loupe", "gateway-key pepper v1", 32));
  const kid = createHash("sha256").update(aes).digest("hex").slice(0, 8);
  return { kid, aes, pepper };
}

/** The secrets LOUPE_SECRET lists (comma-separated, current first); throws with a clear message on a weak one. */
export function createSecrets(setting: string): Secrets {
  const list = setting.split(",").map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new WrongSecretError("LOUPE_SECRET is empty");
  for (const secret of list) {
    if (secret.length < MIN_LENGTH) throw new WrongSecretError(`LOUPE_SECRET: each secret needs at least ${MIN_LENGTH} characters (openssl rand -base64 32 makes one)`);
  }
  const derived = list.map(derive);
  const current = derived[0]!;
  const byKid = new Map(derived.map((d) => [d.kid, d]));
  const mac = (d: Derived) => createHmac("sha256", d.aes).update("loupe-secret-verifier").digest("base64url");
  return {
    kid: current.kid,
    kids: derived.map((d) => d.kid),
    keyHashes: (key) => derived.map((d) => createHmac("sha256", d.pepper).update(key).digest("hex")),
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", current.aes, iv);
      const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return `v1.${current.kid}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url")}`;
    },
    open(sealed) {
      const [version, kid, data] = sealed.split(".");
      const d = kid ? byKid.get(kid) : undefined;
      if (version !== "v1" || !d || !data) throw new WrongSecretError(`a stored provider key was sealed with another LOUPE_SECRET (id ${kid ?? "?"}; configured: ${[...byKid.keys()].join(", ")})`);
      const bytes = Buffer.from(data, "base64url");
      try {
        const decipher = createDecipheriv("aes-256-gcm", d.aes, bytes.subarray(0, 12));
        decipher.setAuthTag(bytes.subarray(bytes.length - 16));
        return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString("utf8");
      } catch {
        throw new WrongSecretError("a stored provider key does not open with LOUPE_SECRET (tampered with, or a different secret)");
      }
    },
    verifier: () => `${current.kid}.${mac(current)}`,
    accepts(verifier) {
      const [kid, given] = verifier.split(".");
      const d = kid ? byKid.get(kid) : undefined;
      if (!d || !given) return false;
      const expected = Buffer.from(mac(d));
      const presented = Buffer.from(given);
      return expected.length === presented.length && timingSafeEqual(expected, presented);
    },
  };
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** `n` characters of base62, uniformly (rejection sampling: no modulo bias). */
export function randomBase62(n: number): string {
  let out = "";
  while (out.length < n) {
    for (const byte of randomBytes(n * 2)) {
      if (byte < 248) out += ALPHABET[byte % 62];
      if (out.length === n) break;
    }
  }
  return out;
}

export const GATEWAY_KEY_PREFIX = "lp_live_";

/** A new gateway key: shown once; only its hash (and first characters) are stored. */
export function newGatewayKey(secrets: Secrets): { id: string; key: string; hash: string; prefix: string } {
  const key = `${GATEWAY_KEY_PREFIX}${randomBase62(40)}`;
  return { id: `key_${randomBase62(12)}`, key, hash: secrets.keyHashes(key)[0]!, prefix: key.slice(0, GATEWAY_KEY_PREFIX.length + 4) };
}

/** First 8 hex of SHA-256: tells stored secrets apart without showing them. */
export function fingerprint(secret: string): string {
  return createHash("sha256").update(secret).digest("hex").slice(0, 8);
}
