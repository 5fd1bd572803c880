import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { providerIds } from "../../src/providers/registry.ts";

/**
 * Provider knowledge lives only in src/providers/ (DESIGN.md, "One request,
 * one direction"): no other code line names a registered provider. Comments
 * may (they cite docs). A file listed in KNOWN still does, for the reason
 * given, and must be taken off the list once it no longer does.
 */
const ROOT = join(import.meta.dir, "..", "..");
const KNOWN: Record<string, string> = {};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => join(dir, file));
}

const names = new RegExp(`(^|[^a-z0-9_])(${providerIds.join("|")})([^a-z0-9_]|$)`, "i");

/** Code lines (comment lines and block-comment bodies left out) that name a provider. */
function namingLines(path: string): string[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => !/^\s*(\/\/|\/\*|\*|--)/.test(line))
    .filter((line) => names.test(line.replace(/\s\/\/.*$/, "")));
}

// The dashboard's generated bundle is ui/'s code (pages name providers to people), not the gateway's.
const files = [join(ROOT, "main.ts"), ...sourceFiles(join(ROOT, "src")).filter((path) => !relative(ROOT, path).startsWith("src/providers/") && !path.endsWith(".generated.ts"))];

describe("no provider is named outside src/providers/", () => {
  test.each(files.map((path) => relative(ROOT, path)))("%s", (file) => {
    const lines = namingLines(join(ROOT, file));
    if (KNOWN[file]) expect({ file, stillNamesProviders: lines.length > 0 }).toEqual({ file, stillNamesProviders: true });
    else expect(lines).toEqual([]);
  });
});
