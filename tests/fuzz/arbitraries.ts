import fc from "fast-check";

/**
 * What the fuzz tests share: run budgets, and inputs shaped like what
 * arrives from outside (upstream bytes, provider JSON, client bodies).
 */

/**
 * Runs per property, scaled by FUZZ_SCALE (default 1): CI keeps the whole
 * folder under a minute on two busy cores; a long soak is
 * `FUZZ_SCALE=100 bun test tests/fuzz`. A failure prints its seed and path
 * (`fc.assert`), which replay it exactly.
 */
export function runs(n: number): { numRuns: number } {
  const scale = Number(process.env.FUZZ_SCALE ?? "1");
  return { numRuns: Math.max(1, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1))) };
}

/** Per-test timeout (ms) for bun:test, so a hang fails instead of waiting forever. */
export const TIMEOUT = 20_000;

/**
 * One character as untrusted text carries them: printable ASCII mostly, and
 * what breaks parsers — quotes, backslashes, line ends of every kind, NUL and
 * other controls, U+2028, a BOM, astral characters, and lone surrogates
 * (valid in JSON escapes and JS strings, not in UTF-8).
 */
const nasty = fc.constantFrom('"', "'", "\\", "\n", "\r", "\r\n", "\t", "\0", "\u0001", "\u007f", "\u2028", "\ufeff", "\ud800", "\udfff", "😀", "é", ":", " ", "{", "}", "[", "]", ",", "$", "`", "/", "*", "-", ";");
export const char = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: nasty },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
);

/** Text with the characters above. */
export const text = (maxLength = 24) => fc.string({ unit: char, maxLength });

/** Text without lone surrogates (what survives a round trip through UTF-8). */
export const wellFormedText = (maxLength = 24) => text(maxLength).map((s) => s.toWellFormed());

/** Text for one SSE or NDJSON line: no CR or LF. */
export const lineText = (maxLength = 24) => wellFormedText(maxLength).map((s) => s.replace(/[\r\n]/g, ""));

/** Numbers a counter field may hold in provider JSON: counts, and every edge a reader must refuse or survive. */
export const edgeNumber = fc.oneof(
  fc.nat({ max: 100_000 }),
  fc.constantFrom(0, -0, -1, 0.5, 1.5, 2 ** 31, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 1e20, 1e300, Number.MAX_VALUE, -Number.MAX_VALUE, 5e-324),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Any JSON value, strings included with the characters above. */
export const anyJson = fc.jsonValue({ maxDepth: 4, stringUnit: char });

/**
 * A JSON value shaped loosely like a provider response: keys drawn from the
 * names the readers look for and strings from the values they compare
 * against (so their branches are reached), values anything — the right type,
 * the wrong one, numbers at every edge.
 */
export function looseJson(keys: readonly string[], values: readonly string[] = []) {
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { maxDepth: 5, depthIdentifier: "loose" },
      { weight: 3, arbitrary: edgeNumber },
      { weight: 2, arbitrary: text(12) },
      { weight: 2, arbitrary: fc.constantFrom(null, true, false, "", "[DONE]", "1h", "5m", ...values) },
      { weight: 3, arbitrary: fc.dictionary(fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...keys) }, { weight: 1, arbitrary: text(6) }), tie("value"), { maxKeys: 6 }) },
      { weight: 1, arbitrary: fc.array(tie("value"), { maxLength: 3 }) },
    ),
  }));
  return value;
}

/** Bytes cut into chunks at arbitrary places (empty chunks included). */
export function cutAnywhere(bytes: Uint8Array) {
  return fc.array(fc.nat({ max: bytes.byteLength }), { maxLength: 12 }).map((cuts) => {
    const points = [0, ...cuts.sort((a, b) => a - b), bytes.byteLength];
    return points.slice(1).map((end, i) => bytes.subarray(points[i]!, end));
  });
}

/** Any bytes, already cut into chunks. */
export const anyChunks = fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 });

export const utf8 = new TextEncoder();
