/**
 * What dist/loupe is made of (issue 17): the Bun runtime it was compiled
 * from, and what `bun build --compile` put in its `.bun` section (the module
 * graph: Loupe's two bundles with their bytecode, DuckDB's addon and the
 * packed libduckdb.so, see scripts/build.ts), then what is inside the two
 * bundles (bundled again with Bun.build's metafile, same entry points and
 * options) and inside libduckdb.so (its ELF sections).
 *
 *   bun bench/executable-size.ts [executable]      # default dist/loupe, built first when missing
 *
 * The `.bun` section is read as Bun 1.4's StandaloneModuleGraph lays it out
 * (src/StandaloneModuleGraph.zig in oven-sh/bun): the graph's length (u64),
 * the files' bytes, an array of 52-byte file records (six {offset, length}
 * u32 pairs: name, contents, sourcemap, bytecode, module info, bytecode origin
 * path; then four u8), a 32-byte `Offsets` and the trailer "\n---- Bun! ----\n".
 * Should another Bun lay it out otherwise, the script says so and prints the
 * section's size only.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { withoutBundledPrices } from "../scripts/build-plugins.ts";
import { BUN, fmt, ROOT, table } from "./harness.ts";

const EXE = process.argv[2] ?? join(ROOT, "dist", "loupe");
const MiB = (bytes: number) => fmt(bytes / 2 ** 20, 1);

interface Section {
  name: string;
  type: number;
  offset: number;
  size: number;
}

/** The section headers of a 64-bit little-endian ELF file. */
function elfSections(file: Uint8Array): Section[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (view.getUint32(0) !== 0x7f454c46 || file[4] !== 2 || file[5] !== 1) throw new Error("not a 64-bit little-endian ELF file");
  const shoff = Number(view.getBigUint64(0x28, true));
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  const shstrndx = view.getUint16(0x3e, true);
  const raw = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    return { nameAt: view.getUint32(at, true), type: view.getUint32(at + 4, true), offset: Number(view.getBigUint64(at + 0x18, true)), size: Number(view.getBigUint64(at + 0x20, true)) };
  });
  const names = raw[shstrndx]!;
  const decoder = new TextDecoder();
  return raw.map((s) => {
    const start = names.offset + s.nameAt;
    return { name: decoder.decode(file.subarray(start, file.indexOf(0, start))), type: s.type, offset: s.offset, size: s.size };
  });
}

interface GraphFile {
  name: string;
  contents: number;
  sourcemap: number;
  bytecode: number;
  /** Where each part lies in the graph: [start, end) byte ranges (a profile-ordered build gives both bundles one bytecode range). */
  ranges: { contents: [number, number]; sourcemap: [number, number]; bytecode: [number, number] };
  /** The first bytes of the contents (a zstd frame's header). */
  head: Uint8Array;
}

const TRAILER = "\n---- Bun! ----\n";
const RECORD = 52;

/** The files of a `.bun` section's module graph, or undefined when it is not laid out as expected (see the top). */
function moduleGraph(section: Uint8Array): GraphFile[] | undefined {
  const view = new DataView(section.buffer, section.byteOffset, section.byteLength);
  const length = Number(view.getBigUint64(0, true));
  const graph = section.subarray(8, 8 + length);
  const decoder = new TextDecoder();
  if (decoder.decode(graph.subarray(graph.length - TRAILER.length)) !== TRAILER) return undefined;
  const g = new DataView(graph.buffer, graph.byteOffset, graph.byteLength);
  const offsets = graph.length - TRAILER.length - 32;
  const [modulesAt, modulesLength] = [g.getUint32(offsets + 8, true), g.getUint32(offsets + 12, true)];
  if (modulesLength % RECORD !== 0 || modulesAt + modulesLength > offsets) return undefined;
  const files: GraphFile[] = [];
  for (let at = modulesAt; at < modulesAt + modulesLength; at += RECORD) {
    const pointer = (i: number) => [g.getUint32(at + 8 * i, true), g.getUint32(at + 8 * i + 4, true)] as const;
    const [nameAt, nameLength] = pointer(0);
    const [contentsAt, contents] = pointer(1);
    const [sourcemapAt, sourcemap] = pointer(2);
    const [bytecodeAt, bytecode] = pointer(3);
    const name = decoder.decode(graph.subarray(nameAt, nameAt + nameLength));
    if (!name.startsWith("/$bunfs/")) return undefined;
    const ranges = { contents: [contentsAt, contentsAt + contents], sourcemap: [sourcemapAt, sourcemapAt + sourcemap], bytecode: [bytecodeAt, bytecodeAt + bytecode] } as GraphFile["ranges"];
    files.push({ name, contents, sourcemap, bytecode, ranges, head: graph.slice(contentsAt, contentsAt + 18) });
  }
  return files;
}

/** The size a zstd frame unpacks to (RFC 8878 §3.1.1.1), as src/sinks/duckdb/load-duckdb.ts reads it. */
function unpackedSize(header: Uint8Array): number | undefined {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (header.length < 6 || view.getUint32(0, true) !== 0xfd2fb528) return undefined;
  const descriptor = header[4]!;
  const single = (descriptor >> 5) & 1;
  const bytes = [single, 2, 4, 8][descriptor >> 6]!;
  const at = 5 + (single ? 0 : 1) + [0, 1, 2, 4][descriptor & 3]!;
  if (bytes === 0) return undefined;
  return bytes === 1 ? view.getUint8(at) : bytes === 2 ? view.getUint16(at, true) + 256 : bytes === 4 ? view.getUint32(at, true) : Number(view.getBigUint64(at, true));
}

/** What a file of the graph is. */
function kindOf(name: string): string {
  const base = name.slice(name.lastIndexOf("/") + 1);
  if (/^libduckdb.*\.js$/.test(base)) return "the stub the bundler makes for the libduckdb entry point";
  if (/^libduckdb\.(so|dylib)-\w+\.zst$/.test(base)) return "libduckdb.so, stripped and zstd-packed (scripts/build.ts)";
  if (/^libduckdb/.test(base)) return "libduckdb.so as it is";
  if (base.endsWith(".node")) return "DuckDB's Node-API addon (duckdb.node)";
  if (base.startsWith("recording-worker")) return "JS bundle: the recording worker (src/recording/recording-worker.ts)";
  return "JS bundle: main.ts (the gateway and the CLI; with bytecodeOrder, its bytecode region holds both bundles')";
}

/** A bundled input, grouped: an npm package, or a folder of src/. */
function groupOf(input: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (pkg) return `npm ${pkg[1]}`;
  if (input.endsWith("ui-bundle.generated.ts")) return "the dashboard (src/dashboard/ui-bundle.generated.ts)";
  if (input.endsWith("genai-prices.json")) return "the price snapshot (pricing/genai-prices.json)";
  const src = /(?:^|\/)(src\/[^/]+)\//.exec(input);
  return src ? `${src[1]}/` : input.replace(/^(\.\.\/)+/, "");
}

/** The two bundles again, with the metafile: bytes per package or folder in each. */
async function bundleBreakdown(): Promise<Map<string, Map<string, number>>> {
  const result = await Bun.build({
    entrypoints: [join(ROOT, "main.ts"), join(ROOT, "src", "recording", "recording-worker.ts")],
    target: "bun",
    minify: true,
    metafile: true,
    external: ["@duckdb/node-bindings-*"],
    naming: { entry: "[name].[ext]" },
    plugins: [withoutBundledPrices],
  });
  if (!result.success) throw new Error(`bundling failed: ${result.logs.join("\n")}`);
  const meta = (typeof result.metafile === "string" ? JSON.parse(result.metafile) : result.metafile) as { outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }> };
  const out = new Map<string, Map<string, number>>();
  for (const [output, { inputs }] of Object.entries(meta.outputs)) {
    const groups = new Map<string, number>();
    for (const [input, { bytesInOutput }] of Object.entries(inputs)) groups.set(groupOf(input), (groups.get(groupOf(input)) ?? 0) + bytesInOutput);
    out.set(output.replace(/^\.\//, ""), groups);
  }
  return out;
}

/** libduckdb.so's sections, by what they are for. */
function libraryBreakdown(path: string): [string, number][] {
  const groups = new Map<string, number>();
  const NOBITS = 8;
  for (const s of elfSections(readFileSync(path))) {
    if (s.type === NOBITS || s.size === 0 || s.name === "") continue;
    const group =
      s.name === ".text" || s.name.startsWith(".plt") || s.name === ".init" || s.name === ".fini"
        ? "machine code (.text, .plt)"
        : s.name === ".rodata"
          ? "constants (.rodata)"
          : /^\.(eh_frame|gcc_except_table)/.test(s.name)
            ? "C++ exception unwinding tables (.eh_frame*, .gcc_except_table)"
            : /^\.(dynsym|dynstr|gnu\.hash|gnu\.version)/.test(s.name)
              ? "exported symbols (.dynsym, .dynstr, .gnu.*), read by the dynamic linker"
              : s.name.startsWith(".rela")
                ? "relocations (.rela.*)"
                : s.name === ".symtab" || s.name === ".strtab"
                  ? "symbol table (.symtab, .strtab): unused at run time, removed by strip"
                  : "data and the rest (.data*, .got*, …)";
    groups.set(group, (groups.get(group) ?? 0) + s.size);
  }
  return [...groups].sort((a, b) => b[1] - a[1]);
}

if (!existsSync(EXE)) {
  console.error(`${EXE} missing: building it`);
  if (Bun.spawnSync([BUN, join(ROOT, "scripts", "build.ts")], { cwd: ROOT, stdout: "inherit", stderr: "inherit" }).exitCode !== 0) process.exit(1);
}
const file = readFileSync(EXE);
const total = file.byteLength;
const bunSection = elfSections(file).find((s) => s.name === ".bun");
if (!bunSection) throw new Error(`${EXE} has no .bun section: not built with bun build --compile for Linux?`);
const graph = moduleGraph(file.subarray(bunSection.offset, bunSection.offset + bunSection.size));
const runtime = total - bunSection.size;
const bunBinary = statSync(BUN).size;

const out: string[] = [];
out.push(`${EXE}: ${MiB(total)} MiB (${total.toLocaleString("en-US")} bytes), bun ${Bun.version}\n`);
const rows: string[][] = [[`Bun runtime (the executable less its .bun section; ${BUN}: ${MiB(bunBinary)} MiB)`, MiB(runtime), fmt((100 * runtime) / total, 1)]];
if (graph) {
  const base = (name: string) => name.slice(name.lastIndexOf("/") + 1);
  const seen: { range: [number, number]; name: string }[] = [];
  for (const f of graph) {
    // A build with bytecodeOrder lays both bundles' bytecode out as one region, which both records name: counted once.
    const [from, to] = f.ranges.bytecode;
    const sharedWith = f.bytecode ? seen.find(({ range }) => range[0] < to && from < range[1]) : undefined;
    if (f.bytecode && !sharedWith) seen.push({ range: f.ranges.bytecode, name: base(f.name) });
    const size = f.contents + f.sourcemap + (sharedWith ? Math.max(0, to - sharedWith.range[1]) + Math.max(0, sharedWith.range[0] - from) : f.bytecode);
    const unpacked = unpackedSize(f.head);
    const bytecode = !f.bytecode ? "" : sharedWith ? `source ${MiB(f.contents)}; its bytecode lies in ${sharedWith.name}'s` : `source ${MiB(f.contents)} + bytecode ${MiB(f.bytecode)}`;
    const parts = [bytecode, f.sourcemap ? `sourcemap ${MiB(f.sourcemap)}` : "", unpacked ? `unpacks to ${MiB(unpacked)} MiB` : ""].filter(Boolean);
    rows.push([`${kindOf(f.name)}: ${base(f.name)}${parts.length ? ` (${parts.join(", ")})` : ""}`, MiB(size), fmt((100 * size) / total, 1)]);
  }
  // The bytes the records name, overlaps counted once.
  const ranges = graph.flatMap((f) => [f.ranges.contents, f.ranges.sourcemap, f.ranges.bytecode]).filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let listed = 0;
  let end = 0;
  for (const [a, b] of ranges) {
    if (b > end) listed += b - Math.max(a, end);
    end = Math.max(end, b);
  }
  rows.push(["the rest of the .bun section: data no file record names, padding, names, records", MiB(bunSection.size - listed), fmt((100 * (bunSection.size - listed)) / total, 1)]);
} else {
  out.push(`(the .bun section is not laid out as this script reads it; its size only)`);
  rows.push([".bun section", MiB(bunSection.size), fmt((100 * bunSection.size) / total, 1)]);
}
out.push(table(["part", "MiB", "%"], rows));

const bundles = await bundleBreakdown();
for (const [name, groups] of bundles) {
  const sum = [...groups.values()].reduce((a, b) => a + b, 0);
  const top = [...groups].sort((a, b) => b[1] - a[1]);
  const shown = top.slice(0, 14);
  const rest = top.slice(14).reduce((a, [, b]) => a + b, 0);
  out.push(`${name} (minified source ${MiB(sum)} MiB; its bytecode, above, is about as large again), by package or folder:`);
  out.push(table(["input", "KiB", "%"], [...shown.map(([g, b]) => [g, fmt(b / 1024, 0), fmt((100 * b) / sum, 1)]), [`${top.length - shown.length} more`, fmt(rest / 1024, 0), fmt((100 * rest) / sum, 1)]]));
}

const bindings = `@duckdb/node-bindings-${process.platform}-${process.arch}`;
try {
  const lib = join(Bun.resolveSync(`${bindings}/package.json`, ROOT), "..", "libduckdb.so");
  out.push(`${lib} as installed: ${MiB(statSync(lib).size)} MiB, by ELF section:`);
  out.push(table(["sections", "MiB"], libraryBreakdown(lib).map(([g, b]) => [g, MiB(b)])));
} catch {
  out.push(`(${bindings}/libduckdb.so not found: its breakdown is skipped)`);
}
console.log(out.join("\n"));
