import { Redis } from "ioredis";
import type { RedisLink, RedisLinkOptions } from "./redis-link.ts";

/** The link through ioredis (Deno, and any runtime without Bun's client). */
export function createIoredisLink(options: RedisLinkOptions): RedisLink {
  const redis = new Redis(options.url, {
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    // Fail at once rather than queue while disconnected: a call must never wait on a reconnect.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // The admits of calls that reach this point in the same tick go out in one write (and their replies come
    // back in one read): under load, one socket write per call was the largest cost of a Redis admit (bench/keys.ts).
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(attempt * 50, 500),
  });
  // Connection errors are seen through `redis.status`; the listener keeps ioredis from reporting them as unhandled.
  redis.on("error", () => {});
  redis.on("ready", options.onReady);
  let closed = false;

  return {
    get ready() {
      return redis.status === "ready" && !closed;
    },
    send: (command, args) => redis.call(command, args as string[]),
    async sendAll(commands) {
      const pipeline = redis.pipeline();
      for (const [command, ...args] of commands) pipeline.call(command!, args);
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error);
      if (failed) throw failed[0];
    },
    readHash: (key) => redis.hgetall(key),
    async close() {
      closed = true;
      const quit = redis.quit().catch(() => {});
      const timeout = new Promise((resolve) => setTimeout(resolve, 500).unref?.());
      await Promise.race([quit, timeout]);
      redis.disconnect();
    },
  };
}
