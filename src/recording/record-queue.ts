import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The records the recorder made, waiting for the sinks: numbered record
 * segments (`<seq>.ndjson`, one record per line) in `<journal>/records/`,
 * and one cursor per sink (`cursors.json`: the last segment each sink has
 * acknowledged). Each sink reads at its own pace; a segment is deleted once
 * every sink has it. The cursors live on disk, so a sink that was behind when
 * the gateway stopped (or was killed) resumes where it was at the next start.
 * A sink acknowledges after it has the records, so a crash may hand it a
 * segment twice: the DuckDB sink skips ids it has (replay), the OTLP sink may
 * send a span twice.
 */
export interface RecordQueue {
  /** The sinks this queue keeps segments for. */
  readonly sinks: readonly string[];
  /** The number the next segment will get (segments are numbered in order, across runs). */
  nextSeq(): number;
  /** Where segment `seq` is written (the recorder writes it there: journal.ts `recordSegment`). */
  pathOf(seq: number): string;
  /** Segment `seq` is written and complete: the sinks may take it. */
  added(seq: number): void;
  /** Segments `sink` has not acknowledged, oldest first. */
  pending(sink: string): { seq: number; path: string }[];
  /** `sink` has every record up to segment `seq`: remember it, and delete what every sink has. */
  ack(sink: string, seq: number): void;
}

const SEGMENT = /^(\d{10})\.ndjson$/;
const CURSORS = "cursors.json";

/**
 * Opens the queue in `dir`. `sinks` names the sinks of this run: a sink new
 * to the queue starts after the last segment (it gets what comes from now
 * on), and a sink no longer named is forgotten (its backlog is dropped).
 * With `sinks` undefined, the queue keeps the sinks it had (`loupe sql`
 * stores into DuckDB and leaves the other sinks' backlog for the gateway),
 * plus `required`.
 */
export function openRecordQueue(dir: string, sinks: readonly string[] | undefined, required: readonly string[] = []): RecordQueue {
  mkdirSync(dir, { recursive: true });
  const segments = readdirSync(dir)
    .map((name) => SEGMENT.exec(name)?.[1])
    .filter((seq): seq is string => seq !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const saved = readCursors(join(dir, CURSORS));
  let last = Math.max(0, segments.at(-1) ?? 0, ...Object.values(saved));
  const names = [...new Set([...(sinks ?? Object.keys(saved)), ...required])];
  const cursors: Record<string, number> = {};
  // A known sink resumes where it was. In a new queue every sink takes what is there;
  // a sink added to a queue in use gets what comes from now on.
  const fresh = Object.keys(saved).length === 0;
  for (const name of names) cursors[name] = saved[name] ?? (fresh ? (segments[0] ?? last + 1) - 1 : last);
  const ready = new Set(segments);

  const pathOf = (seq: number) => join(dir, `${String(seq).padStart(10, "0")}.ndjson`);
  const save = () => {
    const temporary = join(dir, `${CURSORS}.tmp`);
    writeFileSync(temporary, JSON.stringify(cursors));
    renameSync(temporary, join(dir, CURSORS));
  };
  /** Deletes the segments every sink has. */
  const release = () => {
    const done = Math.min(...names.map((name) => cursors[name]!));
    for (const seq of ready) {
      if (seq > done) continue;
      ready.delete(seq);
      try {
        unlinkSync(pathOf(seq));
      } catch {
        // gone already
      }
    }
  };
  save();
  release();

  return {
    sinks: names,
    nextSeq: () => ++last,
    pathOf,
    added(seq) {
      ready.add(seq);
    },
    pending(sink) {
      const from = cursors[sink] ?? Number.POSITIVE_INFINITY;
      return [...ready]
        .filter((seq) => seq > from)
        .sort((a, b) => a - b)
        .map((seq) => ({ seq, path: pathOf(seq) }));
    },
    ack(sink, seq) {
      if (!(sink in cursors) || seq <= cursors[sink]!) return;
      cursors[sink] = seq;
      save();
      release();
    },
  };
}

function readCursors(path: string): Record<string, number> {
  if (!existsSync(path)) return {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
    if (typeof parsed !== "object" || parsed === null) return {};
    return Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, number] => Number.isInteger(entry[1])));
  } catch {
    return {};
  }
}
