import type { Limit } from "../keys/definitions.ts";
import type { Limiter } from "./limiter.ts";
import { createMemoryLimiter } from "./memory-limiter.ts";

export interface LimiterOptions {
  /** LOUPE_REDIS_URL: share counters through Redis; absent: count in process. */
  redisUrl?: string | undefined;
  /** With Redis: admit on local counts while it is unreachable (default true), or refuse. */
  failOpen?: boolean | undefined;
  limits?: readonly Limit[] | undefined;
  /** With Redis: a line when it becomes unreachable and when it is back (at most one each a minute). */
  log?: ((message: string) => void) | undefined;
}

/** The limiter for this gateway: in process, or in Redis when a URL is given. Resolves once Redis answers or its connect timeout passes. */
export async function createLimiter(options: LimiterOptions = {}): Promise<Limiter> {
  const limits = options.limits ?? [];
  if (options.redisUrl === undefined || options.redisUrl === "") return createMemoryLimiter(limits);
  // The Redis client is loaded only when Redis is configured (start-up time: bench/startup.ts).
  const { createRedisLimiter } = await import("./redis-limiter.ts");
  return createRedisLimiter({ url: options.redisUrl, failOpen: options.failOpen ?? true, limits, ...(options.log ? { log: options.log } : {}) });
}
