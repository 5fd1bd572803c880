import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The shape DESIGN.md's "Architecture (target)" asks for, kept by test: the
 * import graph runs one way (request side → recording → sinks, providers
 * below all of them). That no other code names a provider is
 * provider-names.test.ts.
 */
const ROOT = join(import.meta.dir, "..", "..");
const SRC = join(ROOT, "src");

function sourceFiles(dir: string, pattern = /\.ts$/): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path, pattern) : pattern.test(path) ? [path] : [];
  });
}

/** The code without its comments (strings kept whole, so a `"/*"` in one opens nothing). Newlines stay, so line numbers hold. */
function withoutComments(code: string): string {
  let out = "";
  let quote = "";
  for (let i = 0; i < code.length; i++) {
    const c = code[i]!;
    if (quote) {
      out += c;
      if (c === "\\") out += code[++i] ?? "";
      else if (c === quote) quote = "";
    } else if (c === "/" && code[i + 1] === "/") {
      while (i < code.length && code[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && code[i + 1] === "*") {
      const end = code.indexOf("*/", i + 2);
      out += code.slice(i, end < 0 ? code.length : end + 2).replace(/[^\n]/g, "");
      i = end < 0 ? code.length : end + 1;
    } else {
      if (c === '"' || c === "'" || c === "`") quote = c;
      out += c;
    }
  }
  return out;
}

const IMPORT = /(?:^|\s)(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|new URL\(\s*["']([^"']+)["']\s*,\s*import\.meta\.url/g;

/** The project files a file imports (type-only imports included: a type is a dependency too), as paths from the repo root. */
function importsOf(file: string): string[] {
  const code = withoutComments(readFileSync(file, "utf8"));
  const found: string[] = [];
  for (const match of code.matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (specifier?.startsWith(".")) found.push(relative(ROOT, resolve(dirname(file), specifier)));
  }
  return found;
}

const files = [...sourceFiles(SRC), join(ROOT, "main.ts")];
const graph = new Map(files.map((file) => [relative(ROOT, file), importsOf(file)]));
const under = (path: string, ...folders: string[]) => folders.some((folder) => path === folder || path.startsWith(`${folder}/`));

/** Every import from a file under `from` to a file under one of `to`, as "importer → imported". */
function arrows(from: string[], to: string[]): string[] {
  const found: string[] = [];
  for (const [file, imports] of graph) {
    if (!under(file, ...from)) continue;
    for (const target of imports) if (under(target, ...to)) found.push(`${file} → ${target}`);
  }
  return found;
}

describe("layering: the import graph runs one way", () => {
  test("the graph is read (a broken reader would pass every rule)", () => {
    expect(graph.get("src/server.ts")).toContain("src/proxy/forward.ts");
    expect(graph.get("src/recording/recording-worker.ts")).toContain("src/sinks/duckdb/duckdb-sink.ts");
    expect(graph.get("src/recording/worker-client.ts")).toContain("src/recording/recording-worker.ts");
  });

  test("sinks know records only: no proxy, providers, pricing, recording or observing", () => {
    expect(arrows(["src/sinks"], ["src/proxy", "src/providers", "src/pricing", "src/recording", "src/observe", "src/api", "src/cli", "src/server.ts", "main.ts"])).toEqual([]);
  });

  test("providers are below everything that uses them", () => {
    expect(arrows(["src/providers"], ["src/proxy", "src/recording", "src/sinks", "src/observe", "src/pricing", "src/api", "src/cli", "src/server.ts", "main.ts"])).toEqual([]);
  });

  test("the recorder never reaches back into the proxy, the API or the CLI", () => {
    expect(arrows(["src/recording", "src/observe", "src/pricing"], ["src/proxy", "src/api", "src/cli", "src/server.ts", "main.ts"])).toEqual([]);
  });

  test("the API and the app never reach into the command line", () => {
    expect(arrows(["src/api", "src/server.ts", "src/proxy", "src/recording", "src/sinks", "src/providers"], ["src/cli", "main.ts"])).toEqual([]);
  });

  test("nothing imports the proxy but the app (src/server.ts)", () => {
    const outside = [...graph.keys()].filter((file) => !under(file, "src/proxy", "src/server.ts"));
    expect(arrows(outside, ["src/proxy"])).toEqual([]);
  });

  test("the dashboard's server side sits beside the API: nothing below the app reaches it", () => {
    expect(arrows(["src/proxy", "src/recording", "src/sinks", "src/providers", "src/pricing", "src/observe", "src/telemetry"], ["src/dashboard"])).toEqual([]);
    expect(arrows(["src/dashboard"], ["src/proxy", "src/sinks", "src/cli", "main.ts"])).toEqual([]);
  });

  test("the front end (ui/) touches the server's code only through the API's schema types", () => {
    const outside: string[] = [];
    for (const file of sourceFiles(join(ROOT, "ui", "src"), /\.tsx?$/)) {
      const code = withoutComments(readFileSync(file, "utf8"));
      for (const match of code.matchAll(/^\s*import\s+(type\s+)?[^;]*?from\s+["']([^"']+)["']/gm)) {
        const target = relative(ROOT, resolve(dirname(file), match[2]!));
        if (!match[2]!.startsWith(".") || target.startsWith("ui/")) continue;
        const allowed = match[1] && ["src/api/schemas.ts", "src/api/dashboard-schemas.ts", "src/api/access-schemas.ts"].includes(target);
        if (!allowed) outside.push(`${relative(ROOT, file)} → ${target}`);
      }
    }
    expect(outside).toEqual([]);
  });

  test("the limiter is self-contained: it reads the limit definitions (and model patterns) and nothing else of the gateway", () => {
    const outside = [...graph.keys()].filter((file) => !under(file, "src/limits", "src/keys/definitions.ts", "src/model-pattern.ts"));
    expect(arrows(["src/limits"], outside)).toEqual([]);
  });

  test("keys and limits stand apart; the gate (src/gate/) is what puts them together for the proxy", () => {
    expect(arrows(["src/keys"], ["src/limits", "src/gate", "src/proxy", "src/routing", "src/config.ts"])).toEqual([]);
    expect(arrows(["src/routing", "src/config.ts"], ["src/keys", "src/limits", "src/gate", "src/proxy"])).toEqual([]);
  });

  test("no circles between files", () => {
    const circles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") return void circles.push([...path.slice(path.indexOf(file)), file].join(" → "));
      state.set(file, "open");
      for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next, [...path, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file, []);
    expect(circles).toEqual([]);
  });
});
