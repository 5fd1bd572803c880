import type { ParseArgsOptionsConfig } from "node:util";
import type { RecordingThread } from "../recording/worker-client.ts";
import type { Runtime } from "../runtime/runtime.ts";

/** What a command receives from the command line, already checked against its own flags. */
export interface CommandInput {
  positionals: string[];
  /** The command's own flags, by name without `--` (`{ json: true }`). */
  values: Readonly<Record<string, string | boolean | undefined>>;
  /** Settings flags, as `loadConfig` takes them (`{ "--port": "9000" }`). */
  settings: Record<string, string>;
}

/** What main.ts, the composition root, hands every command. */
export interface CommandContext {
  version: string;
  runtime: Runtime;
  /** The recording worker's thread, started ahead when the command line looked like `serve` (main.ts). */
  recordingThread?: RecordingThread | undefined;
}

/**
 * One `loupe <name>` command, in its own module under commands/. main.ts
 * loads every command's module at each start: what only `run` needs is
 * imported there (`await import`), so that `loupe serve` does not load it.
 */
export interface Command {
  name: string;
  /** Its line in `loupe --help`, after `loupe `. */
  usage: string;
  summary: string;
  /** Its own flags (node:util parseArgs' table); settings flags come on top when `takesSettings`. */
  options: ParseArgsOptionsConfig;
  /** Whether it reads the settings (`--db`, `--prices-file`, `--config`, …). */
  takesSettings: boolean;
  /** How many positional arguments it takes at most. */
  maxPositionals: number;
  run(input: CommandInput, context: CommandContext): Promise<void>;
}
