import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * DuckDB lets one process hold a database file. A serving gateway writes
 * `<db>.loupe.json` beside it (mode 0600) saying where its local admin
 * endpoint listens and the key it accepts, so `loupe sql` can ask the server
 * instead of opening the file.
 */
export interface Discovery {
  pid: number;
  url: string;
  key: string;
}

export const discoveryPath = (db: string) => `${resolve(db)}.loupe.json`;
export const journalPath = (db: string) => `${resolve(db)}.journal`;

export function writeDiscovery(db: string, info: Discovery): void {
  const path = discoveryPath(db);
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(info), { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, path);
}

export function readDiscovery(db: string): Discovery | undefined {
  try {
    const info = JSON.parse(readFileSync(discoveryPath(db), "utf8")) as Discovery;
    process.kill(info.pid, 0); // throws when no such process: a stale file
    return info;
  } catch {
    return undefined;
  }
}

export function removeDiscovery(db: string): void {
  rmSync(discoveryPath(db), { force: true });
}
