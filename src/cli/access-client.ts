import { ConfigError, type Config } from "../config.ts";
import type { AccessCommands, Actor } from "../keys/access-admin.ts";
import { openAccess } from "../keys/open-access.ts";
import { openDuckDBStore } from "../sinks/duckdb/duckdb-store.ts";
import { readDiscovery } from "./discovery.ts";

/**
 * The access commands as `loupe keys|provider-keys|limits` reach them: the
 * serving gateway's admin API when one holds the database file (with the
 * local key from the discovery file, audited as `cli`), else the file itself
 * (then LOUPE_SECRET must be set for keys, and with LOUPE_REDIS_URL the change
 * is shared there too). Input errors become ConfigError: exit code 2.
 */
export async function withAccess<T>(config: Config, work: (commands: AccessCommands, actor: Actor) => Promise<T>): Promise<T> {
  const server = config.db === ":memory:" ? undefined : readDiscovery(config.db);
  if (server) return work(httpCommands(server.url, server.key), "cli");
  const store = await openDuckDBStore(config.db);
  try {
    const access = await openAccess({ store: store.access, secret: config.access.secret, redisUrl: config.access.redisUrl, serving: false, log: (m) => console.error(`[loupe] ${m}`) });
    try {
      return await work(access.admin, "cli");
    } catch (error) {
      throw (error as Error).name === "AccessInputError" ? new ConfigError((error as Error).message) : error;
    } finally {
      await access.close();
    }
  } finally {
    await store.close();
  }
}

function httpCommands(base: string, key: string): AccessCommands {
  async function ask<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { "x-loupe-local-key": key, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = (await response.json()) as T & { error?: { type?: string; message?: string } };
    if (!response.ok) {
      const message = answer.error?.message ?? `the gateway answered ${response.status}`;
      throw response.status === 400 ? new ConfigError(message) : new Error(message);
    }
    return answer;
  }
  const items = async <T>(path: string) => (await ask<{ items: T[] }>("GET", path)).items;
  return {
    createKey: (input) =>
      ask("POST", "/api/keys", { project: input.project, user: input.user, name: input.name, expires_in_s: input.expiresInS, providers: input.providers, models: input.models, metadata: input.metadata }),
    listKeys: () => items("/api/keys"),
    revokeKey: (id) => ask("POST", `/api/keys/${encodeURIComponent(id)}/revoke`),
    rotateKey: (id) => ask("POST", `/api/keys/${encodeURIComponent(id)}/rotate`),
    setProviderKey: (input) => ask("POST", "/api/provider-keys", input),
    listProviderKeys: () => items("/api/provider-keys"),
    deleteProviderKey: async (id) => void (await ask("DELETE", `/api/provider-keys/${encodeURIComponent(id)}`)),
    setLimit: (limit) => ask("PUT", "/api/limits", limit),
    listLimits: () => items("/api/limits"),
    clearLimit: (input) => ask("DELETE", `/api/limits?${new URLSearchParams(Object.entries(input).filter((e): e is [string, string] => e[1] !== undefined))}`),
    listAudit: (limit) => items(`/api/audit?limit=${limit}`),
  };
}
