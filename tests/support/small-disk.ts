import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

/**
 * A disk that fills up, for fault tests: a small tmpfs mounted at a folder
 * (root only: `mount -t tmpfs`; elsewhere the tests that need one skip), and
 * a filler file that takes every free page while the test wants it full.
 */
export interface SmallDisk {
  path: string;
  /** Takes every free byte now, and again every few ms (what the gateway frees, say), until `makeRoom`. */
  fill(): void;
  /** Deletes the filler. */
  makeRoom(): void;
  unmount(): void;
}

export const canMount = process.platform === "linux" && process.getuid?.() === 0 && Bun.which("mount") !== null;

export function mountSmallDisk(path: string, megabytes = 4): SmallDisk {
  mkdirSync(path, { recursive: true });
  const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${megabytes}m`, "tmpfs", path], { stderr: "pipe" });
  if (mounted.exitCode !== 0) throw new Error(`mount -t tmpfs ${path}: ${mounted.stderr.toString()}`);
  const filler = join(path, "filler");
  const page = new Uint8Array(4096);
  let timer: ReturnType<typeof setInterval> | undefined;
  const takeAll = () => {
    const fd = openSync(filler, "a");
    try {
      for (;;) writeSync(fd, page);
    } catch {
      // full
    } finally {
      closeSync(fd);
    }
  };
  return {
    path,
    fill() {
      takeAll();
      timer ??= setInterval(takeAll, 5);
    },
    makeRoom() {
      clearInterval(timer);
      timer = undefined;
      rmSync(filler, { force: true });
    },
    unmount() {
      clearInterval(timer);
      Bun.spawnSync(["umount", "-l", path]);
    },
  };
}
