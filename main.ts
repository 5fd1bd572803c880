#!/usr/bin/env bun
/**
 * Loupe's only composition root: reads the command line, picks the command,
 * and runs it; `serve` loads config, wires the parts together, serves, and
 * shuts down cleanly (src/cli/commands/serve.ts).
 */
import type { Command } from "./src/cli/command.ts";
import { exportCommand } from "./src/cli/commands/export.ts";
import { createHelpCommand, versionCommand } from "./src/cli/commands/help.ts";
import { keysCommand } from "./src/cli/commands/keys.ts";
import { limitsCommand } from "./src/cli/commands/limits.ts";
import { providerKeysCommand } from "./src/cli/commands/provider-keys.ts";
import { pricesCommand } from "./src/cli/commands/prices.ts";
import { serveCommand } from "./src/cli/commands/serve.ts";
import { sqlCommand } from "./src/cli/commands/sql.ts";
import { parseCommandLine } from "./src/cli/parse-command-line.ts";
import { ConfigError } from "./src/config.ts";
import { bunRuntime } from "./src/runtime/bun.ts";
import { denoRuntime } from "./src/runtime/deno.ts";
import manifest from "./package.json" with { type: "json" };

const listed: Command[] = [serveCommand, sqlCommand, pricesCommand, exportCommand, keysCommand, providerKeysCommand, limitsCommand, versionCommand];
const commands = [...listed, createHelpCommand(listed)];

async function main(argv: string[]): Promise<void> {
  const runtime = typeof Bun !== "undefined" ? bunRuntime : "Deno" in globalThis ? denoRuntime : undefined;
  if (!runtime) throw new Error("Loupe runs on Bun or Deno (see README)");
  const { command, input } = parseCommandLine(argv, commands, { fallback: "serve", help: "help", version: "version" });
  await command.run(input, { version: manifest.version, runtime });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`loupe: ${message}`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
