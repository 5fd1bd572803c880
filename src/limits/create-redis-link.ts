import { createBunRedisLink } from "./bun-redis-link.ts";
import { createIoredisLink } from "./ioredis-link.ts";
import type { RedisLink, RedisLinkOptions } from "./redis-link.ts";

/** Bun's own client on Bun unless `options.client` says otherwise; ioredis elsewhere. */
export function createRedisLink(options: RedisLinkOptions): RedisLink {
  const client = options.client ?? (typeof Bun !== "undefined" ? "bun" : "ioredis");
  return client === "bun" ? createBunRedisLink(options) : createIoredisLink(options);
}
