import type { Subprocess } from "bun";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");
export const BUN = process.execPath;

export interface Gateway {
  url: string;
  db: string;
  dir: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  stderr(): string;
  /** Read-only SQL through the running gateway; rows as objects. */
  sql<T = Record<string, any>>(query: string): Promise<T[]>;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number>;
}

export interface GatewayOptions {
  env?: Record<string, string>;
  /** Run this executable instead of `bun main.ts` (the compiled binary). */
  command?: string[];
  db?: string;
  dir?: string;
}

export function tempDir(prefix = "loupe-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Starts the gateway on a free port with its own database in a temp folder. */
export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const dir = options.dir ?? tempDir();
  const db = options.db ?? join(dir, "loupe.duckdb");
  const command = options.command ?? [BUN, join(ROOT, "main.ts")];
  const proc = Bun.spawn([...command, "serve"], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? dir, LOUPE_PORT: "0", LOUPE_DB: db, ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let log = "";
  const reader = proc.stderr.getReader();
  const decoder = new TextDecoder();
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${log}`)), 15_000);
    void (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        log += decoder.decode(value, { stream: true });
        const match = /listening on (http:\/\/\S+)/.exec(log);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      }
      clearTimeout(timer);
      reject(new Error(`gateway exited before listening:\n${log}`));
    })().catch(reject);
  });
  // keep draining stderr so the child never blocks on a full pipe
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      log += decoder.decode(value, { stream: true });
    }
  })().catch(() => {});

  return {
    url,
    db,
    dir,
    proc,
    stderr: () => log,
    async sql(query) {
      const { key } = JSON.parse(readFileSync(`${db}.loupe.json`, "utf8")) as { key: string };
      const response = await fetch(`${url}/_loupe/sql`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-loupe-local-key": key },
        body: JSON.stringify({ sql: query }),
      });
      const body = (await response.json()) as { columns: string[]; rows: unknown[][]; error?: string };
      if (!response.ok) throw new Error(body.error);
      return body.rows.map((row) => Object.fromEntries(body.columns.map((c, i) => [c, row[i]]))) as any;
    },
    async stop() {
      proc.kill("SIGTERM");
      return await proc.exited;
    },
  };
}
