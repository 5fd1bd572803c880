import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES } from "./fixtures.ts";

/** Where Claude Code's captured requests live (tests/fixtures/SOURCES.md, "Claude Code requests"). */
export const CAPTURES = join(FIXTURES, "claude-code");

export interface ExpectedMeta {
  request_class: string;
  agent_type: string | null;
  parent_agent_id: string | null;
}

/** One request Claude Code sent, as captured, with what its record must say (`expect`), or a HEAD probe that must leave none. */
export interface CapturedCall {
  /** `<session dir>/<file>`. */
  name: string;
  method: string;
  /** Path and query as sent. */
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown> | null;
  probe: boolean;
  expect: ExpectedMeta | undefined;
}

interface Manifest {
  sessions: { dir: string; calls: { file: string; probe?: boolean; expect?: ExpectedMeta }[] }[];
}

/** Every captured call, session by session, in the order Claude Code sent them. */
export function readCaptures(): CapturedCall[] {
  const manifest = JSON.parse(readFileSync(join(CAPTURES, "manifest.json"), "utf8")) as Manifest;
  return manifest.sessions.flatMap((session) =>
    session.calls.map((call) => {
      const name = `${session.dir}/${call.file}`.replace(/^\.\//, "");
      const request = JSON.parse(readFileSync(join(CAPTURES, name), "utf8"));
      return { name, ...request, probe: call.probe === true, expect: call.expect };
    }),
  );
}
