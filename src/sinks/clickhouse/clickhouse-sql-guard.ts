import { UnsafeQueryError } from "../sql-errors.ts";
import { SqlTokenError, tokenize, type Token } from "./sql-tokens.ts";

/**
 * Vetting of the SQL people send to `/api/sql` and `loupe sql` when the log
 * is in ClickHouse, and its rewriting into the query that runs. ClickHouse
 * has no sandbox like DuckDB's; what stands between the query and the server
 * is, from the inside out:
 *
 * 1. This vetting, on the tokens (sql-tokens.ts): exactly one SELECT (or
 *    WITH … SELECT) statement; every table it names is `requests` or one of
 *    the views (unqualified, any case), which are rewritten to the log's table
 *    (read with FINAL: each record once) and to subqueries over it; no table
 *    functions, no database-qualified tables (so no `system.*` nor another
 *    database), no `x IN table`, no comma joins (`CROSS JOIN` says the same
 *    and leaves no list to hide a table in), no FORMAT, SETTINGS, INTO
 *    OUTFILE, FINAL or statement keywords, and none of DENIED_FUNCTIONS.
 *    Comments are dropped: the query that runs is rebuilt from the tokens.
 * 2. The settings it runs with (clickhouse-sql.ts): `readonly=1` last (no
 *    writes, no SET, no table functions), a time limit, and a LIMIT around it.
 *
 * Where a table can be named in ClickHouse's SELECT (18.16 and today): after
 * FROM, after JOIN (ARRAY JOIN takes arrays), after a comma of a FROM list,
 * after IN, and inside functions that take a table by name (joinGet, dictGet…,
 * in(x, t)): each is handled above. FROM inside extract(…)/trim(…)/
 * substring(…) reads an expression, not a table.
 */

/** What a table name becomes in the query that runs. */
export interface TableRewrite {
  /** The log's table, qualified (`` `loupe`.requests ``): read with FINAL. */
  table: string;
  /** View name (lower case) → its SELECT, which reads `table` itself. */
  views: ReadonlyMap<string, string>;
}

/** Words refused wherever they stand (bare; a quoted identifier is never a keyword). */
const DENIED_WORDS: ReadonlyMap<string, string> = new Map([
  ["FORMAT", "the answer's format is Loupe's to choose"],
  ["SETTINGS", "settings are Loupe's to choose"],
  ["INTO", "INTO OUTFILE writes a file"],
  ["OUTFILE", "INTO OUTFILE writes a file"],
  ["FINAL", "requests is read once per record already"],
  ["SYSTEM", "system tables are not readable here"],
  ...["INSERT", "CREATE", "ALTER", "DROP", "DETACH", "ATTACH", "RENAME", "TRUNCATE", "OPTIMIZE", "KILL", "GRANT", "REVOKE", "USE", "SET", "EXCHANGE", "DELETE", "UPDATE", "CHECK", "SHOW", "DESCRIBE", "EXPLAIN", "BACKUP", "RESTORE", "UNDROP"].map(
    (word) => [word, "only SELECT statements are allowed"] as const,
  ),
]);

const READS_ELSEWHERE = "reads a table, file or service other than the records";

/** Functions refused (lower case), each with why. Table functions are refused wherever they stand (they are also refused as tables). */
export const DENIED_FUNCTIONS: ReadonlyMap<string, string> = new Map([
  ...["joinget", "joingetornull", "hascolumnintable", "file", "url", "s3", "s3cluster", "gcs", "oss", "azureblobstorage", "remote", "remotesecure", "cluster", "clusterallreplicas",
    "input", "mysql", "postgresql", "sqlite", "mongodb", "redis", "jdbc", "odbc", "hdfs", "hdfscluster", "executable", "merge", "view", "viewifpermitted", "dictionary",
    "iceberg", "deltalake", "hudi", "values", "format", "generaterandom", "numbers", "numbers_mt", "zeros", "zeros_mt", "null", "loop", "fuzzjson", "mergetreeindex"].map((f) => [f, READS_ELSEWHERE] as const),
  // The function forms of IN take a table by name: in(x, system.one) (`in(` itself is read as IN, see namesTable).
  ...["notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin", "globalnotnullin", "inignoreset"].map((f) => [f, "takes a table by name (write x IN (SELECT …))"] as const),
  ["getsetting", "reads the server's settings"],
  ["getsettingordefault", "reads the server's settings"],
  ["getmacro", "reads the server's configuration"],
  ["getserverport", "reads the server's configuration"],
  ["getclienthttpheader", "reads another request's headers"],
  ["hostname", "names the server's host"],
  ["fqdn", "names the server's host"],
  ["sleep", "blocks a thread"],
  ["sleepeachrow", "blocks a thread"],
  ["filesystemavailable", "reads the server's file system"],
  ["filesystemcapacity", "reads the server's file system"],
  ["filesystemfree", "reads the server's file system"],
  ["filesystemunreserved", "reads the server's file system"],
  ["addresstoline", "introspects the server"],
  ["addresstolinewithinlines", "introspects the server"],
  ["addresstosymbol", "introspects the server"],
  ["demangle", "introspects the server"],
  ["trap", "a debugging function that can stop the server"],
  ["modelevaluate", "runs a model the server loads from files"],
  ["catboostevaluate", "runs a model the server loads from files"],
  ["evalmlmethod", "runs a model"],
]);

/** `dictGet`, `dictGetString`, `dictHas`, `dictIsIn`, …: read dictionaries (other tables, files, services) by name. */
const isDictionaryFunction = (name: string) => name.startsWith("dict");

/** Words that end a table expression: what follows a table name is an alias only when it is none of these. */
const NOT_ALIAS = new Set(
  "WHERE PREWHERE GROUP ORDER LIMIT HAVING UNION EXCEPT INTERSECT JOIN INNER LEFT RIGHT FULL CROSS ANY ALL ASOF SEMI ANTI GLOBAL ARRAY ON USING SAMPLE FINAL SETTINGS FORMAT WITH INTO OFFSET WINDOW QUALIFY PASTE OUTER LOCAL NATURAL".split(" "),
);

/** Functions whose parentheses may hold `FROM` (ANSI forms): there it reads an expression. */
const FROM_INSIDE = new Set(["extract", "trim", "substring"]);

const upper = (token: Token | undefined) => (token?.kind === "word" ? token.text.toUpperCase() : "");
const isName = (token: Token | undefined) => token?.kind === "word" || token?.kind === "quoted";
const isOp = (token: Token | undefined, op: string) => token?.kind === "op" && token.text === op;

/**
 * Whether what follows IN (from `at`) may name a table. ClickHouse reads a
 * lone name on the right of IN as a table, in any parentheses, with an alias
 * or not (`x IN t`, `x IN ((t))`, `x IN (t AS s)`, `x IN (db.t)`), and the
 * function form `in(x, t)` takes one too; the two look alike to a tokenizer
 * (`NOT in(7, t)` against `x NOT IN (7, t)`), so both are read the same way:
 * no element of the parenthesized list may be a lone name. A call, a literal,
 * an expression or a subquery passes.
 */
function namesTable(tokens: readonly Token[], at: number): boolean {
  const lone = (from: number, to: number): boolean => {
    let i = from;
    let j = to;
    while (isOp(tokens[i], "(") && isOp(tokens[j - 1], ")")) {
      i++;
      j--;
    }
    if (!isName(tokens[i])) return false;
    const next = tokens[i + 1];
    return i + 1 === j || isOp(next, ".") || upper(next) === "AS";
  };
  if (!isOp(tokens[at], "(")) return isName(tokens[at]) && !isOp(tokens[at + 1], "(");
  // The top-level elements of the list: from after `(` to its `)`, split at commas.
  let depth = 0;
  let start = at + 1;
  for (let i = at; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (isOp(token, "(") || isOp(token, "[")) depth++;
    else if (isOp(token, ")") || isOp(token, "]")) {
      depth--;
      if (depth === 0) return lone(start, i);
    } else if (depth === 1 && isOp(token, ",")) {
      if (lone(start, i)) return true;
      start = i + 1;
    }
  }
  return false;
}

/**
 * Throws UnsafeQueryError unless `sql` passes (see above); returns the query
 * to run: the same tokens without comments or a final `;`, tables rewritten.
 */
export function vetClickHouseQuery(sql: string, rewrite: TableRewrite): string {
  let all: Token[];
  try {
    all = tokenize(sql);
  } catch (error) {
    if (error instanceof SqlTokenError) throw new UnsafeQueryError(`could not read the query: ${error.message}`);
    throw error;
  }
  // The significant tokens; `out[i]` is what token i becomes (its text, maybe replaced) plus text to add after it.
  const tokens = all.filter((t) => t.kind !== "space");
  while (isOp(tokens.at(-1), ";")) tokens.pop();
  if (tokens.length === 0) throw new UnsafeQueryError("no statement given");
  if (tokens.some((t) => isOp(t, ";"))) throw new UnsafeQueryError("only one statement is allowed");
  const first = upper(tokens[0]);
  if (first !== "SELECT" && first !== "WITH") throw new UnsafeQueryError(`only SELECT statements are allowed (got ${first || tokens[0]!.text})`);

  const text = tokens.map((t) => t.text);
  const after = tokens.map(() => "");
  /** For each open parenthesis: whether FROM in it reads an expression, and whether it is a table (a subquery after FROM or JOIN). */
  const parens: { fromInside: boolean; table: boolean }[] = [];
  const allowed = ["requests", ...rewrite.views.keys()].join(", ");

  /** After a table (name or subquery) ending at `end`: skip its alias; refuse a comma join. Returns the last index of the table expression. */
  const endOfTable = (end: number): number => {
    let last = end;
    if (upper(tokens[last + 1]) === "AS") last += 2;
    else if (isName(tokens[last + 1]) && !NOT_ALIAS.has(upper(tokens[last + 1]))) last += 1;
    if (isOp(tokens[last + 1], ",")) throw new UnsafeQueryError("a comma between tables is not allowed here (write CROSS JOIN)");
    return last;
  };

  /** The table named at index `at` (after FROM or JOIN). */
  const table = (at: number): void => {
    const token = tokens[at];
    if (isOp(token, "(")) {
      const next = upper(tokens[at + 1]);
      if (next !== "SELECT" && next !== "WITH") throw new UnsafeQueryError("only a subquery (SELECT …) may stand in parentheses where a table is named");
      return; // the subquery is vetted as the walk goes through it; `)` checks what follows
    }
    if (!isName(token)) throw new UnsafeQueryError(`expected a table name after ${tokens[at - 1]!.text}, got ${token?.text ?? "the end"}`);
    const name = token!.name!;
    if (isOp(tokens[at + 1], ".")) throw new UnsafeQueryError(`tables of other databases are not allowed (${name}.…): only ${allowed}`);
    if (isOp(tokens[at + 1], "(")) throw new UnsafeQueryError(`table functions are not allowed (${name}): only ${allowed}`);
    const key = name.toLowerCase();
    const view = rewrite.views.get(key);
    if (key !== "requests" && view === undefined) throw new UnsafeQueryError(`table ${name} is not readable here: only ${allowed}`);
    const last = endOfTable(at);
    const aliased = last > at;
    if (view !== undefined) {
      text[at] = `(${view})`;
      if (!aliased) after[at] = ` AS ${key}`;
    } else {
      text[at] = rewrite.table;
      // ClickHouse takes FINAL after the alias: `db.requests AS r FINAL`.
      after[last] += aliased ? " FINAL" : " AS requests FINAL";
    }
  };

  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const word = upper(token);
    const denied = DENIED_WORDS.get(word);
    if (denied) throw new UnsafeQueryError(`${word} is not allowed: ${denied}`);
    if (isName(token) && isOp(tokens[i + 1], "(")) {
      const fn = token.name!.toLowerCase();
      const reason = DENIED_FUNCTIONS.get(fn) ?? (isDictionaryFunction(fn) ? READS_ELSEWHERE : undefined);
      if (reason) throw new UnsafeQueryError(`function ${token.name} is not allowed: ${reason}`);
    }
    if (isOp(token, "(")) {
      const previous = tokens[i - 1];
      const opener = upper(previous);
      parens.push({ fromInside: isName(previous) && FROM_INSIDE.has(previous!.name!.toLowerCase()), table: opener === "FROM" || (opener === "JOIN" && upper(tokens[i - 2]) !== "ARRAY") });
    } else if (isOp(token, ")")) {
      const closed = parens.pop();
      if (!closed) throw new UnsafeQueryError("could not read the query: unbalanced parentheses");
      if (closed.table) endOfTable(i);
    } else if (word === "FROM" && !parens.at(-1)?.fromInside) {
      table(i + 1);
    } else if (word === "JOIN" && upper(tokens[i - 1]) !== "ARRAY") {
      table(i + 1);
    } else if (word === "IN" && namesTable(tokens, i + 1)) {
      throw new UnsafeQueryError("IN with a bare name is not allowed: ClickHouse reads it as a table (write IN (SELECT …))");
    }
  }
  if (parens.length > 0) throw new UnsafeQueryError("could not read the query: unbalanced parentheses");

  // Rebuilt from the tokens, single-spaced but across lines as written, without comments.
  let out = "";
  let t = 0;
  for (const token of all) {
    if (token.kind === "space") {
      // Runs of space and comments as one space, or one line break.
      const gap = /\n/.test(token.text) ? "\n" : " ";
      if (out.endsWith(" ") || out.endsWith("\n")) out = out.slice(0, -1) + (gap === "\n" || out.endsWith("\n") ? "\n" : " ");
      else out += gap;
      continue;
    }
    if (t >= tokens.length || token !== tokens[t]) continue; // a trailing `;`
    out += text[t]! + after[t]!;
    t++;
  }
  return out.trim();
}
