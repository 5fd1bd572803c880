import { formatTable } from "../../api/format-table.ts";
import { ConfigError, loadConfig } from "../../config.ts";
import type { Command } from "../command.ts";

/** Standard input, whole, without its final line break (a secret never comes through argv: ps and shell history show those). */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("Paste the provider key, then press Enter and Ctrl-D:\n");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

/** `loupe provider-keys set PROVIDER [--project P]` (the secret on standard input), `list`, `delete ID`. */
export const providerKeysCommand: Command = {
  name: "provider-keys",
  usage: "provider-keys set PROVIDER [--project P] | list | delete ID",
  summary: "stored provider keys (secret on stdin): set, list, delete",
  options: { project: { type: "string" }, json: { type: "boolean" } },
  takesSettings: true,
  maxPositionals: 2,
  async run({ positionals, values, settings }) {
    const [sub, arg] = positionals;
    const config = loadConfig({ flags: settings });
    switch (sub) {
      case "set": {
        if (!arg) throw new ConfigError("usage: echo \"$KEY\" | loupe provider-keys set PROVIDER [--project P]");
        const secret = await readStdin();
        if (!secret.trim()) throw new ConfigError("no provider key on standard input (echo \"$KEY\" | loupe provider-keys set PROVIDER)");
        const project = typeof values.project === "string" ? values.project : undefined;
        const stored = await withAccess(config, (access, actor) => access.setProviderKey({ provider: arg, project, secret }, actor));
        process.stdout.write(`Stored ${stored.id}: ${stored.provider} for ${stored.project ?? "every project without its own"} (fingerprint ${stored.fingerprint}).\n`);
        return;
      }
      case "list": {
        const keys = await withAccess(config, (access) => access.listProviderKeys());
        if (values.json) return void process.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
        process.stdout.write(`${formatTable({ columns: ["id", "provider", "project", "fingerprint", "created_at"], rows: keys.map((k) => [k.id, k.provider, k.project ?? "(default)", k.fingerprint, k.created_at]) })}\n`);
        return;
      }
      case "delete": {
        if (!arg) throw new ConfigError("usage: loupe provider-keys delete ID");
        await withAccess(config, (access, actor) => access.deleteProviderKey(arg, actor));
        process.stdout.write(`Deleted ${arg}.\n`);
        return;
      }
      default:
        throw new ConfigError(`usage: loupe ${providerKeysCommand.usage}`);
    }
  },
};

/** access-client.ts (DuckDB, the access book), loaded when the command runs. */
const withAccess: typeof import("../access-client.ts").withAccess = async (config, use) => (await import("../access-client.ts")).withAccess(config, use);
