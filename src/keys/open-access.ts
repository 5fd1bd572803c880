import { createAccessAdmin, type AccessAdmin } from "./access-admin.ts";
import { createAccessBook, type AccessBook } from "./access-book.ts";
import type { AccessStore, StoredAccess } from "./access-store.ts";
import type { DefinitionsSync } from "./definitions-sync.ts";
import { createSecrets, WrongSecretError, type Secrets } from "./secrets.ts";

export interface OpenAccessOptions {
  store: AccessStore;
  /** LOUPE_SECRET as configured (comma-separated, current first). */
  secret: string | undefined;
  /** LOUPE_REDIS_URL: definitions shared with every gateway using it. */
  redisUrl?: string | undefined;
  /** A serving gateway polls Redis for others' changes and flushes `last_used_at`; a one-off command does neither. */
  serving: boolean;
  log(message: string): void;
  /** Redis key prefix (tests). */
  redisPrefix?: string | undefined;
}

/** Part 7's access side, as serve.ts wires it. */
export interface AccessRuntime {
  secrets: Secrets | undefined;
  /** What the request thread reads. */
  book: AccessBook;
  /** What the admin API and the commands change. */
  admin: AccessAdmin;
  /** Flushes `last_used_at` and stops polling (shutdown). */
  close(): Promise<void>;
}

const FLUSH_USED_MS = 10_000;

/**
 * Refuses a LOUPE_SECRET that did not make what the database holds, before
 * anything is served: a wrong secret would hash presented keys differently
 * (every key "unknown") and fail to open provider keys; never re-encrypt
 * silently. The verifier names the secret by id only.
 */
export function checkSecret(stored: StoredAccess, secrets: Secrets | undefined, where = "the database"): void {
  if (!stored.verifier) return;
  const kid = stored.verifier.split(".")[0];
  if (!secrets) {
    throw new WrongSecretError(`${where} holds gateway or provider keys made with a LOUPE_SECRET (id ${kid}), and LOUPE_SECRET is not set: set it to that secret; refusing to start`);
  }
  if (!secrets.accepts(stored.verifier)) {
    throw new WrongSecretError(
      `LOUPE_SECRET is not the secret ${where}'s keys were made with (id ${kid}; configured: ${secrets.kids.join(", ")}). ` +
        `Set it to that secret, or rotate with LOUPE_SECRET=<new>,<old>; refusing to start`,
    );
  }
}

/** Provider keys sealed by an older secret still listed in LOUPE_SECRET, sealed again by the current one; the verifier moves to it too. */
export function resealed(stored: StoredAccess, secrets: Secrets): { stored: StoredAccess; count: number } | undefined {
  const current = secrets.kid;
  const old = stored.definitions.providerKeys.filter((pk) => pk.sealed.split(".")[1] !== secrets.kid);
  if (old.length === 0 && (!stored.verifier || stored.verifier.split(".")[0] === current)) return undefined;
  const providerKeys = stored.definitions.providerKeys.map((pk) => (old.includes(pk) ? { ...pk, sealed: secrets.seal(secrets.open(pk.sealed)) } : pk));
  return { stored: { definitions: { ...stored.definitions, providerKeys }, verifier: secrets.verifier() }, count: old.length };
}

/**
 * Loads the access definitions (from Redis when configured and reachable,
 * else the DuckDB file's copy), checks LOUPE_SECRET against them, re-seals
 * after a rotation, and returns the book the proxy reads and the admin
 * service. Throws WrongSecretError before anything is served.
 */
export async function openAccess(options: OpenAccessOptions): Promise<AccessRuntime> {
  const secrets = options.secret ? createSecrets(options.secret) : undefined;
  let stored = await options.store.loadAccess();
  checkSecret(stored, secrets);

  let sync: DefinitionsSync | undefined;
  if (options.redisUrl) {
    // ioredis is loaded only when Redis is configured (start-up time: bench/startup.ts).
    const { createDefinitionsSync } = await import("./definitions-sync.ts");
    sync = createDefinitionsSync({ url: options.redisUrl, prefix: options.redisPrefix, onProblem: options.log });
    try {
      const remote = await sync.latest();
      if (remote) {
        checkSecret(remote, secrets, "Redis (LOUPE_REDIS_URL)");
        stored = remote;
        await options.store.saveAccess(stored);
      } else if (stored.definitions.keys.length + stored.definitions.providerKeys.length + stored.definitions.limits.length > 0 || stored.verifier) {
        // The first gateway on this Redis brings its definitions.
        await sync.publish(stored);
      }
    } catch (error) {
      if (error instanceof WrongSecretError) {
        await sync.close();
        throw error;
      }
      options.log(`access definitions: Redis unreachable (${(error as Error).message}); using the copy in the database file`);
    }
  }

  if (secrets) {
    const again = resealed(stored, secrets);
    if (again) {
      // Shared first, so every gateway gets the re-sealed keys; a Redis that is down gets them with the next change.
      if (sync) await sync.publish(again.stored).catch(() => false);
      await options.store.saveAccess(again.stored);
      stored = again.stored;
      if (again.count > 0) options.log(`LOUPE_SECRET rotation: re-sealed ${again.count} provider key(s) with the current secret (id ${secrets.kid})`);
    }
  }

  const book = createAccessBook(secrets, stored.definitions);
  const admin = createAccessAdmin({ store: options.store, book, secrets, initial: stored, publisher: sync });
  let flushing: ReturnType<typeof setInterval> | undefined;
  if (options.serving) {
    sync?.watch((next, stillCurrent) => admin.adopt(next, stillCurrent));
    flushing = setInterval(() => void admin.flushUsed().catch((error: Error) => options.log(`last_used_at: ${error.message}`)), FLUSH_USED_MS);
    flushing.unref?.();
  }
  return {
    secrets,
    book,
    admin,
    async close() {
      clearInterval(flushing);
      await admin.flushUsed().catch((error: Error) => options.log(`last_used_at: ${error.message}`));
      await sync?.close();
    },
  };
}
