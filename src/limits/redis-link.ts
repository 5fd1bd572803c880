/**
 * The limiter's connection to Redis: the few things redis-limiter.ts asks of a
 * client, so its logic is written once. create-redis-link.ts picks the client:
 * on Bun, Bun's own (bun-redis-link.ts), as ioredis's reply parser and
 * command objects took about a third of the event loop under load
 * (bench/keys.ts); on Deno, ioredis (ioredis-link.ts).
 *
 * Both fail rather than wait: a command sent while disconnected fails at
 * once, one in flight fails when the connection drops or after
 * `commandTimeoutMs`, and the link reconnects by itself (every 50–500 ms).
 */
export interface RedisLink {
  /** Connected: commands may be sent. */
  readonly ready: boolean;
  /** One command (arguments as strings); its reply as the client decodes it. */
  send(command: string, args: readonly string[]): Promise<unknown>;
  /** Commands written together (settle, reconcile); rejects when any of them failed. */
  sendAll(commands: readonly (readonly string[])[]): Promise<void>;
  /** HGETALL as field → value. */
  readHash(key: string): Promise<Record<string, string>>;
  /** Disconnects; never waits more than about half a second. */
  close(): Promise<void>;
}

export interface RedisLinkOptions {
  url: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  /** Called on every (re)connection. */
  onReady(): void;
  /** Which client; default Bun's own on Bun, ioredis elsewhere. */
  client?: "bun" | "ioredis" | undefined;
}
