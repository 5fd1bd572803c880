import { readdirSync, readFileSync } from "node:fs";
import type { Gateway } from "./gateway.ts";

/** The serving process's id, from the discovery file it writes once it listens (src/cli/discovery.ts). */
export const servingPid = (gateway: Pick<Gateway, "db">): number => (JSON.parse(readFileSync(`${gateway.db}.loupe.json`, "utf8")) as { pid: number }).pid;

/** Resident memory of a process in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kib) / 1024;
}

/** How many file descriptors a process has open (Linux /proc). */
export const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** The soft limit on open files of a process (Linux /proc), "unlimited" as Infinity. */
export function openFilesLimit(pid: number | "self" = "self"): number {
  const line = readFileSync(`/proc/${pid}/limits`, "utf8").split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === undefined || soft === "unlimited" ? Infinity : Number(soft);
}
