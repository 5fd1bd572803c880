import type { Subprocess } from "bun";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { join } from "node:path";
import denoConfig from "../../deno.json" with { type: "json" };

export const ROOT = join(import.meta.dir, "..", "..");
export const BUN = process.execPath;

/**
 * The runtime `startGateway` serves with: Bun, or Deno when TEST_GATEWAY_RUNTIME=deno
 * (`npm run test:deno` runs the SDK suite so). The tests themselves run under bun test.
 */
export const TEST_RUNTIME = process.env.TEST_GATEWAY_RUNTIME === "deno" ? "deno" : "bun";

/** `deno task start`'s command line (deno.json) up to main.ts, paths made absolute: tests run what users run. */
export function denoCommand(): string[] {
  const words = denoConfig.tasks.start.split(/\s+/);
  const main = words.indexOf("main.ts");
  if (main < 0) throw new Error(`deno.json's start task does not run main.ts: ${denoConfig.tasks.start}`);
  return words.slice(0, main + 1).map((word) => (word.startsWith("./") || word === "main.ts" ? join(ROOT, word) : word));
}

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
  /** Run this executable instead of `bun main.ts` or Deno's (the compiled binary). */
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
  const command = options.command ?? (TEST_RUNTIME === "deno" ? denoCommand() : [BUN, join(ROOT, "main.ts")]);
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
        // "listening on http://127.0.0.1:PORT — records in DB (Bun 1.4.5)"
        const match = /listening on (http:\/\/\S+) .*\((\w+) [^)]*\)$/m.exec(log);
        if (match?.[1]) {
          clearTimeout(timer);
          // A run meant for Deno that served on Bun would pass without testing anything.
          const runtime = match[2]!.toLowerCase();
          if (!options.command && runtime !== TEST_RUNTIME) reject(new Error(`gateway runs on ${runtime}, not ${TEST_RUNTIME}:\n${log}`));
          else resolve(match[1]);
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
      const body = (await response.json()) as { columns: string[]; rows: unknown[][]; error?: { message: string } };
      if (!response.ok) throw new Error(body.error?.message);
      return body.rows.map((row) => Object.fromEntries(body.columns.map((c, i) => [c, row[i]]))) as any;
    },
    async stop() {
      proc.kill("SIGTERM");
      return await proc.exited;
    },
  };
}

/** `loupe …` on a gateway's database (through the running gateway, as users run it); the secret on stdin when given. */
export function runLoupe(gateway: Pick<Gateway, "dir" | "db">, args: string[], options: { stdin?: string | undefined; env?: Record<string, string> } = {}) {
  const run = Bun.spawnSync([BUN, join(ROOT, "main.ts"), ...args], {
    cwd: gateway.dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: gateway.dir, LOUPE_DB: gateway.db, ...options.env },
    stdin: options.stdin === undefined ? "ignore" : Buffer.from(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

/** A port nobody listens on now: bind port 0, read what the system chose, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
