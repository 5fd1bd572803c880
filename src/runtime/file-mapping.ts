// Files written through a shared memory mapping (mmap(2) with MAP_SHARED):
// a store into the mapping is in the OS's page cache at once, so it survives
// `kill -9` of the process exactly as a write(2) would, without a system call
// per write. The journal appends each call through one (journal.ts); on this
// VM a write(2) per call cost ~12% of the gateway's throughput (under bench/proxy.ts's load).
//
// Each file's blocks are reserved with posix_fallocate(3) before it is
// mapped: a store into a mapped page the disk cannot back would kill the
// process with SIGBUS, while a failed reservation is an ordinary error the
// journal reports (and the record is kept in memory). The reserved bytes are
// then written as zeros, a MiB per write(2): the pages are in the page cache
// before the first call lands on them. The first store into a page that is
// not costs a page fault of ~3.4 µs here (the filesystem's work for a new
// page); the zeros cost ~0.5 µs a page in bulk, and throughput rose 4.5%
// (paired A/B under bench/proxy.ts's load).
//
// Linux with bun:ffi only; elsewhere `loadFileMapping` gives null and the
// journal writes with write(2).

import { close as closeAsync, closeSync, ftruncateSync, open as openAsync, openSync, renameSync, unlinkSync, write as writeAsync, writeSync } from "node:fs";

export interface MappedFile {
  /** The mapped bytes, `size` long; replaced by `reserve`, invalid after `close`. */
  readonly bytes: Uint8Array;
  /**
   * The file's descriptor, for fdatasync(2): on Linux the mapping shares the
   * page cache, so syncing the descriptor writes back the pages stored into
   * through the mapping too (what msync(2) with MS_SYNC does there).
   */
  readonly fd: number;
  /** Makes the file (and `bytes`) at least `size` bytes long. Throws if the disk cannot hold them. */
  reserve(size: number): void;
  /** Unmaps the file and cuts it to its first `length` bytes (0 deletes it). */
  close(length: number): void;
  /** Renames the file (it stays mapped): a file made ahead under a spare name takes its place. */
  moveTo(path: string): void;
}

export interface FileMapping {
  /** Creates `path` (which must not exist) reserving `size` bytes, all zero, and maps it. */
  create(path: string, size: number): MappedFile;
  /**
   * The same, with the open and the zeros on the runtime's thread pool: a
   * file made ahead of need, so the event loop does not spend the ~0.5–1.5 ms
   * of writing a segment's zeros while calls wait on it.
   */
  prepare?(path: string, size: number): Promise<MappedFile>;
}

const PROT_READ_WRITE = 0x1 | 0x2;
const MAP_SHARED = 0x1;
const MREMAP_MAYMOVE = 0x1;
const ZEROS = new Uint8Array(1 << 20);

/** The mapping functions of libc, or null where they cannot be had. */
export async function loadFileMapping(): Promise<FileMapping | null> {
  if (process.platform !== "linux" || typeof Bun === "undefined") return null;
  try {
    const { dlopen, toArrayBuffer } = await import("bun:ffi");
    const { symbols: libc } = dlopen("libc.so.6", {
      posix_fallocate: { args: ["i32", "i64", "i64"], returns: "i32" },
      mmap: { args: ["ptr", "u64", "i32", "i32", "i32", "i64"], returns: "ptr" },
      munmap: { args: ["ptr", "u64"], returns: "i32" },
      mremap: { args: ["ptr", "u64", "u64", "i32"], returns: "ptr" },
    });

    /** The mapping at `address` (what mmap or mremap gave); their MAP_FAILED, (void *) -1, does not come back as a plain number. */
    function mapped(address: unknown, size: number, path: string): { address: number; bytes: Uint8Array } {
      if (typeof address !== "number" || address === 0) throw new Error(`cannot map ${size} bytes of ${path}`);
      return { address, bytes: new Uint8Array(toArrayBuffer(address as never, 0, size)) };
    }

    /** Reserves the file's blocks up to `size`, and writes zeros over them from `from` (see above). */
    function allocate(fd: number, path: string, from: number, size: number) {
      const errno = libc.posix_fallocate(fd, 0, size);
      if (errno !== 0) throw new Error(`cannot reserve ${size} bytes for ${path} (errno ${errno}${errno === 28 ? ": no space left on device" : ""})`);
      for (let at = from; at < size; at += ZEROS.byteLength) writeSync(fd, ZEROS, 0, Math.min(ZEROS.byteLength, size - at), at);
    }

    /** The zeros of `allocate`, written through the thread pool. */
    async function zeroAsync(fd: number, size: number) {
      for (let at = 0; at < size; at += ZEROS.byteLength) {
        const length = Math.min(ZEROS.byteLength, size - at);
        await new Promise<void>((resolve, reject) => writeAsync(fd, ZEROS, 0, length, at, (error) => (error ? reject(error) : resolve())));
      }
    }

    /** The file `fd` (at `path`, `size` bytes reserved and zero) mapped. */
    function mappedFile(fd: number, path: string, size: number): MappedFile {
      let map = mapped(libc.mmap(null, size, PROT_READ_WRITE, MAP_SHARED, fd, 0), size, path);
      let mappedSize = size;
      return {
          fd,
          get bytes() {
            return map.bytes;
          },
          reserve(wanted) {
            if (wanted <= mappedSize) return;
            allocate(fd, path, mappedSize, wanted);
            // Moved if need be, pages and all (no page is faulted in again); the old mapping stays if this fails.
            map = mapped(libc.mremap(map.address as never, mappedSize, wanted, MREMAP_MAYMOVE), wanted, path);
            mappedSize = wanted;
          },
          close(length) {
            libc.munmap(map.address as never, mappedSize);
            map = { address: 0, bytes: new Uint8Array(0) };
            mappedSize = 0;
            try {
              if (length > 0) ftruncateSync(fd, length);
            } finally {
              closeSync(fd);
            }
            if (length === 0) unlinkSync(path);
          },
          moveTo(to) {
            renameSync(path, to);
            path = to;
          },
        };
    }

    return {
      create(path, size) {
        const fd = openSync(path, "wx+");
        try {
          allocate(fd, path, 0, size);
          return mappedFile(fd, path, size);
        } catch (error) {
          closeSync(fd);
          unlinkSync(path);
          throw error;
        }
      },
      async prepare(path, size) {
        const fd = await new Promise<number>((resolve, reject) => openAsync(path, "wx+", (error, fd) => (error ? reject(error) : resolve(fd))));
        try {
          const errno = libc.posix_fallocate(fd, 0, size);
          if (errno !== 0) throw new Error(`cannot reserve ${size} bytes for ${path} (errno ${errno})`);
          await zeroAsync(fd, size);
          return mappedFile(fd, path, size);
        } catch (error) {
          closeAsync(fd, () => {});
          try {
            unlinkSync(path);
          } catch {
            // already gone
          }
          throw error;
        }
      },
    };
  } catch {
    return null;
  }
}
