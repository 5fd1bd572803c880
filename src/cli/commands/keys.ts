import { formatTable } from "../../api/format-table.ts";
import { ConfigError, loadConfig } from "../../config.ts";
import { parseWindow } from "../../keys/definitions.ts";
import type { Command } from "../command.ts";

const USAGE = "keys create --project P [--user U] [--name N] [--expires-in 30d] [--providers a,b] [--models 'gpt-4o*,claude-*'] [--json] | list [--json] | revoke ID | rotate ID";
const list = (text: string | boolean | undefined) => (typeof text === "string" ? text.split(",").map((s) => s.trim()).filter(Boolean) : undefined);
const text = (value: string | boolean | undefined) => (typeof value === "string" ? value : undefined);

/** `loupe keys …`: gateway keys. A new or rotated key is printed alone on the last line (`--json`: `{"id","key"}`), once. */
export const keysCommand: Command = {
  name: "keys",
  usage: "keys create|list|revoke|rotate",
  summary: "gateway keys (lp_live_…): create, list, revoke, rotate",
  options: {
    project: { type: "string" },
    user: { type: "string" },
    name: { type: "string" },
    "expires-in": { type: "string" },
    providers: { type: "string" },
    models: { type: "string" },
    json: { type: "boolean" },
  },
  takesSettings: true,
  maxPositionals: 2,
  async run({ positionals, values, settings }) {
    const [sub, id] = positionals;
    const config = loadConfig({ flags: settings });
    const printKey = (made: { id: string; key: string }, what: string) => {
      if (values.json) process.stdout.write(`${JSON.stringify(made)}\n`);
      else process.stdout.write(`${what} ${made.id}. Store the key now: it is not shown again.\n${made.key}\n`);
    };
    switch (sub) {
      case "create": {
        if (id !== undefined) throw new ConfigError(`loupe keys create takes no argument (got "${id}")`);
        const project = text(values.project);
        if (!project) throw new ConfigError("loupe keys create needs --project P");
        let expiresInS: number | undefined;
        if (values["expires-in"] !== undefined) {
          expiresInS = parseWindow(String(values["expires-in"]));
          if (expiresInS === undefined) throw new ConfigError(`--expires-in: "${values["expires-in"]}" is not a duration (like 30d, 12h, 2w)`);
        }
        const made = await withAccess(config, (access, actor) =>
          access.createKey({ project, user: text(values.user), name: text(values.name), expiresInS, providers: list(values.providers), models: list(values.models) }, actor),
        );
        return printKey(made, "Created");
      }
      case "list": {
        const keys = await withAccess(config, (access) => access.listKeys());
        if (values.json) return void process.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
        const columns = ["id", "name", "project", "user", "status", "last_used_at", "expires_at", "prefix"];
        process.stdout.write(`${formatTable({ columns, rows: keys.map((k) => [k.id, k.name, k.project, k.user, k.status, k.last_used_at, k.expires_at, `${k.prefix}…`]) })}\n`);
        return;
      }
      case "revoke": {
        if (!id) throw new ConfigError("usage: loupe keys revoke ID");
        const key = await withAccess(config, (access, actor) => access.revokeKey(id, actor));
        process.stdout.write(`Revoked ${key.id} (${key.project}${key.name ? `, ${key.name}` : ""}).\n`);
        return;
      }
      case "rotate": {
        if (!id) throw new ConfigError("usage: loupe keys rotate ID");
        return printKey(await withAccess(config, (access, actor) => access.rotateKey(id, actor)), "Rotated");
      }
      default:
        throw new ConfigError(`usage: loupe ${USAGE}`);
    }
  },
};

/** access-client.ts (DuckDB, the access book), loaded when the command runs. */
const withAccess: typeof import("../access-client.ts").withAccess = async (config, use) => (await import("../access-client.ts")).withAccess(config, use);
