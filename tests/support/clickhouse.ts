import type { Subprocess } from "bun";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, tempDir } from "./gateway.ts";

/**
 * A real clickhouse-server (Debian's package: 18.16) on free ports with a
 * temp data dir. Users: `default` (no password) and `loupe` (password `ch-secret-7d1f9c`).
 * `stop` and `start` keep the ports and the data, so a test can take
 * ClickHouse away from the gateway and bring it back.
 */
export interface ClickHouseServer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  user: string;
  password: string;
  /** Runs a statement as `default` over HTTP and returns the answer's text. */
  query(sql: string): Promise<string>;
  /** Runs a query and parses its JSONEachRow answer. */
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server keeps its sockets but answers nothing (a hung backend). */
  pause(): void;
  resume(): void;
  dispose(): Promise<void>;
}

export const CLICKHOUSE_BINARY = "/usr/sbin/clickhouse-server";

/** `core`: pin the server to that CPU (benchmarks), through taskset. */
export async function startClickHouse(options: { core?: number } = {}): Promise<ClickHouseServer> {
  const [port, tcpPort, interserverPort] = [await freePort(), await freePort(), await freePort()];
  const dir = tempDir("loupe-clickhouse-");
  for (const sub of ["data", "tmp", "user_files", "format_schemas"]) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(
    join(dir, "config.xml"),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>${port}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <interserver_http_port>${interserverPort}</interserver_http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <timezone>UTC</timezone>
</yandex>
`,
  );
  const password = "ch-secret-7d1f9c";
  const user = (name: string, pass: string) =>
    `<${name}><password>${pass}</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></${name}>`;
  writeFileSync(
    join(dir, "users.xml"),
    `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users>${user("default", "")}${user("loupe", password)}</users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`,
  );
  const url = `http://127.0.0.1:${port}`;
  let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
  const query = async (sql: string) => {
    const response = await fetch(url, { method: "POST", body: sql });
    const text = await response.text();
    if (!response.ok) throw new Error(`ClickHouse: ${text}`);
    return text;
  };
  const server: ClickHouseServer = {
    url,
    port,
    user: "loupe",
    password,
    query,
    async rows<T>(sql: string) {
      const text = await query(`${sql} FORMAT JSONEachRow`);
      return text
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as T);
    },
    async start() {
      if (proc) return;
      const pin = options.core !== undefined && Bun.which("taskset") ? ["taskset", "-c", String(options.core)] : [];
      const started = Bun.spawn([...pin, CLICKHOUSE_BINARY, `--config-file=${join(dir, "config.xml")}`], { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      proc = started;
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          if ((await query("SELECT 1")).trim() === "1") break;
        } catch {
          // not up yet
        }
        if (started.exitCode !== null || Date.now() > deadline) {
          proc = undefined;
          started.kill("SIGKILL");
          throw new Error(`clickhouse-server did not answer on port ${port}: ${await new Response(started.stderr).text()}`);
        }
        await Bun.sleep(50);
      }
    },
    async stop() {
      const running = proc;
      proc = undefined;
      if (!running) return;
      running.kill("SIGCONT");
      running.kill("SIGTERM");
      const exited = await Promise.race([running.exited.then(() => true), Bun.sleep(3_000).then(() => false)]);
      if (!exited) {
        running.kill("SIGKILL");
        await running.exited;
      }
    },
    pause: () => proc?.kill("SIGSTOP"),
    resume: () => proc?.kill("SIGCONT"),
    async dispose() {
      // The data is thrown away: no need for a clean shutdown.
      proc?.kill("SIGKILL");
      await proc?.exited;
      proc = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

