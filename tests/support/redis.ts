import type { Subprocess } from "bun";
import { rmSync } from "node:fs";
import { connect } from "node:net";
import { freePort, tempDir } from "./gateway.ts";

/**
 * A real redis-server (Debian's /usr/bin/redis-server) on a free port with an
 * empty temp dir, no persistence; with `password`, clients must AUTH (the URL
 * carries it). `stop` and `start` keep the port, so a test can take Redis
 * away from a client and bring it back; `freeze` and `thaw` make it hang with
 * its connections open (SIGSTOP, SIGCONT).
 */
export interface RedisServer {
  url: string;
  port: number;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** Start again on the same port (after stop), empty. */
  start(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing is answered (the kernel still accepts new ones). */
  freeze(): void;
  /** SIGCONT after freeze: the commands sent meanwhile are answered. */
  thaw(): void;
  /** Stop and remove the temp dir. */
  dispose(): Promise<void>;
}

export async function startRedis(options: { password?: string } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = tempDir("loupe-redis-");
  const auth = options.password === undefined ? [] : ["--requirepass", options.password];
  let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
  const server: RedisServer = {
    url: options.password === undefined ? `redis://127.0.0.1:${port}` : `redis://:${encodeURIComponent(options.password)}@127.0.0.1:${port}`,
    port,
    async start() {
      if (proc) return;
      const started = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...auth], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      proc = started;
      const deadline = Date.now() + 5000;
      while (!(await pings(port))) {
        if (started.exitCode !== null || Date.now() > deadline) {
          proc = undefined;
          started.kill("SIGKILL");
          throw new Error(`redis-server did not answer PING on port ${port}: ${await new Response(started.stdout).text()}`);
        }
        await Bun.sleep(20);
      }
    },
    freeze() {
      proc?.kill("SIGSTOP");
    },
    thaw() {
      proc?.kill("SIGCONT");
    },
    async stop() {
      const running = proc;
      proc = undefined;
      if (!running) return;
      // A frozen server would not act on SIGTERM.
      running.kill("SIGCONT");
      running.kill("SIGTERM");
      await running.exited;
    },
    async dispose() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}


function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    let answer = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      answer += chunk.toString();
      // Asked for a password, it is up all the same.
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG") || answer.startsWith("-NOAUTH"));
    });
  });
}

/** A sliding window's count as Redis holds it: the sum of its sub-bucket hash (src/limits/README.md, "Redis"). */
export async function slidingCount(client: { hgetall(key: string): Promise<Record<string, string>> }, key: string): Promise<number> {
  return Object.values(await client.hgetall(key)).reduce((sum, count) => sum + Number(count), 0);
}
