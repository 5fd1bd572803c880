import type { Subprocess } from "bun";
import { rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tempDir } from "./gateway.ts";

/**
 * A real redis-server (Debian's /usr/bin/redis-server) on a free port with an
 * empty temp dir, no persistence. `stop` and `start` keep the port, so a test
 * can take Redis away from a client and bring it back; `freeze` and `thaw`
 * make it hang with its connections open (SIGSTOP, SIGCONT).
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

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = tempDir("loupe-redis-");
  let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      if (proc) return;
      const started = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
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

/** A port nobody listens on now: bind port 0, read what the system chose, close. */
function freePort(): Promise<number> {
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
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"));
    });
  });
}
