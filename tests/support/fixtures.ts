import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Fixtures of real provider traffic, copied from ../shared/fixtures (provenance in tests/fixtures/SOURCES.md). */
export const FIXTURES = join(import.meta.dir, "..", "fixtures");

export function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, name), "utf8");
}

export function fixtureJson<T = unknown>(name: string): T {
  return JSON.parse(fixtureText(name)) as T;
}

/** A `.http` fixture: status line, headers, blank line, body. */
export function fixtureHttp(name: string): { status: number; headers: Headers; body: string } {
  const text = fixtureText(name);
  const split = text.indexOf("\n\n");
  const [statusLine, ...headerLines] = text.slice(0, split).split("\n");
  const headers = new Headers();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { status: Number(statusLine!.split(" ")[1]), headers, body: text.slice(split + 2) };
}

/** The events of an SSE fixture, each with its own trailing blank line, in order. */
export function sseEvents(text: string): string[] {
  return text.split(/(?<=\r\n\r\n|\n\n)/).filter((e) => e.trim() !== "");
}
