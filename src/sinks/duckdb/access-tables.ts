import type { DuckDBConnection, DuckDBValue } from "@duckdb/node-api";
import type { AccessStore, StoredAccess } from "../../keys/access-store.ts";
import type { AuditEntry, GatewayKey, Limit, ProviderKey } from "../../keys/definitions.ts";

/**
 * The access definitions in the DuckDB file, beside `requests`. None of these
 * tables is on the user SQL allowlist (duckdb-store.ts queryReadOnly), so key
 * hashes and sealed provider keys are never readable through `/api/sql` or
 * `loupe sql`. Lists and JSON are stored as JSON text, times as ISO strings:
 * what goes in comes out unchanged.
 */
const TABLES = [
  `CREATE TABLE IF NOT EXISTS gateway_keys (id VARCHAR PRIMARY KEY, name VARCHAR, project VARCHAR NOT NULL, "user" VARCHAR,
    providers VARCHAR, models VARCHAR, metadata VARCHAR, hash VARCHAR NOT NULL, prefix VARCHAR NOT NULL,
    created_at VARCHAR NOT NULL, expires_at VARCHAR, revoked_at VARCHAR, last_used_at VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS provider_keys (id VARCHAR PRIMARY KEY, provider VARCHAR NOT NULL, project VARCHAR,
    sealed VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL, created_at VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS limits (scope VARCHAR NOT NULL, subject VARCHAR NOT NULL, metric VARCHAR NOT NULL,
    amount VARCHAR NOT NULL, "window" VARCHAR NOT NULL, soft_pct DOUBLE)`,
  `CREATE TABLE IF NOT EXISTS admin_audit ("at" VARCHAR NOT NULL, actor VARCHAR NOT NULL, action VARCHAR NOT NULL, target VARCHAR NOT NULL, detail VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS access_secret (verifier VARCHAR NOT NULL)`,
];

export const ACCESS_TABLES = ["gateway_keys", "provider_keys", "limits", "admin_audit", "access_secret"] as const;

export async function createAccessTables(connection: DuckDBConnection): Promise<void> {
  for (const sql of TABLES) await connection.run(sql);
}

const text = (value: unknown) => (value === null || value === undefined ? null : String(value));
const parsed = <T>(value: unknown): T | null => (value === null || value === undefined ? null : (JSON.parse(String(value)) as T));
const json = (value: unknown) => (value === null ? null : JSON.stringify(value));

async function rows(connection: DuckDBConnection, sql: string, params?: DuckDBValue[]) {
  return (await connection.runAndReadAll(sql, params)).getRowObjectsJson();
}

/** The access store on one connection; writes are serialized (one transaction at a time on it). */
export function createDuckDBAccessStore(connection: DuckDBConnection): AccessStore {
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work);
    queue = run.catch(() => undefined);
    return run;
  };
  async function inTransaction(work: () => Promise<void>) {
    await connection.run("BEGIN TRANSACTION");
    try {
      await work();
      await connection.run("COMMIT");
    } catch (error) {
      await connection.run("ROLLBACK");
      throw error;
    }
  }

  return {
    loadAccess: () =>
      serially(async (): Promise<StoredAccess> => {
        const keys = (await rows(connection, "SELECT * FROM gateway_keys ORDER BY created_at, id")).map(
          (r): GatewayKey => ({
            id: String(r.id),
            name: text(r.name),
            project: String(r.project),
            user: text(r.user),
            providers: parsed<string[]>(r.providers),
            models: parsed<string[]>(r.models),
            metadata: parsed<Record<string, string>>(r.metadata),
            hash: String(r.hash),
            prefix: String(r.prefix),
            created_at: String(r.created_at),
            expires_at: text(r.expires_at),
            revoked_at: text(r.revoked_at),
            last_used_at: text(r.last_used_at),
          }),
        );
        const providerKeys = (await rows(connection, "SELECT * FROM provider_keys ORDER BY created_at, id")).map(
          (r): ProviderKey => ({
            id: String(r.id),
            provider: String(r.provider),
            project: text(r.project),
            sealed: String(r.sealed),
            fingerprint: String(r.fingerprint),
            created_at: String(r.created_at),
          }),
        );
        const limits = (await rows(connection, `SELECT * FROM limits ORDER BY scope, subject, metric`)).map(
          (r): Limit => ({
            scope: String(r.scope) as Limit["scope"],
            subject: String(r.subject),
            metric: String(r.metric) as Limit["metric"],
            amount: String(r.amount),
            window: JSON.parse(String(r.window)) as Limit["window"],
            soft_pct: r.soft_pct === null ? null : Number(r.soft_pct),
          }),
        );
        const verifier = (await rows(connection, "SELECT verifier FROM access_secret LIMIT 1"))[0]?.verifier;
        return { definitions: { keys, providerKeys, limits }, verifier: text(verifier) };
      }),
    saveAccess: ({ definitions, verifier }) =>
      serially(() =>
        inTransaction(async () => {
          for (const table of ["gateway_keys", "provider_keys", "limits", "access_secret"]) await connection.run(`DELETE FROM ${table}`);
          for (const k of definitions.keys) {
            await connection.run("INSERT INTO gateway_keys VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)", [
              k.id, k.name, k.project, k.user, json(k.providers), json(k.models), json(k.metadata), k.hash, k.prefix, k.created_at, k.expires_at, k.revoked_at, k.last_used_at,
            ]);
          }
          for (const p of definitions.providerKeys) {
            await connection.run("INSERT INTO provider_keys VALUES ($1, $2, $3, $4, $5, $6)", [p.id, p.provider, p.project, p.sealed, p.fingerprint, p.created_at]);
          }
          for (const l of definitions.limits) {
            await connection.run("INSERT INTO limits VALUES ($1, $2, $3, $4, $5, $6)", [l.scope, l.subject, l.metric, l.amount, JSON.stringify(l.window), l.soft_pct]);
          }
          if (verifier !== null) await connection.run("INSERT INTO access_secret VALUES ($1)", [verifier]);
        }),
      ),
    audit: (entry) =>
      serially(async () => {
        await connection.run("INSERT INTO admin_audit VALUES ($1, $2, $3, $4, $5)", [entry.at, entry.actor, entry.action, entry.target, entry.detail]);
      }),
    listAudit: (limit) =>
      serially(async () =>
        (await rows(connection, 'SELECT * FROM admin_audit ORDER BY "at" DESC LIMIT $1', [limit])).map(
          (r): AuditEntry => ({ at: String(r.at), actor: String(r.actor), action: String(r.action), target: String(r.target), detail: text(r.detail) }),
        ),
      ),
    touchKeys: (used) =>
      serially(async () => {
        const entries = Object.entries(used);
        if (entries.length === 0) return;
        await inTransaction(async () => {
          for (const [id, at] of entries) await connection.run("UPDATE gateway_keys SET last_used_at = $2 WHERE id = $1", [id, at]);
        });
      }),
  };
}
