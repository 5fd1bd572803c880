import { formatTable } from "../../api/format-table.ts";
import { ConfigError, loadConfig } from "../../config.ts";
import type { Command } from "../command.ts";

/** The most entries one call lists: the bound `GET /api/audit` takes (api/access-schemas.ts). */
const MAX_LIMIT = 10_000;

/** `loupe audit [--limit N] [--json]`: the admin actions (who, what, when, target, detail), newest first. */
export const auditCommand: Command = {
  name: "audit",
  usage: "audit [--limit N] [--json]",
  summary: "admin actions on keys, provider keys, limits and settings, newest first",
  options: { limit: { type: "string" }, json: { type: "boolean" } },
  takesSettings: true,
  maxPositionals: 0,
  async run({ values, settings }) {
    const limit = values.limit === undefined ? 100 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new ConfigError(`--limit: "${values.limit}" is not a whole number from 1 to ${MAX_LIMIT}`);
    const config = loadConfig({ flags: settings });
    const entries = await withAccess(config, (access) => access.listAudit(limit));
    if (values.json) return void process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
    const columns = ["at", "actor", "action", "target", "detail"];
    process.stdout.write(`${formatTable({ columns, rows: entries.map((e) => [e.at, e.actor, e.action, e.target, e.detail]) })}\n`);
  },
};

/** access-client.ts (DuckDB, the access book), loaded when the command runs. */
const withAccess: typeof import("../access-client.ts").withAccess = async (config, use) => (await import("../access-client.ts")).withAccess(config, use);
