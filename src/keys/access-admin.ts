import type { AccessBook } from "./access-book.ts";
import { AccessInputError, AccessNotFoundError, NO_SECRET_MESSAGE } from "./access-errors.ts";
import type { AccessStore, StoredAccess } from "./access-store.ts";
import { limitSchema, type AuditEntry, type GatewayKey, type Limit, type LimitMetric, type LimitScope, type ProviderKey } from "./definitions.ts";
import { fingerprint, newGatewayKey, randomBase62, type Secrets } from "./secrets.ts";

/** Who made a change, for the audit: the admin token, a dashboard session, a local command, or an open (loopback, no token) gateway. */
export type Actor = "admin-token" | "dashboard" | "cli" | "local";

export interface CreateKeyInput {
  project: string;
  user?: string | undefined;
  name?: string | undefined;
  expiresInS?: number | undefined;
  providers?: string[] | undefined;
  models?: string[] | undefined;
  metadata?: Record<string, string> | undefined;
}

/** A key as lists show it: never the key, never its hash. */
export type KeyView = Omit<GatewayKey, "hash"> & { status: "active" | "revoked" | "expired" };
/** A provider key as lists show it: never the secret, sealed or not. */
export type ProviderKeyView = Omit<ProviderKey, "sealed">;

export interface SetProviderKeyInput {
  provider: string;
  project?: string | undefined;
  /** As given: an API key, or JSON (`{"key","baseUrl"}` for Azure, AWS credentials for Bedrock). */
  secret: string;
}

export interface ClearLimitInput {
  scope: LimitScope;
  subject: string;
  metric?: LimitMetric | undefined;
}

/** What the API and the commands ask (over HTTP or in process: the same shapes). */
export interface AccessCommands {
  createKey(input: CreateKeyInput, actor: Actor): Promise<{ id: string; key: string }>;
  listKeys(): Promise<KeyView[]>;
  revokeKey(id: string, actor: Actor): Promise<KeyView>;
  rotateKey(id: string, actor: Actor): Promise<{ id: string; key: string }>;
  setProviderKey(input: SetProviderKeyInput, actor: Actor): Promise<ProviderKeyView>;
  listProviderKeys(): Promise<ProviderKeyView[]>;
  deleteProviderKey(id: string, actor: Actor): Promise<void>;
  setLimit(limit: Limit, actor: Actor): Promise<Limit>;
  listLimits(): Promise<Limit[]>;
  /** Removes the subject's limits (of one metric when given); how many went. */
  clearLimit(input: ClearLimitInput, actor: Actor): Promise<{ removed: number }>;
  listAudit(limit: number): Promise<AuditEntry[]>;
}

export interface AccessAdmin extends AccessCommands {
  /** The definitions and verifier as stored now. */
  readonly stored: StoredAccess;
  /** Takes definitions changed elsewhere (another gateway, through Redis): stores them locally and serves them, unless `stillCurrent` says a newer change came since. */
  adopt(stored: StoredAccess, stillCurrent?: () => boolean): Promise<void>;
  /** Writes the keys used since the last flush to `last_used_at` (every ~10 s, and at shutdown). */
  flushUsed(): Promise<void>;
}

/** Shares a change with other gateways; `false`: another change came first (then `latest` gives it). */
export interface DefinitionsPublisher {
  publish(stored: StoredAccess): Promise<boolean>;
  latest(): Promise<StoredAccess | undefined>;
}

export interface AccessAdminOptions {
  store: AccessStore;
  book: AccessBook;
  secrets: Secrets | undefined;
  initial: StoredAccess;
  publisher?: DefinitionsPublisher | undefined;
  now?: () => Date;
}

const PROVIDER_ID = /^[a-z0-9][a-z0-9_-]*$/;
const sameLimit = (a: Limit, b: Limit) => a.scope === b.scope && a.subject === b.subject && a.metric === b.metric && JSON.stringify(a.window) === JSON.stringify(b.window);

function keyStatus(key: GatewayKey, now: Date): KeyView["status"] {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && Date.parse(key.expires_at) <= now.getTime()) return "expired";
  return "active";
}

function listOf(values: string[] | undefined, what: string): string[] | null {
  if (values === undefined) return null;
  const list = values.map((v) => v.trim()).filter(Boolean);
  if (list.length === 0) throw new AccessInputError(`${what}: give at least one, or leave it out for any`);
  return list;
}

/**
 * The one place access definitions change. Each change is computed from the
 * current definitions, shared first (Redis, when configured: a conflicting
 * change made elsewhere is taken in and the change re-applied), then stored
 * in the DuckDB file, swapped into the AccessBook the request thread reads,
 * and audited. Changes run one at a time.
 */
export function createAccessAdmin(options: AccessAdminOptions): AccessAdmin {
  const { store, book, secrets, publisher } = options;
  const now = options.now ?? (() => new Date());
  let stored: StoredAccess = options.initial;
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work);
    queue = run.catch(() => undefined);
    return run;
  };

  function needSecrets(): Secrets {
    if (!secrets) throw new AccessInputError(NO_SECRET_MESSAGE);
    return secrets;
  }

  async function install(next: StoredAccess) {
    await store.saveAccess(next);
    stored = next;
    book.replace(next.definitions);
  }

  /** Applies `change` to the current definitions (again, after taking in another gateway's change, when the publish lost a race). */
  async function change<T>(actor: Actor, action: string, apply: (current: StoredAccess) => { next: StoredAccess; target: string; detail?: unknown; result: T }): Promise<T> {
    return serially(async () => {
      for (let attempt = 0; ; attempt++) {
        const { next, target, detail, result } = apply(stored);
        if (publisher && !(await publisher.publish(next))) {
          const latest = await publisher.latest();
          if (latest) await install(mergeLastUsed(latest, stored));
          if (attempt < 5) continue;
          throw new AccessInputError("the access definitions keep changing elsewhere; try again");
        }
        await install(next);
        await store.audit({ at: now().toISOString(), actor, action, target, detail: detail === undefined ? null : JSON.stringify(detail) });
        return result;
      }
    });
  }

  /** The verifier to store once something secret is: the current secret's, unless one is stored already. */
  const verifierFor = (current: StoredAccess, s: Secrets) => current.verifier ?? s.verifier();
  const findKey = (current: StoredAccess, id: string) => {
    const key = current.definitions.keys.find((k) => k.id === id);
    if (!key) throw new AccessNotFoundError(`no gateway key ${id}`);
    return key;
  };
  const withKeys = (current: StoredAccess, keys: GatewayKey[], verifier: string | null): StoredAccess => ({ definitions: { ...current.definitions, keys }, verifier });
  const view = (key: GatewayKey): KeyView => {
    const { hash: _, ...rest } = key;
    return { ...rest, status: keyStatus(key, now()) };
  };
  const providerView = ({ sealed: _, ...rest }: ProviderKey): ProviderKeyView => rest;

  return {
    get stored() {
      return stored;
    },

    async createKey(input, actor) {
      const s = needSecrets();
      const project = input.project?.trim();
      if (!project) throw new AccessInputError("a key needs a project");
      if (input.expiresInS !== undefined && !(Number.isInteger(input.expiresInS) && input.expiresInS > 0)) throw new AccessInputError("expires_in_s must be a positive whole number of seconds");
      const providers = listOf(input.providers, "providers");
      for (const p of providers ?? []) if (!PROVIDER_ID.test(p)) throw new AccessInputError(`providers: "${p}" is not a provider id`);
      const models = listOf(input.models, "models");
      return change(actor, "keys.create", (current) => {
        const made = newGatewayKey(s);
        const at = now();
        const key: GatewayKey = {
          id: made.id,
          name: input.name?.trim() || null,
          project,
          user: input.user?.trim() || null,
          providers,
          models,
          metadata: input.metadata ?? null,
          hash: made.hash,
          prefix: made.prefix,
          created_at: at.toISOString(),
          expires_at: input.expiresInS === undefined ? null : new Date(at.getTime() + input.expiresInS * 1000).toISOString(),
          revoked_at: null,
          last_used_at: null,
        };
        return {
          next: withKeys(current, [...current.definitions.keys, key], verifierFor(current, s)),
          target: key.id,
          detail: { project, name: key.name, user: key.user, expires_at: key.expires_at, providers, models },
          result: { id: key.id, key: made.key },
        };
      });
    },

    listKeys: async () => stored.definitions.keys.map(view),

    revokeKey(id, actor) {
      return change(actor, "keys.revoke", (current) => {
        const key = findKey(current, id);
        const revoked = key.revoked_at ? key : { ...key, revoked_at: now().toISOString() };
        return { next: withKeys(current, current.definitions.keys.map((k) => (k.id === id ? revoked : k)), current.verifier), target: id, result: view(revoked) };
      });
    },

    async rotateKey(id, actor) {
      const s = needSecrets();
      return change(actor, "keys.rotate", (current) => {
        const key = findKey(current, id);
        if (key.revoked_at) throw new AccessInputError(`key ${id} is revoked; create a new one`);
        const made = newGatewayKey(s);
        const rotated = { ...key, hash: made.hash, prefix: made.prefix };
        return { next: withKeys(current, current.definitions.keys.map((k) => (k.id === id ? rotated : k)), verifierFor(current, s)), target: id, result: { id, key: made.key } };
      });
    },

    async setProviderKey(input, actor) {
      const s = needSecrets();
      const provider = input.provider?.trim();
      if (!provider || !PROVIDER_ID.test(provider)) throw new AccessInputError(`"${input.provider}" is not a provider id`);
      if (!input.secret || input.secret.trim() === "") throw new AccessInputError("the provider key is empty");
      const project = input.project?.trim() || null;
      return change(actor, "provider-keys.set", (current) => {
        const entry: ProviderKey = {
          id: `pk_${randomBase62(12)}`,
          provider,
          project,
          sealed: s.seal(input.secret),
          fingerprint: fingerprint(input.secret),
          created_at: now().toISOString(),
        };
        // One per provider and project: a new one replaces the old.
        const others = current.definitions.providerKeys.filter((pk) => !(pk.provider === provider && pk.project === project));
        return {
          next: { definitions: { ...current.definitions, providerKeys: [...others, entry] }, verifier: verifierFor(current, s) },
          target: entry.id,
          detail: { provider, project, fingerprint: entry.fingerprint, replaced: current.definitions.providerKeys.length - others.length },
          result: providerView(entry),
        };
      });
    },

    listProviderKeys: async () => stored.definitions.providerKeys.map(providerView),

    deleteProviderKey(id, actor) {
      return change(actor, "provider-keys.delete", (current) => {
        const found = current.definitions.providerKeys.find((pk) => pk.id === id);
        if (!found) throw new AccessNotFoundError(`no provider key ${id}`);
        const providerKeys = current.definitions.providerKeys.filter((pk) => pk.id !== id);
        return { next: { ...current, definitions: { ...current.definitions, providerKeys } }, target: id, detail: { provider: found.provider, project: found.project }, result: undefined };
      });
    },

    async setLimit(limit, actor) {
      const parsed = limitSchema.safeParse(limit);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new AccessInputError(`limit ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
      }
      const valid = parsed.data;
      return change(actor, "limits.set", (current) => {
        const limits = [...current.definitions.limits.filter((l) => !sameLimit(l, valid)), valid];
        return { next: { ...current, definitions: { ...current.definitions, limits } }, target: `${valid.scope}:${valid.subject}`, detail: valid, result: valid };
      });
    },

    listLimits: async () => stored.definitions.limits,

    clearLimit(input, actor) {
      return change(actor, "limits.clear", (current) => {
        const matches = (l: Limit) => l.scope === input.scope && l.subject === input.subject && (input.metric === undefined || l.metric === input.metric);
        const limits = current.definitions.limits.filter((l) => !matches(l));
        const removed = current.definitions.limits.length - limits.length;
        return { next: { ...current, definitions: { ...current.definitions, limits } }, target: `${input.scope}:${input.subject}`, detail: { metric: input.metric ?? null, removed }, result: { removed } };
      });
    },

    listAudit: (limit) => store.listAudit(limit),

    adopt: (next, stillCurrent = () => true) => serially(async () => (stillCurrent() ? install(mergeLastUsed(next, stored)) : undefined)),

    flushUsed: () =>
      serially(async () => {
        const used = Object.fromEntries(book.drainUsed());
        if (Object.keys(used).length === 0) return;
        await store.touchKeys(used);
        // Kept in the listing; the book's copy needs no swap (the request thread does not read last_used_at).
        stored = { ...stored, definitions: { ...stored.definitions, keys: stored.definitions.keys.map((k) => (used[k.id] ? { ...k, last_used_at: used[k.id]! } : k)) } };
      }),
  };
}

/** Definitions from elsewhere, with this gateway's later `last_used_at` kept (it is not shared on every use). */
export function mergeLastUsed(incoming: StoredAccess, local: StoredAccess): StoredAccess {
  const mine = new Map(local.definitions.keys.map((k) => [k.id, k.last_used_at]));
  const keys = incoming.definitions.keys.map((k) => {
    const here = mine.get(k.id);
    return here && (!k.last_used_at || here > k.last_used_at) ? { ...k, last_used_at: here } : k;
  });
  return { ...incoming, definitions: { ...incoming.definitions, keys } };
}
