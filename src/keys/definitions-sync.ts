import { Redis } from "ioredis";
import type { DefinitionsPublisher } from "./access-admin.ts";
import { AccessUnavailableError } from "./access-errors.ts";
import type { StoredAccess } from "./access-store.ts";

/**
 * With LOUPE_REDIS_URL, the access definitions live in Redis too, so every
 * gateway sharing it serves the same ones: the JSON of the definitions (and
 * the verifier of the secret that sealed them) under one key, and a version
 * counter beside it. A change is published only if the version is still the
 * one this gateway last saw (compare-and-set in one Lua script, so two admins
 * never overwrite each other); every gateway polls the version (~1 s) and
 * reloads when it moved. The DuckDB file keeps the local copy a gateway starts
 * from when Redis is down.
 */
export interface DefinitionsSync extends DefinitionsPublisher {
  /** The definitions Redis holds (undefined: none yet), and remembers their version; throws when Redis is unreachable. */
  latest(): Promise<StoredAccess | undefined>;
  /**
   * Polls for other gateways' changes. The receiver calls `stillCurrent` when
   * it takes the change in (in its own order of changes): false when a newer
   * version was seen meanwhile, which an older snapshot must not replace.
   */
  watch(onChange: (stored: StoredAccess, stillCurrent: () => boolean) => Promise<void>): void;
  close(): Promise<void>;
}

export interface DefinitionsSyncOptions {
  url: string;
  /** Key prefix; tests give each run its own. */
  prefix?: string | undefined;
  pollMs?: number;
  onProblem(message: string): void;
}

// KEYS: definitions, version. ARGV: expected version ("0": none yet), the JSON. Returns the new version, or -1 when another change came first.
const PUBLISH = `
local current = redis.call('GET', KEYS[2]) or '0'
if current ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[1], ARGV[2])
return redis.call('INCR', KEYS[2])`;

export function createDefinitionsSync(options: DefinitionsSyncOptions): DefinitionsSync {
  const prefix = options.prefix ?? "loupe:access";
  const definitionsKey = `${prefix}:definitions`;
  const versionKey = `${prefix}:version`;
  // Offline: a command fails at once instead of queueing (a change must not wait for Redis silently).
  const redis = new Redis(options.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  redis.on("error", () => {}); // reported by the calls that fail
  let seen = "0";
  let timer: ReturnType<typeof setInterval> | undefined;
  let connecting: Promise<void> | undefined;
  let lastProblem = 0;

  async function ready() {
    if (redis.status === "ready") return;
    if (redis.status === "wait" || redis.status === "end") connecting ??= redis.connect().finally(() => (connecting = undefined));
    if (connecting) await connecting;
    else if ((redis.status as string) !== "ready") throw new Error(`Redis is ${redis.status}`);
  }

  async function read(): Promise<{ version: string; stored: StoredAccess | undefined }> {
    await ready();
    const [text, version] = await redis.mget(definitionsKey, versionKey);
    return { version: version ?? "0", stored: text ? (JSON.parse(text) as StoredAccess) : undefined };
  }

  return {
    async latest() {
      const { version, stored } = await read();
      seen = version;
      return stored;
    },
    async publish(stored) {
      let version: number;
      try {
        await ready();
        version = (await redis.eval(PUBLISH, 2, definitionsKey, versionKey, seen, JSON.stringify(stored))) as number;
      } catch (error) {
        throw new AccessUnavailableError(`Redis (LOUPE_REDIS_URL) is unreachable, so the change was not made: ${(error as Error).message}`);
      }
      if (version < 0) return false;
      seen = String(version);
      return true;
    },
    watch(onChange) {
      let busy = false;
      timer = setInterval(async () => {
        if (busy) return;
        busy = true;
        try {
          await ready();
          const version = (await redis.get(versionKey)) ?? "0";
          if (version === seen) return;
          const { version: now, stored } = await read();
          if (!stored || Number(now) <= Number(seen)) return;
          // Marked seen only when taken in: a change made here before that must lose the race and re-apply on top.
          await onChange(stored, () => {
            if (Number(now) <= Number(seen)) return false;
            seen = now;
            return true;
          });
        } catch (error) {
          // Logged once a minute at most: the gateway keeps serving the definitions it has.
          if (Date.now() - lastProblem > 60_000) {
            lastProblem = Date.now();
            options.onProblem(`access definitions: Redis unreachable (${(error as Error).message}); serving the ones loaded`);
          }
        } finally {
          busy = false;
        }
      }, options.pollMs ?? 1_000);
      timer.unref?.();
    },
    async close() {
      clearInterval(timer);
      redis.disconnect();
    },
  };
}
