import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
/**
 * Append-only journal of finished records, written synchronously before a
 * call's last bytes reach its client, so a record survives `kill -9` of the
 * gateway the moment the response is out (the OS keeps written pages even
 * when the process dies). The journal is also the queue to the store: the
 * active segment is sealed, the store loads the sealed file as it is, and
 * the file goes once the store has it. Records wait on disk, not in memory.
 *
 * Layout: numbered segment files `NNNNNNNN.ndjson` in one folder, one JSON
 * record per line. A call whose record is made later (its response body
 * still to be read: deferred-record.ts) is an entry of two parts instead:
 * `@<body length> <JSON head>\n<body bytes>\n`. The store completes such
 * entries into record lines before it loads a segment (`completeSegment`).
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
  close(): void;
}

export interface JournalSegment {
  readonly path: string;
  readonly rows: number;
  /** A write into it failed: it may hold a partial line. */
  readonly suspect: boolean;
}

const SEGMENT_FILE = /^\d{8}\.ndjson$/;
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
// One buffer for every entry with a body: entries are framed and written one at a time, synchronously.
let scratch = new Uint8Array(64 * 1024);

/** The entry as journal bytes: `@<body length> <head>\n<body>\n`. */
function frame(head: string, body: Uint8Array): Uint8Array {
  const prefix = `@${body.byteLength} `;
  const most = prefix.length + head.length * 3 + body.byteLength + 2;
  if (most > scratch.byteLength) scratch = new Uint8Array(Math.max(most, scratch.byteLength * 2));
  let n = encoder.encodeInto(prefix, scratch).written;
  n += encoder.encodeInto(head, scratch.subarray(n)).written;
  scratch[n++] = NEWLINE;
  scratch.set(body, n);
  n += body.byteLength;
  scratch[n++] = NEWLINE;
  return scratch.subarray(0, n);
}

/**
 * Rewrites a segment so that it holds only record lines: each entry with a
 * body becomes the record line `complete` makes of it (none if it returns
 * ""); a line or entry cut short by a crash is dropped. The new file replaces
 * the old one at once (rename), so a crash meanwhile leaves one or the other
 * whole. Returns whether the file changed.
 */
export function completeSegment(path: string, complete: (head: string, body: Uint8Array) => string): boolean {
  const bytes = readFileSync(path);
  if (bytes[0] !== AT && bytes.indexOf("\n@") < 0) return false;
  const next = `${path}.complete`;
  const out = openSync(next, "w");
  // Written out in pieces as it goes: a segment of thousands of calls is never held twice over.
  let lines: string[] = [];
  const push = (line: string) => {
    lines.push(line);
    if (lines.length === 256) {
      writeSync(out, `${lines.join("\n")}\n`);
      lines = [];
    }
  };
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf(NEWLINE, at);
    if (end < 0) break; // a torn last line
    if (bytes[at] !== AT) {
      const line = decoder.decode(bytes.subarray(at, end));
      if (isWholeJson(line)) push(line);
      at = end + 1;
      continue;
    }
    const head = decoder.decode(bytes.subarray(at + 1, end));
    const space = head.indexOf(" ");
    const length = Number(head.slice(0, space));
    const bodyEnd = end + 1 + length;
    if (space <= 0 || !Number.isInteger(length) || bodyEnd >= bytes.length || bytes[bodyEnd] !== NEWLINE) break; // torn
    const line = complete(head.slice(space + 1), bytes.subarray(end + 1, bodyEnd));
    if (line) push(line);
    at = bodyEnd + 1;
  }
  if (lines.length) writeSync(out, `${lines.join("\n")}\n`);
  closeSync(out);
  renameSync(next, path);
  return true;
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

/** Opens a fresh journal in `dir` (replay and remove old segments first). */
export function openJournal(dir: string): Journal {
  mkdirSync(dir, { recursive: true });
  const existing = journalFiles(dir);
  if (existing.length > 0) throw new Error(`journal ${dir} still holds ${existing.length} segment(s): replay it first`);

  let nextIndex = 1;
  let sealedRows = 0;
  let active = { path: "", rows: 0, suspect: false };
  let fd = -1;

  function start() {
    const path = join(dir, segmentName(nextIndex));
    fd = openSync(path, "a");
    nextIndex++;
    active = { path, rows: 0, suspect: false };
  }
  start();

  return {
    append(line) {
      try {
        writeSync(fd, `${line}\n`);
      } catch (error) {
        active.suspect = true;
        throw error;
      }
      active.rows++;
    },
    appendWithBody(head, body) {
      try {
        writeSync(fd, frame(head, body));
      } catch (error) {
        active.suspect = true;
        throw error;
      }
      active.rows++;
    },
    seal() {
      if (active.rows === 0 && !active.suspect) return undefined;
      const sealed: JournalSegment = active;
      const sealedFd = fd;
      start(); // throws before anything changed if the next file cannot be opened
      closeSync(sealedFd);
      sealedRows += sealed.rows;
      return sealed;
    },
    get activeRows() {
      return active.rows;
    },
    release(segment) {
      // The store may have moved the file on (telemetry spools it: duckdb-worker.ts).
      if (existsSync(segment.path)) unlinkSync(segment.path);
      sealedRows -= segment.rows;
    },
    get pending() {
      return sealedRows + active.rows;
    },
    close() {
      if (fd >= 0) closeSync(fd);
      fd = -1;
      if (active.rows === 0 && !active.suspect) unlinkSync(active.path);
    },
  };
}
