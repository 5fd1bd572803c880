import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
/**
 * Append-only journal of finished records, written synchronously before a
 * call's last bytes reach its client, so a record survives `kill -9` of the
 * gateway the moment the response is out (the OS keeps written pages even
 * when the process dies). Records leave the journal once DuckDB has them.
 *
 * Layout: numbered segment files `NNNNNNNN.ndjson` in one folder, one JSON
 * record per line. Records are stored in DuckDB in journal order, so
 * acknowledging `n` rows frees the oldest `n`; a segment is deleted when
 * every row in it is acknowledged.
 */
export interface Journal {
  /** Writes one record (a JSON line without its newline); returns once it is in the OS's hands. */
  append(line: string): void;
  /** The oldest `count` unacknowledged records are now stored elsewhere. */
  acknowledge(count: number): void;
  /** Rows written and not yet acknowledged. */
  readonly pending: number;
  close(): void;
}

interface Segment {
  index: number;
  path: string;
  rows: number;
  acknowledged: number;
}

const SEGMENT_ROWS = 20_000;
const segmentName = (index: number) => `${String(index).padStart(8, "0")}.ndjson`;

/** Reads every record line left in a journal folder (a torn last line is skipped). */
export function readJournal(dir: string): { lines: string[]; files: string[] } {
  if (!existsSync(dir)) return { lines: [], files: [] };
  const files = readdirSync(dir)
    .filter((name) => /^\d{8}\.ndjson$/.test(name))
    .sort()
    .map((name) => join(dir, name));
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
  return { lines, files };
}

export function removeJournalFiles(files: readonly string[]): void {
  for (const file of files) unlinkSync(file);
}

/** Opens a fresh journal in `dir` (replay and remove old segments first). */
export function openJournal(dir: string): Journal {
  mkdirSync(dir, { recursive: true });
  const existing = readdirSync(dir).filter((name) => /^\d{8}\.ndjson$/.test(name)).sort();
  if (existing.length > 0) throw new Error(`journal ${dir} still holds ${existing.length} segment(s): replay it first`);

  const segments: Segment[] = [];
  let fd = -1;
  let nextIndex = 1;

  function startSegment(): Segment {
    if (fd >= 0) closeSync(fd);
    const segment = { index: nextIndex++, path: join(dir, segmentName(nextIndex - 1)), rows: 0, acknowledged: 0 };
    fd = openSync(segment.path, "a");
    segments.push(segment);
    return segment;
  }
  let active = startSegment();

  return {
    append(line) {
      if (active.rows >= SEGMENT_ROWS) active = startSegment();
      writeSync(fd, `${line}\n`);
      active.rows++;
    },
    acknowledge(count) {
      let left = count;
      while (left > 0 && segments.length > 0) {
        const oldest = segments[0]!;
        const take = Math.min(left, oldest.rows - oldest.acknowledged);
        oldest.acknowledged += take;
        left -= take;
        if (oldest.acknowledged < oldest.rows) break;
        if (oldest === active) {
          // Everything written is stored: start the active file over.
          ftruncateSync(fd, 0);
          active.rows = active.acknowledged = 0;
          break;
        }
        segments.shift();
        unlinkSync(oldest.path);
      }
    },
    get pending() {
      return segments.reduce((sum, s) => sum + s.rows - s.acknowledged, 0);
    },
    close() {
      if (fd >= 0) closeSync(fd);
      fd = -1;
      if (segments.every((s) => s.acknowledged === s.rows)) for (const s of segments) unlinkSync(s.path);
    },
  };
}
