/**
 * A tokenizer for the ClickHouse SQL people send to `/api/sql` (hand-written:
 * no npm parser has a ClickHouse dialect), strict on purpose. It follows
 * ClickHouse's lexer (src/Parsers/Lexer.cpp) where the guard depends on it,
 * and refuses whatever it is unsure of rather than guess:
 *
 * - `'…'` strings, `"…"` and `` `…` `` identifiers: a backslash escapes the
 *   next character, a doubled quote is a quote; unterminated is refused.
 * - `--` comments to the end of the line; `/* … *\/` comments, except one that
 *   holds another `/*` (today's ClickHouse nests them, older releases do not:
 *   a reader that disagreed with the server could be shown a different query).
 * - Words, numbers (decimal, exponent, 0x hex), and operators.
 * - Refused outright: `#` (a comment to newer releases), `$` (heredocs), `{`
 *   and `}` (query parameters), `\`, `@`, control characters and anything
 *   outside ASCII outside quotes.
 */

export type TokenKind = "word" | "quoted" | "string" | "number" | "op" | "space";

export interface Token {
  kind: TokenKind;
  /** The text as written. */
  text: string;
  /** A word's text, or a quoted identifier's name unescaped. */
  name?: string;
}

export class SqlTokenError extends Error {
  override name = "SqlTokenError";
}

/** Operators and punctuation, longest first. */
const OPS = ["->", "::", "<=", ">=", "!=", "<>", "==", "||", "(", ")", "[", "]", ",", ";", ".", ":", "?", "+", "-", "*", "/", "%", "=", "<", ">"];

/** The text and name of a quoted token starting at `start` (its quote character). */
function readQuoted(sql: string, start: number): { end: number; name: string } {
  const quote = sql[start]!;
  let name = "";
  for (let i = start + 1; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "\\") {
      if (i + 1 >= sql.length) break;
      name += sql[++i];
    } else if (c === quote) {
      if (sql[i + 1] === quote) {
        name += quote;
        i++;
      } else {
        return { end: i + 1, name };
      }
    } else {
      name += c;
    }
  }
  throw new SqlTokenError(`unterminated ${quote === "'" ? "string" : "quoted identifier"}`);
}

/** The tokens of `sql`; comments and whitespace come back as `space` tokens (comments as one space). */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const rest = sql.slice(i);
    if (/^[ \t\n\r\f\v]/.test(c)) {
      const m = /^[ \t\n\r\f\v]+/.exec(rest)!;
      tokens.push({ kind: "space", text: m[0] });
      i += m[0].length;
    } else if (rest.startsWith("--")) {
      const end = sql.indexOf("\n", i);
      tokens.push({ kind: "space", text: "\n" });
      i = end < 0 ? sql.length : end + 1;
    } else if (rest.startsWith("/*")) {
      const end = sql.indexOf("*/", i + 2);
      if (end < 0) throw new SqlTokenError("unterminated comment");
      if (sql.slice(i + 2, end).includes("/*")) throw new SqlTokenError("a comment inside a comment");
      tokens.push({ kind: "space", text: " " });
      i = end + 2;
    } else if (c === "'" || c === '"' || c === "`") {
      const { end, name } = readQuoted(sql, i);
      tokens.push(c === "'" ? { kind: "string", text: sql.slice(i, end) } : { kind: "quoted", text: sql.slice(i, end), name });
      i = end;
    } else if (/^[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest)!;
      tokens.push({ kind: "word", text: m[0], name: m[0] });
      i += m[0].length;
    } else if (/^[0-9]/.test(c) || /^\.[0-9]/.test(rest)) {
      const m = /^(?:0[xX][0-9A-Fa-f]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)/.exec(rest)!;
      // ClickHouse reads `1abc` as a number then a word; refuse what is glued to a number instead.
      if (/^[A-Za-z_0-9]/.test(sql[i + m[0].length] ?? "")) throw new SqlTokenError(`unexpected text after the number ${m[0]}`);
      tokens.push({ kind: "number", text: m[0] });
      i += m[0].length;
    } else {
      const op = OPS.find((o) => rest.startsWith(o));
      if (!op) throw new SqlTokenError(`unexpected character ${JSON.stringify(c)}`);
      tokens.push({ kind: "op", text: op });
      i += op.length;
    }
  }
  return tokens;
}
