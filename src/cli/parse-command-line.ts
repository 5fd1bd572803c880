import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { ConfigError, describeSettings } from "../config.ts";
import type { Command, CommandInput } from "./command.ts";

/**
 * argv → the command it names and that command's input. The command is the
 * first positional (none: `fallback`); flags may stand before or after it, as
 * `--flag value` or `--flag=value`; `--` ends the flags. `--help`/`-h` and
 * `--version` anywhere pick those commands. A flag the command does not take
 * is a usage error (ConfigError, exit 2), as is a value missing or given to a
 * switch.
 */
export function parseCommandLine(
  argv: readonly string[],
  commands: readonly Command[],
  options: { fallback: string; help: string; version: string },
): { command: Command; input: CommandInput } {
  const settings = settingsOptions();
  const everyOption: ParseArgsOptionsConfig = { ...settings, ...GLOBAL_OPTIONS };
  for (const command of commands) Object.assign(everyOption, command.options);

  // Not strict: node:util's own errors name no command; the tokens are checked below.
  const { tokens, positionals, values } = parseArgs({ args: [...argv], options: everyOption, allowPositionals: true, strict: false, tokens: true });
  const byName = (name: string) => commands.find((c) => c.name === name);

  let command: Command;
  let rest = positionals;
  if (values.help === true) command = byName(options.help)!;
  else if (values.version === true) command = byName(options.version)!;
  else if (positionals[0] === undefined) command = byName(options.fallback)!;
  else {
    const named = byName(positionals[0]);
    if (!named) throw new ConfigError(`unknown command "${positionals[0]}" (see loupe --help)`);
    command = named;
    rest = positionals.slice(1);
  }
  if (command.name === options.help || command.name === options.version) {
    return { command, input: { positionals: [], values: {}, settings: {} } };
  }

  const accepted: ParseArgsOptionsConfig = { ...command.options, ...(command.takesSettings ? settings : {}) };
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const option = accepted[token.name];
    if (!option) {
      throw new ConfigError(token.name in everyOption ? `loupe ${command.name} takes no ${token.rawName} (see loupe --help)` : `unknown flag ${token.rawName}`);
    }
    if (option.type === "string" && token.value === undefined) throw new ConfigError(`${token.rawName} needs a value`);
    if (option.type === "boolean" && token.value !== undefined) throw new ConfigError(`${token.rawName} takes no value`);
  }
  if (rest.length > command.maxPositionals) {
    throw new ConfigError(`loupe ${command.name}: unexpected argument "${rest[command.maxPositionals]}" (see loupe --help)`);
  }

  const input: CommandInput = { positionals: rest, values: {}, settings: {} };
  const own: Record<string, string | boolean> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || Array.isArray(value)) continue;
    if (name in command.options) own[name] = value;
    else if (name in settings) input.settings[`--${name}`] = String(value);
  }
  input.values = own;
  return { command, input };
}

const GLOBAL_OPTIONS: ParseArgsOptionsConfig = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
};

/** One string flag per setting of config's schema, and `--config FILE`. */
function settingsOptions(): ParseArgsOptionsConfig {
  const options: ParseArgsOptionsConfig = { config: { type: "string" } };
  for (const { flag } of describeSettings()) options[flag.slice(2)] = { type: "string" };
  return options;
}
