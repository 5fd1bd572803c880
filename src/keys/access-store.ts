import type { AccessDefinitions, AuditEntry } from "./definitions.ts";

/** What the database holds for access: the definitions and the verifier of the LOUPE_SECRET that sealed them. */
export interface StoredAccess {
  definitions: AccessDefinitions;
  /** `secrets.verifier()` of the secret in use when something secret was first stored; null: none yet. */
  verifier: string | null;
}

/**
 * Where the access definitions persist: the DuckDB file (tables
 * `gateway_keys`, `provider_keys`, `limits`, `admin_audit`, `access_secret`),
 * reached through the recording worker while a gateway serves, or opened
 * directly by a command when none does. Plain data in and out.
 */
export interface AccessStore {
  loadAccess(): Promise<StoredAccess>;
  /** Replaces every definition (they are few: one transaction rewrites them all) and the verifier. */
  saveAccess(stored: StoredAccess): Promise<void>;
  audit(entry: AuditEntry): Promise<void>;
  /** The newest entries first. */
  listAudit(limit: number): Promise<AuditEntry[]>;
  /** Sets `last_used_at` of these keys (id → ISO time). */
  touchKeys(used: Record<string, string>): Promise<void>;
}

/** An AccessStore in memory: the app tests' and a `:memory:` harness's. */
export function createMemoryAccessStore(initial?: StoredAccess): AccessStore {
  let stored: StoredAccess = structuredClone(initial ?? { definitions: { keys: [], providerKeys: [], limits: [] }, verifier: null });
  const audit: AuditEntry[] = [];
  return {
    loadAccess: async () => structuredClone(stored),
    async saveAccess(next) {
      stored = structuredClone(next);
    },
    async audit(entry) {
      audit.push({ ...entry });
    },
    listAudit: async (limit) => audit.slice(-limit).reverse(),
    async touchKeys(used) {
      stored.definitions.keys = stored.definitions.keys.map((key) => (used[key.id] ? { ...key, last_used_at: used[key.id]! } : key));
    },
  };
}
