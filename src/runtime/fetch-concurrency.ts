// Bun lets at most 256 outgoing fetch() requests run at once (more are queued),
// which would cap a proxy at 256 in-flight upstream calls. The limit is
// `BUN_CONFIG_MAX_HTTP_REQUESTS`, and Bun reads it only from the environment it
// starts with: setting `process.env.BUN_CONFIG_MAX_HTTP_REQUESTS` in the script,
// even before the first fetch, has no effect (measured with Bun 1.4.5, both for
// `bun main.ts` and for a `bun build --compile` executable; there is no CLI flag,
// bunfig key or --compile-exec-argv for it). So when the variable is absent we
// start the program again with it set.
//
// Usage, first thing in main.ts (before importing anything heavy, since work done
// before the restart is wasted):
//
//   const exitCode = await ensureFetchConcurrency();
//   if (exitCode !== undefined) process.exit(exitCode);
//
// - Variable already set (also by the user, to any value: respected): resolves
//   `undefined` at once; go on.
// - Otherwise, on Linux/macOS, the process *replaces itself* (execve through
//   bun:ffi) with the same executable, arguments and environment plus the
//   variable: same PID, no wrapper process, signals and exit codes as usual.
//   The call never returns.
// - If execve is unavailable (other libc, Windows), a child process runs the
//   program instead; this one forwards SIGINT/SIGTERM/SIGHUP to it and the
//   promise resolves with the child's exit code.

import { dlopen, ptr } from "bun:ffi";
import { constants } from "node:os";

const VAR = "BUN_CONFIG_MAX_HTTP_REQUESTS";
/** Bun's maximum. Sockets are still bounded by the open-files limit (ulimit -n). */
export const MAX_FETCH_CONCURRENCY = "65535";

export async function ensureFetchConcurrency(): Promise<number | undefined> {
  if (process.env[VAR] !== undefined) return undefined;

  // In a compiled executable argv is ["bun", "/$bunfs/root/<name>", ...user args]
  // and its embedded exec-argv is applied again automatically; under `bun` the
  // runtime flags (e.g. --smol) are in execArgv and argv[1] is the script.
  const argv = Bun.isStandaloneExecutable
    ? [process.execPath, ...process.argv.slice(2)]
    : [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  env[VAR] = MAX_FETCH_CONCURRENCY;

  execve(argv, env); // returns only if it could not replace the process

  const child = Bun.spawn(argv, { env, stdio: ["inherit", "inherit", "inherit"] });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => child.kill(sig));
  }
  const code = await child.exited;
  // Killed by a signal: report it the shell way (128 + signal number).
  const sig = child.signalCode;
  if (sig === null) return code;
  return 128 + (typeof sig === "number" ? sig : constants.signals[sig]);
}

function execve(argv: string[], env: Record<string, string>): void {
  if (process.platform !== "linux" && process.platform !== "darwin") return;
  try {
    const libc = dlopen(process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6", {
      execve: { args: ["ptr", "ptr", "ptr"], returns: "i32" },
    });
    // NULL-terminated arrays of pointers to NUL-terminated strings. The buffers
    // stay referenced by `keep` until execve has copied them.
    const keep: Buffer[] = [];
    const cArray = (strings: string[]) => {
      const arr = new BigUint64Array(strings.length + 1);
      strings.forEach((s, i) => {
        const b = Buffer.from(`${s}\0`);
        keep.push(b);
        arr[i] = BigInt(ptr(b));
      });
      return arr;
    };
    const cArgv = cArray(argv);
    const cEnv = cArray(Object.entries(env).map(([k, v]) => `${k}=${v}`));
    libc.symbols.execve(ptr(keep[0]!), ptr(cArgv), ptr(cEnv));
    // Still here: execve failed; fall back to a child process.
    libc.close();
  } catch {
    // bun:ffi or libc unavailable: fall back to a child process.
  }
}
