// `npm run build` → dist/loupe: one self-contained executable for this machine's
// OS/arch (Bun runtime + bundled code + DuckDB), needing no Node, Bun or node_modules.
//
//   bun scripts/build.ts [--sourcemap] [entry] [outfile]     (defaults: main.ts dist/loupe)
//
// DuckDB: the addon duckdb.node is embedded by Bun itself (it is `require`d by
// @duckdb/node-bindings), but the library it links against, libduckdb.so, is not
// seen by the bundler; we add it as an extra entry point so it is embedded as an
// asset, and src/sinks/duckdb/load-duckdb.ts extracts and preloads it at run time.
// It is embedded packed: without its symbol table (`strip`, when on the PATH:
// 67 → 57 MiB; nothing reads it at run time) and compressed with zstd (→ 17 MiB),
// which makes the executable ~50 MiB smaller; load-duckdb.ts unpacks it once
// into its cache folder (bench/executable-size.ts shows what the executable holds).

import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { constants as zlib, zstdCompressSync } from "node:zlib";
import { basename, dirname, join, resolve } from "node:path";
import { otherPlatforms, withoutBundledPrices } from "./build-plugins.ts";

const root = resolve(import.meta.dir, "..");

// The dashboard's bundle (src/dashboard/ui-bundle.generated.ts), fresh, so the executable serves what ui/ says.
const ui = Bun.spawnSync([process.execPath, join(root, "scripts", "build-ui.ts")], { stdout: "inherit", stderr: "inherit" });
if (ui.exitCode !== 0) process.exit(ui.exitCode ?? 1);
const args = process.argv.slice(2);
const sourcemap = args.includes("--sourcemap");
const [entry = join(root, "main.ts"), outfile = join(root, "dist", "loupe")] = args.filter((a) => !a.startsWith("--"));

// The bindings package for the machine we build on (and so run on).
const musl = process.platform === "linux" && existsSync(`/lib/ld-musl-${process.arch === "x64" ? "x86_64" : "aarch64"}.so.1`);
const bindingsPkg = `@duckdb/node-bindings-${process.platform}-${process.arch}${musl ? "-musl" : ""}`;
const libName = process.platform === "darwin" ? "libduckdb.dylib" : process.platform === "win32" ? "duckdb.dll" : "libduckdb.so";
let libduckdb: string;
try {
  libduckdb = join(dirname(Bun.resolveSync(`${bindingsPkg}/duckdb.node`, root)), libName);
  statSync(libduckdb);
} catch {
  console.error(`build: ${bindingsPkg}/${libName} not found; run \`npm install\` first`);
  process.exit(1);
}

// The library packed (see the top): `<libName>.zst`, embedded as `libduckdb.so-<hash>.zst`.
const packDir = mkdtempSync(join(tmpdir(), "loupe-build-"));
process.on("exit", () => rmSync(packDir, { recursive: true, force: true }));
const stripped = join(packDir, libName);
const strip = process.platform === "linux" ? Bun.which("strip") : null;
if (!strip || Bun.spawnSync([strip, "--strip-unneeded", "-o", stripped, libduckdb]).exitCode !== 0) {
  console.warn(`build: ${libName} embedded with its symbol table (no \`strip\` on the PATH, or it failed)`);
  writeFileSync(stripped, await Bun.file(libduckdb).bytes());
}
const libduckdbPacked = `${stripped}.zst`;
writeFileSync(libduckdbPacked, zstdCompressSync(await Bun.file(stripped).bytes(), { params: { [zlib.ZSTD_c_compressionLevel]: 9 } }));

// Worker scripts must be entry points of their own to be in the executable. Find
// them where they are started: `new Worker(new URL("./x.ts", import.meta.url)...)`.
const workers = new Set<string>();
for (const file of new Bun.Glob("src/**/*.ts").scanSync(root)) {
  const code = await Bun.file(join(root, file)).text();
  for (const m of code.matchAll(/new Worker\(\s*new URL\(\s*["'](\.{1,2}\/[^"']+)["']\s*,\s*import\.meta\.url/g)) {
    workers.add(resolve(root, dirname(file), m[1]!));
  }
}
const names = [entry, ...workers].map((p) => basename(p).replace(/\.[cm]?[jt]sx?$/, ""));
if (new Set(names).size !== names.length) {
  console.error(`build: entry points must have distinct file names (flat naming): ${names.join(", ")}`);
  process.exit(1);
}

mkdirSync(dirname(outfile), { recursive: true });
const started = performance.now();

/** Compiles the executable; `bytecodeOrder`: the profile of a run (see below). */
async function compile(bytecodeOrder?: string): Promise<void> {
  const result = await Bun.build({
    entrypoints: [entry, ...workers, libduckdbPacked],
    compile: {
      outfile,
      // Deterministic behaviour wherever it is started: configuration comes from
      // Loupe's own env vars and flags, not from a stray .env/bunfig.toml in the cwd.
      autoloadDotenv: false,
      autoloadBunfig: false,
      bytecodeOrder: bytecodeOrder ?? null,
    },
    naming: {
      // Flat: every entry point sits next to the main bundle in /$bunfs/root/, so
      // `new Worker("./recording-worker.ts")` finds it there (src/recording/worker-client.ts).
      entry: "[name].[ext]",
      // load-duckdb.ts finds the library by this name pattern; the hash keys its cache.
      asset: "[name]-[hash].[ext]",
    },
    minify: true,
    // JavaScriptCore's bytecode, compiled now instead of at every start: the executable starts with ~40% less
    // CPU (main thread 227 → 102 ms, recording worker 175 → 81 ms to the first /health, bench/startup.ts) and
    // 13 MiB larger. Bytecode bundles are CommonJS, where import.meta.url is the source file's path at build
    // time (so the worker is named otherwise in the executable: src/recording/worker-client.ts).
    bytecode: true,
    sourcemap: sourcemap ? "inline" : "none",
    plugins: [otherPlatforms, withoutBundledPrices],
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    process.exit(1);
  }
}

/**
 * Runs the executable once, recording which functions it uses (Bun's
 * BUN_BYTECODE_ORDER_OUT): a start, /health, one proxied call (its upstream
 * refuses the connection, so it fails fast and is recorded), SIGTERM.
 * Returns the profile, or undefined when the run did not go through.
 */
async function recordBytecodeOrder(): Promise<string | undefined> {
  const dir = join(packDir, "profile-run");
  mkdirSync(dir);
  const order = join(packDir, "bytecode-order.txt");
  const db = join(dir, "loupe.duckdb");
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, XDG_CACHE_HOME: join(dir, "cache"), LOUPE_DB: db, LOUPE_PORT: "0", LOUPE_QUIET: "true" };
  const proc = Bun.spawn([outfile, "serve"], { cwd: dir, env: { ...env, LOUPE_OPENAI_BASE_URL: "http://127.0.0.1:9", BUN_BYTECODE_ORDER_OUT: order }, stdout: "ignore", stderr: "ignore" });
  try {
    const deadline = Date.now() + 30_000;
    while (!existsSync(`${db}.loupe.json`)) {
      if (proc.exitCode !== null || Date.now() > deadline) return undefined;
      await Bun.sleep(20);
    }
    const { url } = JSON.parse(await Bun.file(`${db}.loupe.json`).text()) as { url: string };
    await fetch(`${url}/health`);
    const body = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] });
    await fetch(`${url}/openai/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer sk-profile" }, body });
  } catch {
    return undefined;
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
  return existsSync(order) ? order : undefined;
}

// Profile-guided bytecode layout: compiled again with the profile of a run,
// the bytecode that run used comes first in the file, so a start touches
// fewer of its pages (~5 MB less resident, bench/memory.ts; the same start-up time).
await compile();
const order = await recordBytecodeOrder();
if (order) await compile(order);
else console.warn("build: the profile run did not go through; the bytecode keeps the bundler's order");
const mib = (statSync(outfile).size / 2 ** 20).toFixed(1);
const secs = ((performance.now() - started) / 1000).toFixed(1);
const libMib = (path: string) => (statSync(path).size / 2 ** 20).toFixed(1);
console.log(`built ${outfile} (${mib} MiB; ${libName} ${libMib(libduckdb)} MiB, stripped ${libMib(stripped)}, embedded zstd-packed ${libMib(libduckdbPacked)}) in ${secs}s`);
