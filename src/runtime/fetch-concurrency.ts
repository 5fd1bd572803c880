// Bun lets at most 256 outgoing fetch() requests run at once (more are queued),
// which would cap the proxy at 256 in-flight upstream calls. The limit is the
// env var BUN_CONFIG_MAX_HTTP_REQUESTS, and Bun reads it only from the
// environment the process starts with: setting process.env.BUN_CONFIG_MAX_HTTP_REQUESTS
// in the script, even before the first fetch, has no effect (measured on Bun 1.4.5,
// for `bun main.ts` and for the compiled executable alike; there is no CLI flag,
// bunfig key or --compile-exec-argv for it). So when the variable is absent we
// start the program again with it set, and with the other start-only settings
// in START_ENVIRONMENT.
//
// Usage, before anything with side effects (opening files, binding the port).
// Call it for `serve` only, as CLI commands do not need it:
//
//   const exitCode = await ensureFetchConcurrency();
//   if (exitCode !== undefined) process.exit(exitCode);
//
// - Variables already set (by the user too, to any value, which is respected), or
//   not running on Bun: resolves `undefined` at once. Go on.
// - Otherwise, on Linux/macOS, the process replaces itself (execve through
//   bun:ffi) with the same executable, arguments and environment plus the
//   missing variables: same PID, no wrapper process, signals and exit codes as usual, fine
//   as PID 1 in a container. The call never returns. Cost: one more start of the
//   runtime and of the bundle's top level (about 10 ms for an empty script,
//   about 35 ms for main.ts with all its imports).
// - If execve is unavailable (another libc, Windows), a child process runs the
//   program instead. This one forwards SIGINT/SIGTERM/SIGHUP to it and the
//   promise resolves with the child's exit code.

/** Bun's maximum. Open sockets are still bounded by the open-files limit (ulimit -n). */
export const MAX_FETCH_CONCURRENCY = "65535";

/**
 * What the gateway process starts with, unless the environment already says
 * otherwise. Besides the fetch cap: mimalloc (Bun's allocator, which also
 * reads its options only at start) returns freed memory to the OS 100 ms
 * after it is freed, and a busy gateway reuses the same memory soon after:
 * each such page then costs a page fault again, and mimalloc's scavenger
 * thread a madvise(2) per page. Under a burst that was ~1 madvise per call
 * (strace); a 10 s delay gained 2-3% throughput (paired A/Bs under
 * bench/proxy.ts's load), keeps that memory for the next burst, and still
 * gives it back when the gateway idles.
 */
export const START_ENVIRONMENT: Readonly<Record<string, string>> = {
  BUN_CONFIG_MAX_HTTP_REQUESTS: MAX_FETCH_CONCURRENCY,
  MIMALLOC_PURGE_DELAY: "10000",
};

export async function ensureFetchConcurrency(): Promise<number | undefined> {
  if (typeof Bun === "undefined") return undefined;
  const missing = Object.keys(START_ENVIRONMENT).filter((name) => process.env[name] === undefined);
  if (missing.length === 0) return undefined;

  // In a compiled executable argv is ["bun", "/$bunfs/root/<name>", ...user args],
  // and the embedded exec-argv is applied again by itself. Under `bun`, runtime
  // flags such as --smol are in execArgv and argv[1] is the script.
  const argv = Bun.isStandaloneExecutable
    ? [process.execPath, ...process.argv.slice(2)]
    : [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const name of missing) env[name] = START_ENVIRONMENT[name]!;

  await execve(argv, env); // returns only if it could not replace the process

  const child = Bun.spawn(argv, { env, stdio: ["inherit", "inherit", "inherit"] });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => child.kill(sig));
  const code = await child.exited;
  const sig = child.signalCode; // killed by a signal: exit the shell way, 128 + its number
  if (sig === null) return code;
  const { constants } = await import("node:os");
  return 128 + (typeof sig === "number" ? sig : constants.signals[sig]);
}

async function execve(argv: string[], env: Record<string, string>): Promise<void> {
  if (process.platform !== "linux" && process.platform !== "darwin") return;
  try {
    const { dlopen, ptr } = await import("bun:ffi");
    const libc = dlopen(process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6", {
      execve: { args: ["ptr", "ptr", "ptr"], returns: "i32" },
    });
    // NULL-terminated arrays of pointers to NUL-terminated strings; `keep` holds
    // the buffers until execve has copied them.
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
    libc.symbols.execve(ptr(keep[0]!), ptr(cArgv), ptr(cEnv)); // keep[0] is argv[0], the executable
    libc.close(); // still here: execve failed
  } catch {
    // bun:ffi or libc unavailable
  }
}
