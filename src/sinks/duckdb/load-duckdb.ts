// The one way the rest of Loupe gets DuckDB: `await loadDuckDB()`.
//
// Why this exists: `@duckdb/node-api` loads the native addon
// `@duckdb/node-bindings-linux-x64/duckdb.node`, which has `NEEDED libduckdb.so`
// with `RUNPATH $ORIGIN`, i.e. it expects libduckdb.so in the same folder.
// `bun build --compile` embeds duckdb.node (Bun writes it to a temp file and
// dlopens it on require) but knows nothing about libduckdb.so, so the compiled
// executable would fail with "libduckdb.so: cannot open shared object file".
//
// Fix: scripts/build.ts embeds libduckdb.so as an extra asset, zstd-compressed.
// In the compiled executable we unpack it once into a cache folder (named by
// Bun's content hash, so a new DuckDB version gets a new file) and dlopen it
// *before* the addon loads.
// The dynamic linker then satisfies the addon's `NEEDED libduckdb.so` with the
// already loaded library, because it matches loaded objects by their SONAME
// (libduckdb.so) and not only by path.
//
// When not compiled (`bun main.ts`, `bun test`, Deno) the package is used as is.
// Nothing happens at import time; the work is done on the first call only (once
// per thread: the DuckDB worker calls it too, and dlopen of a loaded library is cheap).
//
// Caveat: Bun extracts the embedded duckdb.node itself to $TMPDIR (/tmp/.bun-*.node);
// if that is mounted noexec, point TMPDIR at an exec-capable folder.

import { closeSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

export type DuckDBModule = typeof import("@duckdb/node-api");

let loading: Promise<DuckDBModule> | undefined;

export function loadDuckDB(): Promise<DuckDBModule> {
  if (!loading) {
    loading = (async () => {
      if (typeof Bun !== "undefined" && Bun.isStandaloneExecutable) await preloadEmbeddedLibduckdb();
      return await import("@duckdb/node-api");
    })();
    // Do not keep a failure cached: a later call may succeed (e.g. disk space freed).
    loading.catch(() => {
      loading = undefined;
    });
  }
  return loading;
}

// Kept referenced so the library can never be closed while the process lives.
let libduckdbHandle: unknown;

async function preloadEmbeddedLibduckdb(): Promise<void> {
  // Asset names look like "libduckdb.so-<contenthash>.zst" (naming set in scripts/build.ts), unpacked as "libduckdb-<contenthash>.so".
  // (.dylib: the same should work on macOS, where dyld matches the install name; untested.)
  const asset = Bun.embeddedFiles.find((f) => PACKED.test(assetName(f)));
  if (!asset) {
    throw new Error("libduckdb.so is not embedded in this executable: build it with `npm run build`");
  }
  const [, ext, hash] = PACKED.exec(assetName(asset))!;
  const { dlopen } = await import("bun:ffi");
  const errors: string[] = [];
  for (const dir of cacheDirs()) {
    const path = join(dir, `libduckdb-${hash}.${ext}`);
    try {
      await extract(asset, path);
      // bun:ffi wants at least one symbol; this one is part of DuckDB's stable C API.
      libduckdbHandle = dlopen(path, { duckdb_library_version: { args: [], returns: "cstring" } });
      return;
    } catch (err) {
      // Unwritable folder, or one mounted noexec (dlopen fails): try the next one.
      errors.push(`${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  throw new Error(`could not extract and load libduckdb.so:\n  ${errors.join("\n  ")}`);
}

const PACKED = /^libduckdb\.(so|dylib)-(\w+)\.zst$/;

function assetName(f: Blob): string {
  return (f as Blob & { name?: string }).name ?? "";
}

/** `$XDG_CACHE_HOME/loupe`, `~/.cache/loupe`, then `<tmpdir>/loupe-<uid>`. */
function cacheDirs(): string[] {
  const dirs: string[] = [];
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg) dirs.push(join(xdg, "loupe"));
  try {
    const home = homedir();
    if (home) dirs.push(join(home, ".cache", "loupe"));
  } catch {
    // no home directory (e.g. a uid without a passwd entry)
  }
  dirs.push(join(tmpdir(), `loupe-${process.getuid?.() ?? "user"}`));
  return dirs;
}

/** Unpacks `asset` (zstd) to `path` unless a complete copy is already there. Atomic: temp file + rename. */
async function extract(asset: Blob, path: string): Promise<void> {
  const dir = join(path, "..");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // We are about to load code from this folder: refuse one that someone else
  // could have prepared (e.g. a planted /tmp/loupe-<uid>).
  const st = statSync(dir);
  if (process.getuid && (st.uid !== process.getuid() || (st.mode & 0o022) !== 0)) {
    throw new Error("folder not owned by this user or writable by others");
  }
  try {
    // The name carries a content hash, so a file of the right size is the right file.
    if (statSync(path).size === unpackedSize(new Uint8Array(await asset.slice(0, 18).arrayBuffer()))) return;
  } catch {
    // not there yet
  }
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeInPieces(tmp, asset.stream().pipeThrough(new DecompressionStream("zstd")));
    renameSync(tmp, path); // concurrent starts each rename a complete file: last one wins
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean
    }
    throw err;
  }
}

/**
 * Writes a stream to a new file 64 KiB at a time. The size of the writes sets
 * the size of the page-cache folios that hold the file (Linux 6.x), and a page
 * fault in the mapped library maps the whole folio around it: written in 4 MiB
 * pieces, the library had 23 MB resident right after dlopen; in 64 KiB pieces,
 * 10 MB (bench/memory.ts: ~13 MB less once serving).
 */
async function writeInPieces(path: string, stream: ReadableStream<Uint8Array>): Promise<void> {
  const PIECE = 64 * 1024;
  const fd = openSync(path, "wx", 0o644);
  try {
    for await (const chunk of stream) for (let at = 0; at < chunk.length; at += PIECE) writeSync(fd, chunk, at, Math.min(PIECE, chunk.length - at));
  } finally {
    closeSync(fd);
  }
}

/** The size a zstd frame unpacks to, from its header (RFC 8878 §3.1.1.1: the compressor writes it when it knows it). */
function unpackedSize(header: Uint8Array): number | undefined {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (header.length < 6 || view.getUint32(0, true) !== 0xfd2fb528) return undefined;
  const descriptor = header[4]!;
  const singleSegment = (descriptor >> 5) & 1;
  const sizeBytes = [singleSegment, 2, 4, 8][descriptor >> 6]!;
  const at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][descriptor & 3]!;
  if (sizeBytes === 0 || header.length < at + sizeBytes) return undefined;
  if (sizeBytes === 1) return view.getUint8(at);
  if (sizeBytes === 2) return view.getUint16(at, true) + 256;
  if (sizeBytes === 4) return view.getUint32(at, true);
  return Number(view.getBigUint64(at, true));
}
