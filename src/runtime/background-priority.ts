// Storage runs at background priority, so under load it never takes CPU
// time from proxying (the journal keeps every record safe while it waits).
//
// DuckDB executes each statement on the thread pool Bun runs native async
// work on ("Bun Pool N" threads), and DuckDB's own worker threads, started
// from there, carry the same name. On Linux the nice value is per thread, so
// those threads, and the storage worker's own JS thread, are given nice 19
// and the SCHED_IDLE policy (nice 19 alone still let them take ~5 µs of CPU per
// call during a burst, bench/): when the gateway is busy they get a sliver of
// a core and finish the backlog when it is not; when the CPU is idle they run
// at full speed. New pool
// threads can appear at any time, so every call looks again (reading
// /proc/self/task costs ~0.1 ms, once per stored batch).
//
// Other platforms, runtimes without bun:ffi, or a denied setpriority: nothing
// changes, storage simply shares the CPU as any thread would.

import { readdirSync, readFileSync } from "node:fs";

const NICE = 19;
const SCHED_IDLE = 5;
const POOL_THREAD = /^Bun Pool/;

/** setpriority(2), followed by sched_setscheduler(2) to SCHED_IDLE where libc has it. */
type SetPriority = (which: number, who: number, prio: number) => number;
let setpriority: SetPriority | null | undefined;
let enabled = true;
const lowered = new Set<number>();

/** `background` (the default) or `normal`: `normal` turns this off, for comparison. */
export function setStoragePriority(priority: "background" | "normal"): void {
  enabled = priority === "background";
}

async function load(): Promise<SetPriority | null> {
  if (process.platform !== "linux" || typeof Bun === "undefined") return null;
  try {
    const { dlopen, ptr } = await import("bun:ffi");
    const libc = dlopen("libc.so.6", {
      setpriority: { args: ["i32", "u32", "i32"], returns: "i32" },
      sched_setscheduler: { args: ["i32", "i32", "ptr"], returns: "i32" },
    });
    const noRealtimePriority = ptr(new Int32Array([0])); // struct sched_param { int sched_priority = 0 }
    return (which, who, prio) => {
      const niced = libc.symbols.setpriority(which, who, prio) as number;
      // SCHED_IDLE as well where allowed: the thread runs only on a core nothing else wants.
      libc.symbols.sched_setscheduler(who, SCHED_IDLE, noRealtimePriority);
      return niced;
    };
  } catch {
    return null;
  }
}

/** Lowers the priority of the calling thread and of every pool thread not lowered yet. */
export async function lowerStoragePriority(): Promise<void> {
  if (!enabled) return;
  setpriority ??= await load();
  if (!setpriority) return;
  const PRIO_PROCESS = 0;
  if (!lowered.has(0) && setpriority(PRIO_PROCESS, 0, NICE) === 0) lowered.add(0); // who 0: this thread (Linux)
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    return;
  }
  for (const entry of tids) {
    const tid = Number(entry);
    if (lowered.has(tid)) continue;
    let name: string;
    try {
      name = readFileSync(`/proc/self/task/${entry}/comm`, "utf8");
    } catch {
      continue; // the thread has just ended
    }
    if (POOL_THREAD.test(name) && setpriority(PRIO_PROCESS, tid, NICE) === 0) lowered.add(tid);
  }
}
