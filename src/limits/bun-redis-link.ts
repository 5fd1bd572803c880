import { createCommandDeadlines } from "./command-deadlines.ts";
import type { RedisLink, RedisLinkOptions } from "./redis-link.ts";

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

  // Written at once: Bun's client writes a task's commands when the task ends, so under load each admit is a
  // socket write of its own. Holding commands back to write them together (to the end of the event-loop turn,
  // or until the answer to the last batch) cut the writes to a fifth but doubled the time an admit waited on
  // Redis, and the gateway's throughput fell (bench/keys.ts, 50 connections).
  function send(client: Bun.RedisClient, name: string, args: string[]): Promise<unknown> {
    const reply = deadlines.start<unknown>();
    client.send(name, args).then(reply.resolve, reply.reject);
    return reply.promise;
  }

  return {
    get ready() {
      return current !== undefined;
    },
    send(command, args) {
      if (current === undefined) return notConnected();
      return send(current, command, args as string[]);
    },
    async sendAll(commands) {
      const client = current;
      if (client === undefined) return notConnected();
      await Promise.all(commands.map(([command, ...args]) => send(client, command!, args)));
    },
    async readHash(key) {
      if (current === undefined) return notConnected();
      const reply: unknown = await send(current, "HGETALL", [key]);
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
