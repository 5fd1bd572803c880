import { ConfigError, loadConfig } from "../../config.ts";
import type { Command } from "../command.ts";
import { formatCsv, formatJson, formatTable } from "../../api/format-table.ts";

/** `loupe sql "<query>" [--json|--csv]`: one read-only query, through the serving gateway when one holds the file. */
export const sqlCommand: Command = {
  name: "sql",
  usage: 'sql "<query>" [--json|--csv]',
  summary: "query the records (read-only)",
  options: { json: { type: "boolean" }, csv: { type: "boolean" } },
  takesSettings: true,
  maxPositionals: Infinity,
  async run({ positionals, values, settings }) {
    const query = positionals.join(" ").trim();
    if (!query) throw new ConfigError('usage: loupe sql "<query>" [--json|--csv]');
    const config = loadConfig({ flags: settings });
    const { runSql } = await import("../db-commands.ts");
    const result = await runSql(query, config);
    const out = values.json ? formatJson(result) : values.csv ? formatCsv(result) : formatTable(result);
    process.stdout.write(out.endsWith("\n") ? out : `${out}\n`);
  },
};
