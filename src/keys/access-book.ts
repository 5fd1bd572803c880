import type { AccessDefinitions, GatewayKey } from "./definitions.ts";
import { EMPTY_DEFINITIONS } from "./definitions.ts";
import { matchesPattern } from "../model-pattern.ts";
import { GATEWAY_KEY_PREFIX, type Secrets } from "./secrets.ts";

/**
 * The access definitions as the request thread reads them: in memory, one
 * map lookup per call. Admin changes (and, with Redis, other gateways'
 * changes) swap the whole snapshot with `replace`.
 */
export type KeyLookup = { key: GatewayKey } | { problem: "unknown" | "revoked" | "expired" };

export interface AccessBook {
  /** Any gateway key defined. */
  readonly hasKeys: boolean;
  readonly definitions: AccessDefinitions;
  /** The key a client presented (`lp_live_…`), or why it is refused. */
  findKey(presented: string, now?: number): KeyLookup;
  /** The stored secret for a provider and project (the project's own, else the default), decrypted (once per snapshot). */
  providerSecret(provider: string, project: string | undefined): string | undefined;
  /** Whether a key may call this provider and model. */
  allows(key: GatewayKey, provider: string, model: string | undefined): boolean;
  replace(definitions: AccessDefinitions): void;
  /** Called after every `replace` (the limiter follows the limits this way). */
  onReplace(listener: (definitions: AccessDefinitions) => void): void;
  /** Keys used since the last call, with when (for `last_used_at`); empties the list. */
  drainUsed(): Map<string, string>;
}

export function isGatewayKey(value: string): boolean {
  return value.startsWith(GATEWAY_KEY_PREFIX);
}

/** Presented keys whose hash is remembered, at most (then the memory starts over). */
const HASHES_KEPT = 4096;

export function createAccessBook(secrets: Secrets | undefined, initial: AccessDefinitions = EMPTY_DEFINITIONS): AccessBook {
  let definitions = initial;
  let byHash = new Map<string, GatewayKey>();
  let sealedBy = new Map<string, Map<string, string>>();
  /**
   * Sealed value → its plaintext, opened on first use and kept until the next
   * `replace`: AES-GCM per call was the largest cost of a keyed call after the
   * HMAC (bench/keys.ts). Keyed by the sealed text itself, so a provider key
   * set again or deleted is never served from here; a value that does not open
   * is not kept (the error comes again on every call). The plaintext sits in
   * memory as long as the definitions do, beside LOUPE_SECRET's key that opens it.
   */
  let opened = new Map<string, string>();
  /** Key id → when it was last used (epoch ms); formatted when drained, not on every call. */
  const used = new Map<string, number>();
  /**
   * A presented key → its stored hash, for keys that matched a defined key: an
   * HMAC per call was the largest cost of a keyed call (bench/keys.ts). Only
   * the hash is remembered, never the verdict: every call still looks the key
   * up by hash in the current definitions and checks revoked and expired, so a
   * revoked, rotated or deleted key is refused at once. The hash depends on the
   * presented key and LOUPE_SECRET alone (fixed for the process); unknown keys
   * are not remembered (they cannot fill it), and it starts over when full.
   */
  const hashOf = new Map<string, string>();
  const listeners: ((definitions: AccessDefinitions) => void)[] = [];

  function index(next: AccessDefinitions) {
    definitions = next;
    byHash = new Map(next.keys.map((key) => [key.hash, key]));
    sealedBy = new Map();
    for (const pk of next.providerKeys) {
      let forProvider = sealedBy.get(pk.provider);
      if (forProvider === undefined) sealedBy.set(pk.provider, (forProvider = new Map()));
      forProvider.set(pk.project ?? "", pk.sealed);
    }
    opened = new Map();
  }
  index(initial);

  return {
    get hasKeys() {
      return definitions.keys.length > 0;
    },
    get definitions() {
      return definitions;
    },
    findKey(presented, now = Date.now()) {
      if (!secrets) return { problem: "unknown" };
      const known = hashOf.get(presented);
      let key = known === undefined ? undefined : byHash.get(known);
      if (!key) {
        for (const hash of secrets.keyHashes(presented)) {
          if ((key = byHash.get(hash))) {
            if (hashOf.size >= HASHES_KEPT) hashOf.clear();
            hashOf.set(presented, hash);
            break;
          }
        }
      }
      if (!key) return { problem: "unknown" };
      if (key.revoked_at) return { problem: "revoked" };
      if (key.expires_at && Date.parse(key.expires_at) <= now) return { problem: "expired" };
      used.set(key.id, now);
      return { key };
    },
    providerSecret(provider, project) {
      const forProvider = sealedBy.get(provider);
      const sealed = forProvider && ((project !== undefined ? forProvider.get(project) : undefined) ?? forProvider.get(""));
      if (sealed === undefined || !secrets) return undefined;
      let secret = opened.get(sealed);
      if (secret === undefined) opened.set(sealed, (secret = secrets.open(sealed)));
      return secret;
    },
    allows(key, provider, model) {
      if (key.providers && !key.providers.includes(provider)) return false;
      if (key.models && model !== undefined && !key.models.some((pattern) => matchesPattern(pattern, model))) return false;
      return true;
    },
    replace(next) {
      index(next);
      for (const listener of listeners) listener(next);
    },
    onReplace: (listener) => void listeners.push(listener),
    drainUsed() {
      const drained = new Map([...used].map(([id, at]) => [id, new Date(at).toISOString()] as const));
      used.clear();
      return drained;
    },
  };
}
