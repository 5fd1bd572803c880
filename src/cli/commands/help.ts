import { describeSettings } from "../../config.ts";
import { describeRoutes } from "../../providers/registry.ts";
import type { Command } from "../command.ts";

/** `loupe --help` (also `-h`, `loupe help`): the commands given, and every settings flag. */
export function createHelpCommand(commands: readonly Command[]): Command {
  const help: Command = {
    name: "help",
    usage: "--help",
    summary: "this text",
    options: {},
    takesSettings: false,
    maxPositionals: 0,
    async run(_input, { version }) {
      const lines = [...commands, help].map(({ usage, summary }) => `  loupe ${usage.padEnd(34)} ${summary}`);
      process.stdout.write(`loupe ${version} — a self-hosted LLM API gateway that records every call

Usage:
${lines.join("\n")}

Point an SDK at it by its base URL (provider, SDK base URL, upstream):
${describeRoutes()
  .map(({ provider, sdkPath, upstream }) => `  ${provider.padEnd(12)} http://127.0.0.1:8787${sdkPath.padEnd(18)} → ${upstream}`)
  .join("\n")}

Settings (flag / environment variable; flags win, then env, then --config FILE):
${describeSettings()
  .map(({ flag, env }) => `  ${flag.padEnd(26)} ${env}`)
  .join("\n")}
`);
    },
  };
  return help;
}

/** `loupe version` (also `--version`). */
export const versionCommand: Command = {
  name: "version",
  usage: "version",
  summary: "print the version",
  options: {},
  takesSettings: false,
  maxPositionals: 0,
  async run(_input, { version }) {
    console.log(version);
  },
};
