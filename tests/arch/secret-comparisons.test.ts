import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sameSecret } from "../../src/http/same-secret.ts";

/**
 * Issue 17: every check of a presented secret runs in constant time
 * (`sameSecret`, which hashes both sides and compares with timingSafeEqual,
 * or an HMAC looked up by value), never with `===` or a string method that
 * stops at the first difference. A static check over the code that checks
 * secrets: the places below must go through the constant-time compare, and
 * none of their files may compare a secret-named value another way.
 */
const ROOT = join(import.meta.dir, "..", "..");

/** Where secrets are checked, what each must call, and how many times at least. */
const CHECKS: { file: string; what: string; calls: RegExp; count: number }[] = [
  { file: "src/http/same-secret.ts", what: "the compare itself", calls: /timingSafeEqual\(/g, count: 1 },
  { file: "src/dashboard/access.ts", what: "the admin token (Bearer) and the dashboard password (basic auth)", calls: /sameSecret\(/g, count: 2 },
  { file: "src/dashboard/login-cookie.ts", what: "the session cookie's HMAC signature", calls: /sameSecret\(/g, count: 1 },
  { file: "src/api/dashboard-routes.ts", what: "the token given to POST /api/login", calls: /sameSecret\(/g, count: 1 },
  { file: "src/api/create-api.ts", what: "the local CLI key on /api", calls: /sameSecret\(/g, count: 1 },
  { file: "src/api/access-routes.ts", what: "the local CLI key naming the audit's actor", calls: /sameSecret\(/g, count: 1 },
  { file: "src/server.ts", what: "the local CLI key on /_loupe", calls: /sameSecret\(/g, count: 1 },
  { file: "src/keys/secrets.ts", what: "LOUPE_SECRET's stored verifier", calls: /timingSafeEqual\(/g, count: 1 },
  // Gateway keys: the presented key's HMAC (keyed by LOUPE_SECRET) is looked up; an attacker cannot aim an HMAC at a stored one.
  { file: "src/keys/access-book.ts", what: "gateway keys, by their HMAC", calls: /secrets\.keyHashes\(/g, count: 1 },
];

/** Names that hold a secret, or what one is checked against, in those files. */
const SECRET = /^(?:adminToken|dashboardPassword|localKey|password|token|mac|signature|verifier|given|presented|expected|secret|sealed|hash|known|cookieHeader)$/;
/** What a secret may be compared with: its absence, never another value. */
const ABSENT = /^(?:undefined|null|""|''|``)$/;

/** Code with comments and the contents of strings blanked (quotes kept), so that neither is read as code. */
function codeOnly(source: string): string {
  let out = "";
  let quote = "";
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (quote) {
      if (c === "\\") {
        i++;
        continue;
      }
      if (c === quote) {
        quote = "";
        out += c;
      } else if (c === "\n") out += c;
      continue;
    }
    if (c === "/" && source[i + 1] === "/") {
      while (i < source.length && source[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      out += source.slice(i, end < 0 ? source.length : end + 2).replace(/[^\n]/g, "");
      i = end < 0 ? source.length : end + 1;
    } else {
      if (c === '"' || c === "'" || c === "`") quote = c;
      out += c;
    }
  }
  return out;
}

/** The last name of an operand (`deps.adminToken` → `adminToken`, `header.slice(7)` → `header`). */
const lastName = (operand: string) => /([A-Za-z_$][\w$]*)\s*(?:\([^()]*\))?\s*[)\]]*$/.exec(operand.trim())?.[1] ?? operand.trim();
const firstName = (operand: string) => /^[(!\s]*([A-Za-z_$][\w$.]*)/.exec(operand)?.[1]?.split(".").at(-1) ?? operand.trim();

/** Every comparison in `source` that tests a secret-named value against anything but its absence, as `line: text`. */
export function variableTimeComparisons(source: string): string[] {
  const code = codeOnly(source);
  const found: string[] = [];
  code.split("\n").forEach((line, at) => {
    for (const match of line.matchAll(/([\w$.()[\]"'`]+)\s*(===|!==|==|!=)\s*([\w$.()[\]"'`!]+)/g)) {
      const [left, right] = [lastName(match[1]!), firstName(match[3]!)];
      const secretSide = SECRET.test(left) ? right : SECRET.test(right) ? left : undefined;
      if (secretSide !== undefined && !ABSENT.test(secretSide) && !ABSENT.test(match[3]!.trim())) found.push(`${at + 1}: ${line.trim()}`);
    }
    for (const match of line.matchAll(/([\w$.]+)\.(startsWith|endsWith|includes|indexOf|lastIndexOf|localeCompare)\(\s*([\w$.]*)/g)) {
      if (SECRET.test(lastName(match[1]!)) || SECRET.test(lastName(match[3]!))) found.push(`${at + 1}: ${line.trim()}`);
    }
  });
  return found;
}

describe("secrets are compared in constant time", () => {
  for (const { file, what, calls, count } of CHECKS) {
    test(`${file}: ${what}`, () => {
      const source = readFileSync(join(ROOT, file), "utf8");
      expect((codeOnly(source).match(calls) ?? []).length).toBeGreaterThanOrEqual(count);
      expect(variableTimeComparisons(source)).toEqual([]);
    });
  }

  test("the check finds what it is for", () => {
    const found = variableTimeComparisons(
      [
        "if (token === deps.adminToken) return 'token';",
        "const ok = header.slice(7) !== adminToken;",
        "if (mac == sign(adminToken, expiry)) return true;",
        "return expected.startsWith(given);",
        "if (given.localeCompare(localKey) === 0) next();",
        "if (adminToken === undefined) return; // absence is no secret",
        "const s = 'token === adminToken';",
      ].join("\n"),
    );
    expect(found.map((line) => Number(line.split(":")[0]))).toEqual([1, 2, 3, 4, 5]);
  });

  test("sameSecret: equal only when equal, whatever the lengths or characters", () => {
    expect(sameSecret("s3cret-token", "s3cret-token")).toBe(true);
    for (const given of [undefined, "", "s3cret-toke", "s3cret-token ", "S3cret-token", "s3cret-tokeñ", "x".repeat(10_000)]) expect([given, sameSecret(given, "s3cret-token")]).toEqual([given, false]);
    expect(sameSecret("ünïcødé ✓", "ünïcødé ✓")).toBe(true);
  });
});
