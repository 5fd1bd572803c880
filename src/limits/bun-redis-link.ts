import { createCommandDeadlines } from "./command-deadlines.ts";
import type { RedisLink, RedisLinkOptions } from "./redis-link.ts";

/** A command waiting for the end of the event-loop turn to be written. */
interface Held {
  name: string;
  args: string[];
  reply: PromiseWithResolvers<unknown>;
}

/**
 * The link through Bun's own Redis client (https://bun.com/docs/runtime/redis),
 * reached through the `Bun` global so that nothing here is loaded on Deno.
 *
 * Bun's client has no command timeout: command-deadlines.ts gives one. Its own
 * reconnection is not used: after a refused or timed-out handshake a client
 * stays failed for good (oven-sh/bun#24019, #41829), so each connection is a
 * new client, dialled again 50–500 ms after the last one closed or failed.
 */
export function createBunRedisLink(options: RedisLinkOptions): RedisLink {
  const RedisClient = globalThis.Bun.RedisClient;
  const deadlines = createCommandDeadlines(options.commandTimeoutMs);
  /** The connected client; undefined while (re)connecting. */
  let current: Bun.RedisClient | undefined;
  /** The client being connected or in use, for close(). */
  let latest: Bun.RedisClient | undefined;
  let attempt = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  function dial(): void {
    retry = undefined;
    if (closed) return;
    const client = new RedisClient(options.url, {
      connectionTimeout: options.connectTimeoutMs,
      autoReconnect: false,
      // Fail at once rather than queue while disconnected: a call must never wait on a reconnect.
      enableOfflineQueue: false,
      enableAutoPipelining: true,
    });
    latest = client;
    let over = false;
    const lost = () => {
      if (over) return;
      over = true;
      if (current === client) current = undefined;
      client.close();
      if (closed) return;
      attempt++;
      retry = setTimeout(dial, Math.min(attempt * 50, 500));
    };
    client.onclose = lost;
    client.connect().then(() => {
      if (over || closed) return lost();
      attempt = 0;
      current = client;
      options.onReady();
    }, lost);
  }
  dial();

  const notConnected = () => Promise.reject(new Error("Redis is not connected"));

  // Bun's client writes a task's commands when the task ends: the admits of calls handled one after another
  // in one event-loop turn cost a socket write each. Held to the turn's end, they go in one write.
  let held: Held[] = [];
  function write(): void {
    const batch = held;
    held = [];
    const client = current;
    for (const { name, args, reply } of batch) {
      if (client === undefined) reply.reject(new Error("Redis is not connected"));
      else client.send(name, args).then(reply.resolve, reply.reject);
    }
  }
  function hold(name: string, args: string[]): Promise<unknown> {
    const reply = deadlines.start<unknown>();
    if (held.push({ name, args, reply }) === 1) setImmediate(write);
    return reply.promise;
  }

  return {
    get ready() {
      return current !== undefined;
    },
    send(command, args) {
      if (current === undefined) return notConnected();
      return hold(command, args as string[]);
    },
    async sendAll(commands) {
      if (current === undefined) return notConnected();
      await Promise.all(commands.map(([command, ...args]) => hold(command!, args)));
    },
    async readHash(key) {
      if (current === undefined) return notConnected();
      const reply: unknown = await hold("HGETALL", [key]);
      // RESP3 (Redis 6+) answers a map; a RESP2 server a flat array of field, value.
      if (!Array.isArray(reply)) return reply as Record<string, string>;
      const hash: Record<string, string> = {};
      for (let i = 0; i + 1 < reply.length; i += 2) hash[String(reply[i])] = String(reply[i + 1]);
      return hash;
    },
    async close() {
      closed = true;
      if (retry !== undefined) clearTimeout(retry);
      deadlines.stop();
      current = undefined;
      // Commands still in flight are rejected by close().
      latest?.close();
    },
  };
}
