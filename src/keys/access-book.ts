import type { AccessDefinitions, GatewayKey } from "./definitions.ts";
import { EMPTY_DEFINITIONS, matchesPattern } from "./definitions.ts";
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
  /** The stored secret for a provider and project (the project's own, else the default), decrypted now. */
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

export function createAccessBook(secrets: Secrets | undefined, initial: AccessDefinitions = EMPTY_DEFINITIONS): AccessBook {
  let definitions = initial;
  let byHash = new Map<string, GatewayKey>();
  let sealedBy = new Map<string, string>();
  const used = new Map<string, string>();
  const listeners: ((definitions: AccessDefinitions) => void)[] = [];

  function index(next: AccessDefinitions) {
    definitions = next;
    byHash = new Map(next.keys.map((key) => [key.hash, key]));
    sealedBy = new Map(next.providerKeys.map((pk) => [`${pk.provider}\u0000${pk.project ?? ""}`, pk.sealed]));
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
      let key: GatewayKey | undefined;
      for (const hash of secrets.keyHashes(presented)) if ((key = byHash.get(hash))) break;
      if (!key) return { problem: "unknown" };
      if (key.revoked_at) return { problem: "revoked" };
      if (key.expires_at && Date.parse(key.expires_at) <= now) return { problem: "expired" };
      used.set(key.id, new Date(now).toISOString());
      return { key };
    },
    providerSecret(provider, project) {
      const sealed = (project !== undefined ? sealedBy.get(`${provider}\u0000${project}`) : undefined) ?? sealedBy.get(`${provider}\u0000`);
      return sealed === undefined || !secrets ? undefined : secrets.open(sealed);
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
      const drained = new Map(used);
      used.clear();
      return drained;
    },
  };
}
