#!/usr/bin/env bun
/**
 * Loupe's only composition root: reads the command line, picks the command,
 * and runs it; `serve` loads config, wires the parts together, serves, and
 * shuts down cleanly (src/cli/commands/serve.ts).
 *
 * Start-up (bench/startup.ts): before the commands and all they import are
 * loaded, a command line that starts the gateway gets its start environment
 * (runtime.prepareToServe re-executes the process, cheap while nothing is
 * loaded yet) and then its recording worker's thread, which loads DuckDB
 * while this thread loads the rest.
 */
import type { Command } from "./src/cli/command.ts";
import { spawnRecordingThread, type RecordingThread } from "./src/recording/worker-client.ts";
import { bunRuntime } from "./src/runtime/bun.ts";
import { denoRuntime } from "./src/runtime/deno.ts";
import manifest from "./package.json" with { type: "json" };

/**
 * Whether the command line starts the gateway (`loupe`, `loupe serve`,
 * `loupe --port 9000 serve`), judged before the commands are loaded: the first
 * positional is `serve` or there is none, each flag of `serve` taking a value
 * (`--flag value` or `--flag=value`). A wrong guess costs time only: `serve`
 * prepares itself when it was not prepared, and a thread started for another
 * command is stopped unused.
 */
function startsGateway(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help" || arg === "--version" || arg === "--") return false;
    if (!arg.startsWith("-")) return arg === "serve";
    if (!arg.includes("=")) i++; // its value
  }
  return true;
}

async function main(argv: string[]): Promise<void> {
  const runtime = typeof Bun !== "undefined" ? bunRuntime : "Deno" in globalThis ? denoRuntime : undefined;
  if (!runtime) throw new Error("Loupe runs on Bun or Deno (see README)");
  let recordingThread: RecordingThread | undefined;
  if (startsGateway(argv)) {
    const childExit = await runtime.prepareToServe();
    if (childExit !== undefined) process.exit(childExit);
    recordingThread = spawnRecordingThread();
  }
  const [{ parseCommandLine }, { serveCommand }, { sqlCommand }, { pricesCommand }, { exportCommand }, { keysCommand }, { providerKeysCommand }, { limitsCommand }, { auditCommand }, help] =
    await Promise.all([
      import("./src/cli/parse-command-line.ts"),
      import("./src/cli/commands/serve.ts"),
      import("./src/cli/commands/sql.ts"),
      import("./src/cli/commands/prices.ts"),
      import("./src/cli/commands/export.ts"),
      import("./src/cli/commands/keys.ts"),
      import("./src/cli/commands/provider-keys.ts"),
      import("./src/cli/commands/limits.ts"),
      import("./src/cli/commands/audit.ts"),
      import("./src/cli/commands/help.ts"),
    ]);
  const listed: Command[] = [serveCommand, sqlCommand, pricesCommand, exportCommand, keysCommand, providerKeysCommand, limitsCommand, auditCommand, help.versionCommand];
  const commands = [...listed, help.createHelpCommand(listed)];
  const { command, input } = parseCommandLine(argv, commands, { fallback: "serve", help: "help", version: "version" });
  if (command !== serveCommand) await recordingThread?.stop();
  await command.run(input, { version: manifest.version, runtime, recordingThread });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`loupe: ${message}`);
  // A usage or configuration error (config.ts's ConfigError) exits 2.
  process.exit(error instanceof Error && error.name === "ConfigError" ? 2 : 1);
});
