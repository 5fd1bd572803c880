import { formatTable } from "../../api/format-table.ts";
import { ConfigError, loadConfig } from "../../config.ts";
import type { Limit } from "../../keys/definitions.ts";
import type { Command } from "../command.ts";
import { describeLimit, formatNano, parseLimitFlags, parseScope } from "../limit-flags.ts";

type Listed = Limit & { usage?: { used: string; reset_s: number } | null };

/** `loupe limits set SCOPE ID [--requests N/WINDOW] [--tokens N/WINDOW] [--usd X/WINDOW] [--budget-usd X/day|week|month] [--soft PCT]`, `list`, `clear SCOPE ID`. */
export const limitsCommand: Command = {
  name: "limits",
  usage: "limits set SCOPE ID [--requests N/1m] [--tokens N/1h] [--usd X/1d] [--budget-usd X/month] [--soft PCT] | list | clear SCOPE ID",
  summary: "limits and budgets per key, project, user or model",
  options: {
    requests: { type: "string" },
    tokens: { type: "string" },
    usd: { type: "string" },
    "budget-usd": { type: "string" },
    soft: { type: "string" },
    metric: { type: "string" },
    json: { type: "boolean" },
  },
  takesSettings: true,
  maxPositionals: 3,
  async run({ positionals, values, settings }) {
    const [sub, scopeText, subject] = positionals;
    switch (sub) {
      case "set": {
        const scope = parseScope(scopeText);
        if (!subject) throw new ConfigError(`usage: loupe ${limitsCommand.usage}`);
        const limits = parseLimitFlags(scope, subject, values);
        const config = loadConfig({ flags: settings });
        await withAccess(config, async (access, actor) => {
          for (const limit of limits) await access.setLimit(limit, actor);
        });
        for (const limit of limits) process.stdout.write(`Set ${scope} ${subject}: ${describeLimit(limit)}\n`);
        return;
      }
      case "list": {
        const config = loadConfig({ flags: settings });
        const limits = (await withAccess(config, (access) => access.listLimits())) as Listed[];
        if (values.json) return void process.stdout.write(`${JSON.stringify(limits, null, 2)}\n`);
        const used = (l: Listed) => (!l.usage ? "" : l.metric === "usd" ? `$${formatNano(l.usage.used)}` : l.usage.used);
        process.stdout.write(`${formatTable({ columns: ["scope", "subject", "limit", "used", "resets_in_s"], rows: limits.map((l) => [l.scope, l.subject, describeLimit(l), used(l), l.usage?.reset_s ?? ""]) })}\n`);
        return;
      }
      case "clear": {
        const scope = parseScope(scopeText);
        if (!subject) throw new ConfigError("usage: loupe limits clear SCOPE ID [--metric requests|tokens|usd]");
        const metric = values.metric;
        if (metric !== undefined && !["requests", "tokens", "usd"].includes(String(metric))) throw new ConfigError("--metric is requests, tokens or usd");
        const config = loadConfig({ flags: settings });
        const { removed } = await withAccess(config, (access, actor) => access.clearLimit({ scope, subject, metric: metric as Limit["metric"] | undefined }, actor));
        process.stdout.write(`Cleared ${removed} limit(s) of ${scope} ${subject}.\n`);
        return;
      }
      default:
        throw new ConfigError(`usage: loupe ${limitsCommand.usage}`);
    }
  },
};

/** access-client.ts (DuckDB, the access book), loaded when the command runs. */
const withAccess: typeof import("../access-client.ts").withAccess = async (config, use) => (await import("../access-client.ts")).withAccess(config, use);
