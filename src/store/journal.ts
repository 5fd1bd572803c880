import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from "node:fs";
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
 * record per line.
 */
export interface Journal {
  /** Writes one record (a JSON line without its newline); returns once it is in the OS's hands. Throws on failure. */
  append(line: string): void;
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
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (line === "") continue;
      try {
        JSON.parse(line);
        lines.push(line);
      } catch {
        // A line cut short by a crash mid-write: its call never got its last byte.
      }
    }
  }
  return lines;
}

/** Reads every record line left in a journal folder (a torn line is skipped). */
export function readJournal(dir: string): { lines: string[]; files: string[] } {
  const files = journalFiles(dir);
  return { lines: wholeLines(files), files };
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
