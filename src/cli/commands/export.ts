import { resolve } from "node:path";
import { ConfigError, loadConfig } from "../../config.ts";
import type { Command } from "../command.ts";

const USAGE = "export --parquet DIR [--since D]";

/** `loupe export --parquet DIR [--since YYYY-MM-DD]`: date-partitioned Parquet, through the serving gateway when one holds the file. */
export const exportCommand: Command = {
  name: "export",
  usage: USAGE,
  summary: "write the records as date-partitioned Parquet",
  options: { parquet: { type: "string" }, since: { type: "string" } },
  takesSettings: true,
  maxPositionals: 0,
  async run({ values, settings }) {
    const { parquet: dir, since } = values;
    if (typeof dir !== "string") throw new ConfigError("usage: loupe export --parquet DIR [--since YYYY-MM-DD]");
    if (typeof since === "string" && Number.isNaN(Date.parse(since))) throw new ConfigError(`--since: "${since}" is not a date (YYYY-MM-DD)`);
    const config = loadConfig({ flags: settings });
    const { runExport } = await import("../db-commands.ts");
    const result = await runExport(config, resolve(dir), typeof since === "string" ? new Date(since).toISOString() : undefined);
    console.log(JSON.stringify(result));
  },
};
