import { closeSync, existsSync, fdatasync, fdatasyncSync, fsync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { FileMapping, MappedFile } from "../runtime/file-mapping.ts";
import { createFaultLog } from "./fault-log.ts";
/**
 * Append-only journal of call events (call-event.ts), written synchronously
 * before a call's last bytes reach its client, so a call survives `kill -9`
 * of the gateway the moment the response is out (the OS keeps written pages
 * even when the process dies). The journal is also the queue to the
 * recorder: the active segment is sealed, the recorder makes its records
 * into a record segment (record-queue.ts), and the file goes. Calls wait on
 * disk, not in memory.
 *
 * Each call's line (or entry) is copied into a shared memory mapping of the
 * segment file where the platform allows (file-mapping.ts): no system call
 * per call. Elsewhere, or when a segment cannot be mapped, it is written
 * with one write(2).
 *
 * Layout: numbered segment files `NNNNNNNN.ndjson` in one folder, one JSON
 * event per line. A call whose response body the recorder is to read is an
 * entry of two parts instead: `@<body length> <JSON event>\n<body bytes>\n`.
 */
export interface Journal {
  /** Writes one record (a JSON line without its newline); returns once it is in the OS's hands. Throws on failure. */
  append(line: string): void;
  /** Writes one entry of a JSON head (one line) and the raw bytes its record will be made from, in one write. Throws on failure. */
  appendWithBody(head: string, body: Uint8Array): void;
  /** Closes the active segment, if it holds any record, and starts the next one. */
  seal(): JournalSegment | undefined;
  /** Records in the active segment. */
  readonly activeRows: number;
  /** The store has every record of a sealed segment: delete it (if the store has not moved it). */
  release(segment: JournalSegment): void;
  /** Records written and not yet released. */
  readonly pending: number;
  /**
   * Makes every record appended so far durable (LOUPE_JOURNAL_FSYNC): one
   * fdatasync(2) per segment file written since the last sync, and one
   * fsync(2) of the folder when a segment file is new, all off the event loop.
   * Resolves with how many files it synced (0: nothing was waiting); rejects
   * if the OS reports a failure. Needs `syncing` (JournalOptions).
   */
  sync(): Promise<number>;
  close(): void;
}

export interface JournalSegment {
  readonly path: string;
  readonly rows: number;
  /** A write into it failed: it may hold a partial line. */
  readonly suspect: boolean;
}

const SEGMENT_FILE = /^\d{8}\.ndjson$/;
/** A segment file made ahead, not yet a segment: zeros only, deleted if a crash leaves it. */
const SPARE_FILE = /^spare-\d+\.tmp$/;
const segmentName = (index: number) => `${String(index).padStart(8, "0")}.ndjson`;

/** The segment files left in a journal folder, oldest first. */
export function journalFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => SEGMENT_FILE.test(name))
    .sort()
    .map((name) => join(dir, name));
}

/** The record lines of segment files that are whole JSON values, in order. */
export function wholeLines(files: readonly string[]): string[] {
  const lines: string[] = [];
  for (const file of files) {
    // A line cut short by a crash mid-write is skipped: its call never got its last byte.
    for (const line of readFileSync(file, "utf8").split("\n")) if (isWholeJson(line)) lines.push(line);
  }
  return lines;
}

/** Reads every record line left in a journal folder (a torn line is skipped). */
export function readJournal(dir: string): { lines: string[]; files: string[] } {
  const files = journalFiles(dir);
  return { lines: wholeLines(files), files };
}

const NEWLINE = 0x0a;
const AT = 0x40;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The most bytes an entry of `head` and `body` can take (a UTF-16 unit is at most 3 bytes of UTF-8). */
const entryRoom = (head: string, body: Uint8Array) => 24 + head.length * 3 + body.byteLength;

/** Writes the entry `@<body length> <head>\n<body>\n` into `target` at `at` (which has `entryRoom` bytes); returns where it ends. */
function frameInto(target: Uint8Array, at: number, head: string, body: Uint8Array): number {
  let n = at + encoder.encodeInto(`@${body.byteLength} `, target.subarray(at)).written;
  n += encoder.encodeInto(head, target.subarray(n)).written;
  target[n++] = NEWLINE;
  target.set(body, n);
  n += body.byteLength;
  target[n++] = NEWLINE;
  return n;
}

/** What the recorder makes of a segment's lines and entries (recorder.ts); "" for none. */
export interface SegmentReader {
  line(text: string): string;
  entry(head: string, body: Uint8Array): string;
}

/** fsync(2) of a folder: the names created or renamed in it survive power loss. */
export function syncFolder(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a segment's events in order and writes what `read` makes of each
 * (record lines) to `target`, through a temporary file renamed into place:
 * a crash meanwhile leaves no partial target. A line or entry cut short by a
 * crash is dropped, and so are the zero bytes a crash leaves after the last
 * entry of a mapped segment. Returns how many lines `target` holds.
 * `durable` (LOUPE_JOURNAL_FSYNC interval or always): `target` and its name
 * are on the device before this returns, so the journal segment (durable
 * itself) can be deleted without a power loss taking the calls with it.
 */
export function recordSegment(path: string, target: string, read: SegmentReader, options: { durable?: boolean | undefined } = {}): number {
  const bytes = readFileSync(path);
  const temporary = `${target}.tmp`;
  const out = openSync(temporary, "w");
  let count = 0;
  try {
    // Written out in pieces as it goes: a segment of thousands of calls is never held twice over.
    let lines: string[] = [];
    const push = (line: string) => {
      if (!line) return;
      lines.push(line);
      count++;
      if (lines.length === 256) {
        writeSync(out, `${lines.join("\n")}\n`);
        lines = [];
      }
    };
    let at = 0;
    while (at < bytes.length) {
      const end = bytes.indexOf(NEWLINE, at);
      if (end < 0) break; // a torn last line, or a mapped segment's zero tail
      if (bytes[at] !== AT) {
        const line = decoder.decode(bytes.subarray(at, end));
        if (isWholeJson(line)) push(read.line(line));
        at = end + 1;
        continue;
      }
      const head = decoder.decode(bytes.subarray(at + 1, end));
      const space = head.indexOf(" ");
      const length = Number(head.slice(0, space));
      const bodyEnd = end + 1 + length;
      if (space <= 0 || !Number.isInteger(length) || bodyEnd >= bytes.length || bytes[bodyEnd] !== NEWLINE) break; // torn
      push(read.entry(head.slice(space + 1), bytes.subarray(end + 1, bodyEnd)));
      at = bodyEnd + 1;
    }
    if (lines.length) writeSync(out, `${lines.join("\n")}\n`);
    if (options.durable) fdatasyncSync(out);
  } finally {
    closeSync(out);
  }
  renameSync(temporary, target);
  if (options.durable) syncFolder(dirname(target));
  return count;
}

function isWholeJson(line: string): boolean {
  if (line === "") return false;
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

/** The open file of the active segment. */
interface SegmentFile {
  /** Appends one line (without its newline) or one entry; throws, with nothing or part of it written, on failure. */
  append(line: string): void;
  appendWithBody(head: string, body: Uint8Array): void;
  /** Bytes written. */
  readonly length: number;
  /** The open file's descriptor (what `sync` hands to fdatasync). */
  readonly fd: number;
  /** Closes the file, deleting it if `keep` is false. */
  close(keep: boolean): void;
}

// One buffer for every entry with a body: entries are framed and written one at a time, synchronously.
let scratch = new Uint8Array(64 * 1024);

/** A segment appended to with write(2), one call per line or entry. */
function writtenSegment(path: string): SegmentFile {
  const fd = openSync(path, "a");
  let length = 0;
  return {
    append(line) {
      length += writeSync(fd, `${line}\n`);
    },
    appendWithBody(head, body) {
      const most = entryRoom(head, body);
      if (most > scratch.byteLength) scratch = new Uint8Array(Math.max(most, scratch.byteLength * 2));
      length += writeSync(fd, scratch.subarray(0, frameInto(scratch, 0, head, body)));
    },
    get length() {
      return length;
    },
    fd,
    close(keep) {
      closeSync(fd);
      if (!keep) unlinkSync(path);
    },
  };
}

const MiB = 1 << 20;

/**
 * A segment written through a shared mapping of the file (file-mapping.ts):
 * an append is a copy into memory, no system call. The file has room
 * reserved ahead; it grows (doubling) when an entry would not fit, and is
 * cut to what was written when it closes. A crash leaves the reserved rest
 * as zero bytes after the last entry: `recordSegment` stops there.
 */
function mappedSegment(file: MappedFile): SegmentFile {
  let length = 0;
  const room = (most: number) => {
    if (length + most > file.bytes.byteLength) file.reserve(Math.max(file.bytes.byteLength * 2, Math.ceil((length + most) / MiB) * MiB));
  };
  return {
    append(line) {
      room(line.length * 3 + 1);
      const bytes = file.bytes;
      const end = length + encoder.encodeInto(line, bytes.subarray(length)).written;
      bytes[end] = NEWLINE;
      length = end + 1;
    },
    appendWithBody(head, body) {
      room(entryRoom(head, body));
      length = frameInto(file.bytes, length, head, body);
    },
    get length() {
      return length;
    },
    fd: file.fd,
    close(keep) {
      file.close(keep ? length : 0);
    },
  };
}

export interface JournalOptions {
  /** Write segments through shared memory mappings (file-mapping.ts), else with write(2). */
  mapping?: FileMapping | null | undefined;
  /** Reports a segment that could not be mapped (it is written with write(2) instead). */
  onError?: (message: string) => void;
  /**
   * `sync` will be called (LOUPE_JOURNAL_FSYNC interval or always): a sealed
   * segment's file then stays open until a sync has covered it, so no
   * fdatasync in flight ever meets a closed (or reused) descriptor.
   */
  syncing?: boolean | undefined;
  /** fdatasync(2) and fsync(2) off the event loop; tests put their own here to count and hold them. */
  syncCalls?: SyncCalls | undefined;
}

/** The system calls that make written bytes durable, asynchronous (libuv's or Bun's thread pool runs them). */
export interface SyncCalls {
  /** fdatasync(2) of a segment file: its data (and size), not its times. */
  fdatasync(fd: number): Promise<void>;
  /** fsync(2) of the journal folder: a new segment file's name survives power loss. */
  fsync(fd: number): Promise<void>;
}

const promised = (call: typeof fdatasync) => (fd: number) => new Promise<void>((resolve, reject) => call(fd, (error) => (error ? reject(error) : resolve())));
export const systemSyncCalls: SyncCalls = { fdatasync: promised(fdatasync), fsync: promised(fsync) };

/** The active segment, or a sealed one whose file is still open. */
interface OpenSegment {
  path: string;
  rows: number;
  suspect: boolean;
  file: SegmentFile;
  /** Bytes a finished sync covered. */
  synced: number;
  /** Syncs in flight on its descriptor: it is not closed meanwhile. */
  syncing: number;
  /** A sync of it failed: it is closed anyway (retrying fdatasync after a failure proves nothing on Linux). */
  failed: boolean;
}

/** Opens a fresh journal in `dir` (replay and remove old segments first). */
export function openJournal(dir: string, options: JournalOptions = {}): Journal {
  mkdirSync(dir, { recursive: true });
  const existing = journalFiles(dir);
  if (existing.length > 0) throw new Error(`journal ${dir} still holds ${existing.length} segment(s): replay it first`);
  const { mapping, syncing = false } = options;
  const calls = options.syncCalls ?? systemSyncCalls;
  // The folder, opened once for fsync(2): a directory's entries are made durable through its own descriptor.
  const dirFd = syncing ? openSync(dir, "r") : undefined;
  // A segment file was created since the folder was last synced.
  let dirDirty = false;

  let nextIndex = 1;
  let sealedRows = 0;
  // Room reserved for a mapped segment: what the last one took, so a steady load rarely grows one.
  let reserve = MiB;

  // A disk that stays full refuses every segment's mapping: said once, then once a minute (fault-log.ts).
  const faults = createFaultLog((message) => options.onError?.(message));

  // The next segment's file, made ahead off the event loop (file-mapping.ts `prepare`), so a seal only renames it.
  let spare: MappedFile | undefined;
  let preparing = false;
  let spares = 0;
  for (const name of readdirSync(dir)) if (SPARE_FILE.test(name)) unlinkSync(join(dir, name));

  /** A spare no longer wanted: unmapped and deleted, if it is still there (the folder may have gone with it). */
  function discard(file: MappedFile): void {
    try {
      file.close(0);
    } catch {
      // already gone
    }
  }

  function prepareSpare(): void {
    if (!mapping?.prepare || spare || preparing || closed) return;
    preparing = true;
    mapping.prepare(join(dir, `spare-${++spares}.tmp`), reserve).then(
      (file) => {
        preparing = false;
        if (closed) discard(file);
        else spare = file;
      },
      // No room, say: the next seal makes its file itself, and says what failed.
      () => (preparing = false),
    );
  }

  function open(path: string): SegmentFile {
    if (spare) {
      const file = spare;
      spare = undefined;
      try {
        file.moveTo(path);
        return mappedSegment(file);
      } catch {
        discard(file);
      }
    }
    if (mapping) {
      try {
        const file = mappedSegment(mapping.create(path, reserve));
        faults.recovered("map", "journal segments are mapped again");
        return file;
      } catch (error) {
        // No room to reserve, say: write(2) needs only what each line takes.
        faults.failed("map", `journal segment ${path} cannot be mapped, written instead: ${(error as Error).message}`);
      }
    }
    return writtenSegment(path);
  }

  /** The next segment, opened. Throws if it cannot be. */
  function next(): OpenSegment {
    const path = join(dir, segmentName(nextIndex));
    const opened = { path, rows: 0, suspect: false, file: open(path), synced: 0, syncing: 0, failed: false };
    nextIndex++;
    dirDirty = true;
    return opened;
  }

  const closeFile = (segment: OpenSegment) => segment.file.close(segment.rows > 0 || segment.suspect);
  const unsynced = (segment: OpenSegment) => segment.file.length > segment.synced && !segment.failed;

  let active = next();
  // Sealed segments whose files wait for a sync to cover them before they are closed (`syncing` only).
  let closing: OpenSegment[] = [];
  let closed = false;
  prepareSpare();

  /** Closes the sealed segments no sync needs any more. */
  function closeCovered() {
    if (closing.length === 0) return;
    const still: OpenSegment[] = [];
    for (const segment of closing) {
      if (segment.syncing > 0 || unsynced(segment)) still.push(segment);
      else closeFile(segment);
    }
    closing = still;
  }

  return {
    append(line) {
      try {
        active.file.append(line);
      } catch (error) {
        active.suspect = true;
        throw error;
      }
      active.rows++;
    },
    appendWithBody(head, body) {
      try {
        active.file.appendWithBody(head, body);
      } catch (error) {
        active.suspect = true;
        throw error;
      }
      active.rows++;
    },
    seal() {
      if (active.rows === 0 && !active.suspect) return undefined;
      const sealed = active;
      reserve = Math.min(64 * MiB, Math.max(MiB, Math.ceil(sealed.file.length / MiB) * MiB));
      active = next(); // if the next file cannot be opened, this throws and the active segment stays as it was
      prepareSpare();
      // The recorder may read it meanwhile: a mapped file not yet cut reads as its entries and a zero tail (recordSegment).
      if (syncing && (sealed.syncing > 0 || unsynced(sealed))) closing.push(sealed);
      else closeFile(sealed);
      sealedRows += sealed.rows;
      return { path: sealed.path, rows: sealed.rows, suspect: sealed.suspect };
    },
    get activeRows() {
      return active.rows;
    },
    release(segment) {
      // The recorder removes a segment once its records are made (recording-worker.ts).
      if (existsSync(segment.path)) unlinkSync(segment.path);
      sealedRows -= segment.rows;
      // Its records are durable elsewhere now (pipeline.ts `durable`): a file still open for a sync needs none.
      const open = closing.find((s) => s.path === segment.path);
      if (open && open.syncing === 0) {
        closing = closing.filter((s) => s !== open);
        closeFile(open);
      }
    },
    get pending() {
      return sealedRows + active.rows;
    },
    sync() {
      if (dirFd === undefined) return Promise.reject(new Error("the journal was opened without syncing"));
      const targets = [...closing, active].filter(unsynced);
      const folder = dirDirty;
      if (targets.length === 0 && !folder) return Promise.resolve(0);
      dirDirty = false;
      // What each file holds now is what this sync covers; bytes appended while it runs wait for the next.
      const marks = targets.map((segment) => segment.file.length);
      for (const segment of targets) segment.syncing++;
      const done = (ok: boolean) => {
        targets.forEach((segment, i) => {
          segment.syncing--;
          if (ok) segment.synced = Math.max(segment.synced, marks[i]!);
          else segment.failed = true;
        });
        if (!ok && folder) dirDirty = true;
        if (!closed) closeCovered();
      };
      const running = targets.map((segment) => calls.fdatasync(segment.file.fd));
      if (folder) running.push(calls.fsync(dirFd));
      return Promise.all(running).then(
        () => {
          done(true);
          return targets.length + (folder ? 1 : 0);
        },
        (error: unknown) => {
          done(false);
          throw error;
        },
      );
    },
    close() {
      if (closed) return;
      closed = true;
      if (spare) discard(spare);
      spare = undefined;
      for (const segment of [...closing, active]) {
        // A descriptor a sync still uses is left to the process's exit (shutdown follows): never closed under it.
        if (segment.syncing > 0) continue;
        if (syncing && unsynced(segment)) {
          try {
            fdatasyncSync(segment.file.fd);
          } catch {
            // reported by the syncs before; the process is stopping
          }
        }
        closeFile(segment);
      }
      closing = [];
      if (dirFd !== undefined) {
        try {
          fsyncSync(dirFd);
        } catch {
          // as above
        }
        closeSync(dirFd);
      }
    },
  };
}
