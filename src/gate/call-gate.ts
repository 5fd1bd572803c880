import type { LoupeError } from "../errors.ts";
import type { HeaderObject } from "../http/headers.ts";

/**
 * What the proxy asks before a call goes upstream (part 7; src/proxy/forward.ts): who the caller is
 * (a gateway key or a JWT), whether a limit lets the call through, and the
 * provider credential to send in place of the caller's. server.ts builds it
 * from the access book and the limiter (create-gate.ts); the proxy only
 * knows this interface. With nothing defined, `idle()` is true and a call
 * costs one function call more.
 */
export interface Identity {
  via: "key" | "jwt";
  /** The gateway key (`key_…`), for `key_id` and key limits. */
  keyId?: string | undefined;
  /** The project and end user the key or token names: they override the x-loupe-* headers. */
  project?: string | undefined;
  user?: string | undefined;
}

export interface Admission {
  /** X-RateLimit-* (the tightest limit) and warnings, on the response whatever it is. */
  headers?: Record<string, string> | undefined;
  /** A limit refused the call: the error (429, or 503 when the limit store is down and fails closed) and what to record. */
  refused?: { error: LoupeError; limitHit: string } | undefined;
  /**
   * Called once with the call's usage, when a token or USD limit needs it (absent: nothing to price for limits).
   * `costNano` undefined: the call has no price; `model` is the one it was (not) priced as.
   */
  settle?: ((usage: { tokens: number; costNano: bigint | undefined; model?: string | undefined }) => void) | undefined;
}

export interface CallGate {
  /** Nothing to check for any call: no keys, no JWT, no required key, no limits. */
  idle(): boolean;
  /** The caller, from the credential it sent; undefined: its own provider credential (pass-through), allowed. */
  identify(headers: HeaderObject): Identity | LoupeError | undefined | Promise<Identity | LoupeError | undefined>;
  /** Whether the identity may call this provider and model (a key's allowed lists). */
  permits(identity: Identity, provider: string, model: string | undefined): LoupeError | undefined;
  /**
   * Checks and counts the call against its limits. `isPriced` says whether the
   * call's model has a price: asked only when a USD limit applies, and a call
   * without one is refused (403) rather than counted as $0.
   */
  admit(
    subjects: { key?: string | undefined; project?: string | undefined; user?: string | undefined; model?: string | undefined },
    isPriced?: (model: string) => boolean,
  ): Admission | Promise<Admission>;
  /** The stored provider credential for an identified call, decrypted; undefined when none is stored. */
  credential(provider: string, project: string | undefined): string | undefined;
}

/** The headers SDKs carry their API key in: a gateway key may come in any of them, and a stored key replaces them all. */
export const CREDENTIAL_HEADERS = ["x-api-key", "authorization", "x-goog-api-key", "api-key"] as const;
