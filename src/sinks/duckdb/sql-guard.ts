// Vetting of user-supplied SQL (HTTP `POST /api/sql`, `loupe sql`): defence in
// depth. The primary boundary is DuckDB's own sandbox (sql-sandbox.ts: the
// instance runs with external access disabled and its configuration locked;
// each user statement runs on a fresh connection, in a read-only transaction,
// and only if DuckDB prepares it as a SELECT). This vetting is kept because
// DuckDB's sandbox leaves gaps only it closes: table functions that change
// instance-wide state despite lock_configuration (enable_logging can make every
// later statement of the instance fail), reads of Loupe's own files that stay
// reachable (the database file, its WAL, DuckDB's temp folder), metadata
// leaks (duckdb_settings, duckdb_databases) and tables outside the allowlist.
//
// How: DuckDB parses the text for us. `json_serialize_sql(?)` returns the
// parsed statement as a JSON AST (parser only: nothing is bound, no file is
// touched, no extension is auto-loaded). We walk *every* object and array of
// that tree, so subqueries anywhere (SELECT list, WHERE, JOIN, LATERAL, set
// operations, CTE bodies, LIMIT, QUALIFY, PIVOT …) are covered, and check:
//
// - table references (`from_table`, JOIN sides, PIVOT sources, SHOW_REF …):
//   - BASE_TABLE: one of `allowedTables` (case-insensitive, bare or `main.`),
//     or the name of a CTE in scope (bare names only). Anything else is refused,
//     which includes replacement scans (`FROM 'x.csv'`, `FROM 'https://…'`,
//     `FROM "x.parquet"`), catalog-qualified names, information_schema,
//     pg_catalog, duckdb_* views and tables that exist but are not allowed;
//   - TABLE_FUNCTION: only the names in TABLE_FUNCTION_ALLOWLIST;
//   - SHOW_REF without a query: only `SHOW TABLES` (not `SHOW databases`, which
//     shows file paths, nor `SHOW ALL TABLES`);
//   - JOIN, SUBQUERY, EMPTY, EXPRESSION_LIST (VALUES), PIVOT (static PIVOT and
//     UNPIVOT): allowed, their content is walked; any other reference type
//     (or an unexpected shape) is refused;
// - every `function_name` anywhere (scalar, aggregate, window, table) against
//   DENIED_FUNCTIONS;
// - CTE scoping as DuckDB 1.5 resolves it (checked): a CTE body does not see
//   the CTE itself (`WITH t AS (SELECT * FROM t)` reads a *table* t), except
//   the recursive branch of WITH RECURSIVE; a CTE in a subquery is not visible
//   outside it.
//
// The text must hold exactly one statement, and a SELECT-like one: SELECT,
// WITH … SELECT, FROM-first, VALUES, TABLE x, DESCRIBE, SHOW, SUMMARIZE,
// static PIVOT/UNPIVOT (all serialized as SELECT), or `EXPLAIN [ANALYZE]
// <such a statement>` (the prefix, with plain whitespace only, is cut off and
// the rest vetted the same way). Only after the AST passed is the statement
// extracted and prepared (bound), and its statement type must be SELECT
// (EXPLAIN for EXPLAIN): defence in depth. Nothing unvetted is extracted or
// prepared: extraction expands PRAGMAs (`IMPORT DATABASE 'dir'` reads
// dir/schema.sql right there) and binding has effects too (read_csv sniffs
// the file; `FROM 'https://…'` auto-installs and loads httpfs, then opens the
// URL).
//
// Table function allowlist (nothing here touches files, the network or the
// catalog): range, generate_series, unnest, repeat, repeat_row, json_each,
// json_tree, pg_timezone_names, icu_calendar_names. Refused by omission: every
// reader (read_csv*, read_json*, read_ndjson*, read_parquet, parquet_*,
// read_text, read_blob, read_duckdb, glob, sniff_csv, iceberg_scan, delta_scan,
// arrow_scan, …), query/query_table (run SQL from a string), summary/histogram
// (take a table name), json_execute_serialized_sql, which_secret, checkpoint,
// enable_logging …, and all duckdb_* / pragma_* metadata functions: they leak
// settings (duckdb_settings: secret_directory, temp_directory, s3_* values),
// file paths (duckdb_databases, duckdb_temporary_files, duckdb_extensions),
// secret names and scopes (duckdb_secrets), logs, prepared statements, and the
// names and SQL of objects outside the allowlist. Deciding per function is not
// worth it for an analytics endpoint; DESCRIBE/SUMMARIZE cover the schema.
//
// Scalar function denylist: see DENIED_FUNCTIONS below, each with its reason.
// Besides, every function name and every non-built-in type name (`::INET`)
// must exist on the connection already (duckdb_functions(), duckdb_types()):
// an unknown one would make DuckDB download and load the extension providing
// it (autoinstall_known_extensions / autoload_known_extensions are on).

import type { DuckDBConnection, DuckDBResult } from "@duckdb/node-api";
import { InvalidQueryError, QueryTimeoutError, UnsafeQueryError } from "../sql-errors.ts";
import { loadDuckDB, type DuckDBModule } from "./load-duckdb.ts";

export { InvalidQueryError, QueryTimeoutError, UnsafeQueryError };

export interface SafeQueryOptions {
  /** Tables and views the query may read, e.g. ["requests", "daily_usage"]. */
  allowedTables: readonly string[];
  /**
   * Connections given the same key share one lookup of the available function
   * and type names (~15 ms), e.g. the fresh connection of each user query on
   * one locked instance (nothing can load an extension there). Default: the
   * connection itself.
   */
  namesKey?: object;
}

/**
 * `EXPLAIN [ANALYZE] ` followed by the explained statement, with plain
 * whitespace only (no comments), so that what follows is exactly what DuckDB
 * explains (and, for ANALYZE, runs).
 */
const EXPLAIN_PREFIX = /^[ \t\r\n]*EXPLAIN[ \t\r\n]+(?:ANALYZE[ \t\r\n]+)?/i;

/** Table functions a query may use (lower case). Everything else is refused. */
export const TABLE_FUNCTION_ALLOWLIST: ReadonlySet<string> = new Set([
  "range",
  "generate_series",
  "unnest",
  "repeat",
  "repeat_row",
  "json_each",
  "json_tree",
  "pg_timezone_names",
  "icu_calendar_names",
]);

const READS_FILES = "reads files or the network";

/**
 * Functions refused wherever they appear (lower case), scalar or not. The
 * readers are table functions (already refused by the allowlist above) but are
 * listed too, so a call in any position gets the same clear message.
 */
export const DENIED_FUNCTIONS: ReadonlyMap<string, string> = new Map([
  // Environment and configuration.
  ["getenv", "reads the process environment (DuckDB CLI and some builds)"],
  ["current_setting", "settings include paths (secret_directory, temp_directory) and credentials (s3_*)"],
  ["getvariable", "reads session variables set by Loupe"],
  ["which_secret", "reveals which secret applies to a path"],
  // Built-in macros whose body calls a metadata table function (the binder
  // expands them, so the table function allowlist would never see the call).
  ["pg_get_viewdef", "a macro over duckdb_views() (SQL of every view)"],
  ["pg_get_constraintdef", "a macro over duckdb_constraints()"],
  ["get_block_size", "a macro over pragma_database_size()"],
  ["format_type", "a macro over duckdb_types()"],
  // State changes.
  ["nextval", "advances a sequence (a write)"],
  ["currval", "reads sequence state"],
  ["setseed", "changes the connection's random state"],
  ["write_log", "writes to DuckDB's log"],
  // Denial of service the timeout cannot interrupt.
  ["sleep_ms", "blocks a thread"],
  ["pg_sleep", "blocks a thread"],
  // SQL from a string: would bypass this vetting.
  ["query", "runs SQL given as a string"],
  ["query_table", "reads tables named by a string"],
  ["json_execute_serialized_sql", "runs a serialized statement"],
  ["json_serialize_plan", "binds SQL given as a string (reads files to sniff them)"],
  // Files and network.
  ...[
    "read_csv",
    "read_csv_auto",
    "sniff_csv",
    "read_json",
    "read_json_auto",
    "read_json_objects",
    "read_json_objects_auto",
    "read_ndjson",
    "read_ndjson_auto",
    "read_ndjson_objects",
    "read_parquet",
    "parquet_scan",
    "parquet_metadata",
    "parquet_file_metadata",
    "parquet_full_metadata",
    "parquet_kv_metadata",
    "parquet_schema",
    "parquet_bloom_probe",
    "read_text",
    "read_blob",
    "read_duckdb",
    "read_xlsx",
    "glob",
    "iceberg_scan",
    "iceberg_metadata",
    "iceberg_snapshots",
    "delta_scan",
    "arrow_scan",
    "postgres_scan",
    "sqlite_scan",
    "mysql_scan",
  ].map((name) => [name, READS_FILES] as const),
]);

const TABLE_REF_TYPES = new Set(["BASE_TABLE", "TABLE_FUNCTION", "JOIN", "SUBQUERY", "EMPTY", "EXPRESSION_LIST", "PIVOT", "SHOW_REF"]);
/** Other TableReferenceType names DuckDB has; refused if they ever show up in a parsed statement. */
const OTHER_TABLE_REF_TYPES = new Set(["CROSS_PRODUCT", "CTE", "EMPTY_FROM", "COLUMN_DATA", "DELIM_GET", "BOUND_TABLE_REF", "INVALID"]);
const QUERY_NODE_TYPES = new Set(["SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"]);

/**
 * Throws UnsafeQueryError unless `sql` is exactly one read-only SELECT-like
 * statement that reads only `allowedTables` (or its own CTEs), calls only
 * allowed table functions and no denied function. A statement that passes is
 * also prepared once (bound): a binder error (unknown column …) propagates
 * unchanged, as running it would raise the same.
 *
 * Run it on the connection that will run the query (it is used for parsing
 * and binding only; it runs `SELECT json_serialize_sql($1)` on it).
 */
export async function assertSafeQuery(connection: DuckDBConnection, sql: string, options: SafeQueryOptions): Promise<void> {
  const duckdb = await loadDuckDB();
  // Parse with json_serialize_sql *first*: connection.extractStatements is not
  // side-effect free (it expands PRAGMAs, and `IMPORT DATABASE 'dir'` makes it
  // read dir/schema.sql, whose text can then surface in an error message).
  // EXPLAIN [ANALYZE] <body>: only plain whitespace around the keywords (no
  // comments), so that `body` is exactly what DuckDB explains (and, for
  // ANALYZE, runs). A leading comment makes it an ordinary refused EXPLAIN.
  const explain = EXPLAIN_PREFIX.exec(sql);
  const body = explain ? sql.slice(explain[0].length) : sql;
  const ast = await serialize(connection, body);
  if (ast.error === true) {
    const reason = String(ast.error_message ?? "unknown error");
    if (ast.error_type === "parser") throw new UnsafeQueryError(`could not parse the query: ${reason}`);
    const count = countStatements(body);
    if (count > 1) throw new UnsafeQueryError(`only one statement is allowed (got ${count})`);
    const keyword = describeStatement(body);
    if (SELECT_LIKE_KEYWORDS.has(keyword)) {
      const hint = /^(UN)?PIVOT/.test(keyword) ? " (PIVOT needs an explicit IN list here)" : "";
      throw new UnsafeQueryError(`this statement cannot be vetted${hint}: ${reason}`);
    }
    throw new UnsafeQueryError(`only SELECT statements are allowed (got ${explain ? `EXPLAIN ${keyword}` : keyword})`);
  }
  const statements = ast.statements;
  if (!Array.isArray(statements)) throw new UnsafeQueryError("could not parse the query: unexpected serializer output");
  if (statements.length === 0) throw new UnsafeQueryError("no statement given");
  if (statements.length !== 1) throw new UnsafeQueryError(`only one statement is allowed (got ${statements.length})`);
  const node = (statements[0] as JsonObject | undefined)?.node;
  if (!isObject(node) || typeof node.type !== "string" || !QUERY_NODE_TYPES.has(node.type)) {
    throw new UnsafeQueryError("unexpected statement shape: only SELECT statements are allowed");
  }
  new Vetter(options.allowedTables, await knownNames(connection, options.namesKey ?? connection)).walk(statements[0], new Set());

  // Defence in depth, now that extracting and binding are known to be harmless:
  // one statement, and DuckDB agrees on what it is.
  let extracted;
  try {
    extracted = await connection.extractStatements(sql);
  } catch (error) {
    throw new UnsafeQueryError(`could not parse the query: ${errorMessage(error)}`);
  }
  if (extracted.count !== 1) throw new UnsafeQueryError(`only one statement is allowed (got ${extracted.count})`);
  const prepared = await extracted.prepare(0);
  try {
    const expected = explain ? duckdb.StatementType.EXPLAIN : duckdb.StatementType.SELECT;
    if (prepared.statementType !== expected) {
      const got = duckdb.StatementType[prepared.statementType] ?? String(prepared.statementType);
      throw new UnsafeQueryError(`only SELECT statements are allowed (got ${got.replace(/_STATEMENT$/, "")})`);
    }
  } finally {
    prepared.destroySync();
  }
}

type JsonObject = { [key: string]: unknown };

interface Known {
  functions: ReadonlySet<string>;
  types: ReadonlySet<string>;
}

const knownByKey = new WeakMap<object, Promise<Known>>();

/**
 * The functions and types that exist on this connection now (lower case). A
 * name that does not exist is refused: DuckDB would otherwise try to
 * auto-install (download) and load the extension that provides it
 * (autoinstall_known_extensions is on by default), e.g. for st_point(…) or
 * `::INET`.
 */
function knownNames(connection: DuckDBConnection, key: object): Promise<Known> {
  let known = knownByKey.get(key);
  if (!known) {
    known = (async () => {
      const functions = await connection.runAndReadAll("SELECT DISTINCT lower(function_name) FROM duckdb_functions()");
      const types = await connection.runAndReadAll("SELECT DISTINCT lower(type_name) FROM duckdb_types()");
      return {
        functions: new Set(functions.getRowsJson().map((row) => String(row[0]))),
        types: new Set(types.getRowsJson().map((row) => String(row[0]))),
      };
    })();
    knownByKey.set(key, known);
    known.catch(() => knownByKey.delete(key));
  }
  return known;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function serialize(connection: DuckDBConnection, sql: string): Promise<JsonObject> {
  let text: unknown;
  try {
    const reader = await connection.runAndReadAll("SELECT json_serialize_sql($1::VARCHAR)", [sql]);
    text = reader.getRows()[0]?.[0];
  } catch (error) {
    throw new UnsafeQueryError(`could not parse the query: ${errorMessage(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(text));
  } catch {
    throw new UnsafeQueryError("could not parse the query: unexpected serializer output");
  }
  if (!isObject(parsed)) throw new UnsafeQueryError("could not parse the query: unexpected serializer output");
  return parsed;
}

class Vetter {
  private readonly allowed: Set<string>;
  private readonly allowedList: string;

  constructor(
    allowedTables: readonly string[],
    private readonly known: Known,
  ) {
    this.allowed = new Set(allowedTables.map((t) => t.toLowerCase()));
    this.allowedList = allowedTables.join(", ") || "none";
  }

  /** Visits every value below `value`. `ctes`: lower-case CTE names visible here. */
  walk(value: unknown, ctes: ReadonlySet<string>): void {
    if (Array.isArray(value)) {
      for (const item of value) this.walk(item, ctes);
      return;
    }
    if (!isObject(value)) return;

    let scope = ctes;
    if ("cte_map" in value) scope = this.walkCtes(value.cte_map, ctes);

    if ("function_name" in value) this.checkFunctionName(value.function_name);
    if (value.type === "UNBOUND_TYPE_INFO") {
      // Types not built in (`::INET`): only those already loaded (JSON, GEOMETRY …).
      const name = typeof value.name === "string" ? value.name.toLowerCase() : "?";
      if (!this.known.types.has(name)) throw new UnsafeQueryError(`type ${name} is not available`);
    }

    const type = typeof value.type === "string" ? value.type : undefined;
    const isExpression = "class" in value;
    if (type === "SELECT_NODE" && !isExpression) requireTableRef(value.from_table);
    if (type !== undefined && !isExpression) {
      if (TABLE_REF_TYPES.has(type)) this.checkTableRef(type, value, scope);
      else if (OTHER_TABLE_REF_TYPES.has(type)) throw new UnsafeQueryError(`unsupported table reference ${type}`);
      else if (type.endsWith("_NODE") && !QUERY_NODE_TYPES.has(type)) throw new UnsafeQueryError(`unsupported query node ${type}`);
    }
    if ("table_name" in value && type !== "BASE_TABLE" && type !== "SHOW_REF") {
      throw new UnsafeQueryError(`unsupported table reference ${type ?? "?"}`);
    }

    for (const [k, v] of Object.entries(value)) {
      if (k === "cte_map") continue; // walked by walkCtes
      if (type === "RECURSIVE_CTE_NODE" && k === "right") {
        // Only the recursive part of WITH RECURSIVE sees the CTE itself (the
        // anchor, `left`, reads a real table of that name: DuckDB checked).
        if (typeof value.cte_name !== "string") throw new UnsafeQueryError("unexpected recursive CTE shape");
        this.walk(v, new Set([...scope, value.cte_name.toLowerCase()]));
      } else {
        this.walk(v, scope);
      }
    }
  }

  /**
   * `cte_map: { map: [{ key, value: { query, … } }] }`. The body of CTE i sees
   * the outer scope plus CTEs 0..i-1; not itself: in DuckDB 1.5
   * `WITH t AS (SELECT * FROM t)` reads a *table* t (or an outer CTE t), and
   * a later CTE's name also means a table there. Only the recursive branch of
   * a RECURSIVE_CTE_NODE sees its own CTE (see walk). The statement sees all.
   * Conservative: a name DuckDB might resolve to a CTE is at worst refused.
   */
  private walkCtes(cteMap: unknown, outer: ReadonlySet<string>): ReadonlySet<string> {
    const entries = isObject(cteMap) ? cteMap.map : undefined;
    if (!Array.isArray(entries)) throw new UnsafeQueryError("unexpected CTE shape");
    const scope = new Set(outer);
    for (const entry of entries) {
      if (!isObject(entry) || typeof entry.key !== "string") throw new UnsafeQueryError("unexpected CTE shape");
      this.walk(entry.value, new Set(scope));
      scope.add(entry.key.toLowerCase());
    }
    return scope;
  }

  private checkFunctionName(name: unknown): void {
    if (typeof name !== "string") throw new UnsafeQueryError("unexpected function shape");
    const lower = name.toLowerCase();
    const reason = DENIED_FUNCTIONS.get(lower);
    if (reason === undefined) return this.checkKnownFunction(lower);
    if (reason === READS_FILES || lower === "query" || lower === "query_table") {
      throw new UnsafeQueryError(`table function ${lower} is not allowed`);
    }
    throw new UnsafeQueryError(`function ${lower} is not allowed (${reason})`);
  }

  private checkKnownFunction(name: string): void {
    if (!this.known.functions.has(name.toLowerCase())) {
      throw new UnsafeQueryError(`function ${name.toLowerCase()} is not available`);
    }
  }

  private checkTableRef(type: string, ref: JsonObject, ctes: ReadonlySet<string>): void {
    switch (type) {
      case "BASE_TABLE":
        this.checkBaseTable(ref, ctes);
        return;
      case "TABLE_FUNCTION": {
        const fn = ref.function;
        if (!isObject(fn) || fn.class !== "FUNCTION" || typeof fn.function_name !== "string") {
          throw new UnsafeQueryError("unsupported table function call");
        }
        const name = fn.function_name.toLowerCase();
        if (!TABLE_FUNCTION_ALLOWLIST.has(name)) throw new UnsafeQueryError(`table function ${name} is not allowed`);
        return;
      }
      case "SHOW_REF": {
        if (ref.query !== null && ref.query !== undefined) return; // DESCRIBE/SUMMARIZE x: the query is walked
        const table = typeof ref.table_name === "string" ? ref.table_name : "";
        if (table === '"tables"' && !ref.catalog_name && !ref.schema_name) return; // SHOW TABLES
        throw new UnsafeQueryError(`SHOW ${table.replaceAll('"', "") || "?"} is not allowed`);
      }
      case "JOIN":
        requireTableRef(ref.left);
        requireTableRef(ref.right);
        return;
      case "PIVOT":
        requireTableRef(ref.source);
        return;
      default:
        return; // SUBQUERY, EMPTY, EXPRESSION_LIST: content is walked
    }
  }

  private checkBaseTable(ref: JsonObject, ctes: ReadonlySet<string>): void {
    const name = typeof ref.table_name === "string" ? ref.table_name : "";
    const schema = typeof ref.schema_name === "string" ? ref.schema_name : "";
    const catalog = typeof ref.catalog_name === "string" ? ref.catalog_name : "";
    const lower = name.toLowerCase();
    if (catalog === "" && schema === "" && ctes.has(lower)) return;
    if (catalog === "" && (schema === "" || schema.toLowerCase() === "main") && this.allowed.has(lower)) return;
    if (catalog === "" && schema === "" && /[./\\:]/.test(name)) {
      throw new UnsafeQueryError(`reading files or URLs is not allowed (FROM '${name}')`);
    }
    const qualified = [catalog, schema, name].filter((part) => part !== "").join(".");
    throw new UnsafeQueryError(`table ${qualified} is not allowed (allowed: ${this.allowedList})`);
  }
}

/** Where a table reference must be (from_table, JOIN sides, PIVOT source): refuse any other shape. */
function requireTableRef(value: unknown): void {
  if (!isObject(value) || "class" in value || typeof value.type !== "string" || !TABLE_REF_TYPES.has(value.type)) {
    const type = isObject(value) && typeof value.type === "string" ? value.type : "?";
    throw new UnsafeQueryError(`unsupported table reference ${type}`);
  }
}

const SELECT_LIKE_KEYWORDS = new Set(["SELECT", "WITH", "FROM", "VALUES", "TABLE", "DESCRIBE", "SHOW", "SUMMARIZE", "PIVOT", "UNPIVOT", "PIVOT_WIDER", "PIVOT_LONGER"]);
const WRITE_KEYWORDS = /\b(INSERT|UPDATE|DELETE|MERGE)\b/i;
const OBJECT_KEYWORDS = new Set(["SECRET", "TABLE", "VIEW", "MACRO", "FUNCTION", "SEQUENCE", "SCHEMA", "TYPE", "INDEX", "DATABASE"]);

/** Removes leading whitespace and SQL comments. */
function skipCommentsAndSpace(sql: string): string {
  let rest = sql;
  for (;;) {
    const trimmed = rest.trimStart();
    if (trimmed.startsWith("--")) {
      const end = trimmed.indexOf("\n");
      rest = end < 0 ? "" : trimmed.slice(end + 1);
    } else if (trimmed.startsWith("/*")) {
      const end = trimmed.indexOf("*/");
      rest = end < 0 ? "" : trimmed.slice(end + 2);
    } else {
      return trimmed;
    }
  }
}

/**
 * For messages only (safety never depends on it): how many statements `sql`
 * holds, splitting at semicolons outside strings, quoted names, comments and
 * $$-quoted text.
 */
function countStatements(sql: string): number {
  let count = 0;
  let content = false;
  let i = 0;
  const n = sql.length;
  const skipTo = (end: string, from: number) => {
    const at = sql.indexOf(end, from);
    return at < 0 ? n : at + end.length;
  };
  while (i < n) {
    const c = sql[i]!;
    if (c === ";") {
      if (content) count++;
      content = false;
      i++;
    } else if (c === "-" && sql[i + 1] === "-") {
      i = skipTo("\n", i + 2);
    } else if (c === "/" && sql[i + 1] === "*") {
      i = skipTo("*/", i + 2);
    } else if (c === "'" || c === '"') {
      content = true;
      let j = i + 1;
      while (j < n) {
        if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      i = j + 1;
    } else if (c === "$") {
      content = true;
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i));
      i = tag ? skipTo(tag[0], i + tag[0].length) : i + 1;
    } else {
      if (!/\s/.test(c)) content = true;
      i++;
    }
  }
  return count + (content ? 1 : 0);
}

/** For messages only: "INSERT", "CREATE SECRET", "EXPORT DATABASE", "WITH … DELETE". */
function describeStatement(sql: string): string {
  const words: string[] = [];
  let rest = sql;
  while (words.length < 6) {
    rest = skipCommentsAndSpace(rest);
    if (rest.startsWith("(")) {
      rest = rest.slice(1);
      continue;
    }
    const match = /^[A-Za-z_]+/.exec(rest);
    if (!match) break;
    words.push(match[0].toUpperCase());
    rest = rest.slice(match[0].length);
  }
  const [first = "?", second] = words;
  if ((first === "EXPORT" || first === "IMPORT" || first === "FORCE") && second) return `${first} ${second}`;
  if (first === "CREATE" || first === "DROP" || first === "ALTER") {
    const object = words.slice(1).find((w) => OBJECT_KEYWORDS.has(w));
    return object ? `${first} ${object}` : first;
  }
  if (first === "WITH") {
    const write = WRITE_KEYWORDS.exec(sql);
    return write ? `WITH … ${write[1]!.toUpperCase()}` : first;
  }
  return first;
}

export interface LimitedResult {
  columns: string[];
  /** Rows as JSON-safe values (BIGINT/DECIMAL as strings, timestamps as ISO strings …). */
  rows: unknown[][];
  /** True when the query had more than `maxRows` rows (only the first maxRows are returned). */
  truncated: boolean;
}

/**
 * Throws UnsafeQueryError unless DuckDB prepared the statement as a SELECT
 * (SHOW, DESCRIBE, SUMMARIZE, VALUES, static PIVOT and PRAGMAs that expand to
 * a query are SELECTs too), or as `EXPLAIN [ANALYZE] <body>` (EXPLAIN_PREFIX)
 * whose body DuckDB prepares as a SELECT: EXPLAIN ANALYZE runs its body.
 * DuckDB's own classification, independent of the AST vetting: it is what
 * refuses COPY … TO the database file itself, which DuckDB's file sandbox
 * allows (its own files are always reachable; COPY with USE_TMP_FILE false
 * overwrites it), as well as ATTACH, SET VARIABLE, CALL, CHECKPOINT, VACUUM.
 */
async function assertReadStatement(connection: DuckDBConnection, sql: string, type: number): Promise<void> {
  const duckdb = await loadDuckDB();
  const { SELECT, EXPLAIN } = duckdb.StatementType;
  if (type === SELECT) return;
  const explain = EXPLAIN_PREFIX.exec(sql);
  let got = statementTypeName(duckdb, type);
  if (type === EXPLAIN && explain) {
    const body = await connection.extractStatements(sql.slice(explain[0].length));
    if (body.count !== 1) throw new UnsafeQueryError(`only one statement is allowed (got ${body.count})`);
    const prepared = await body.prepare(0);
    try {
      if (prepared.statementType === SELECT) return;
      got = `EXPLAIN ${statementTypeName(duckdb, prepared.statementType)}`;
    } finally {
      prepared.destroySync();
    }
  }
  throw new UnsafeQueryError(`only SELECT statements are allowed (got ${got})`);
}

function statementTypeName(duckdb: DuckDBModule, type: number): string {
  return (duckdb.StatementType[type] ?? String(type)).replace(/_STATEMENT$/, "");
}

/**
 * Runs one statement (vet it first with assertSafeQuery), streaming: reading
 * stops after `maxRows` rows, so a huge result is never materialized (we chose
 * this over wrapping the SQL in `SELECT * FROM (…) LIMIT n`, which does not
 * work for DESCRIBE/SHOW/EXPLAIN and may not keep an inner ORDER BY). After
 * `timeoutMs` the query is interrupted (`connection.interrupt()`) and
 * QueryTimeoutError is thrown; the connection stays usable. Only a statement
 * DuckDB prepares as a SELECT (or an EXPLAIN of one) is run, see
 * assertReadStatement.
 *
 * The interrupt is per connection: run one query at a time on `connection`.
 * Vet `sql` with assertSafeQuery before, or run it in DuckDB's sandbox
 * (sql-sandbox.ts): even extracting statements expands PRAGMAs (and `IMPORT
 * DATABASE` reads files), so on an open instance this must not see raw input.
 * Values are converted by node-api's JsonDuckDBValueConverter (as
 * getRowsJson does): BIGINT/HUGEINT/DECIMAL become strings, timestamps ISO
 * strings, lists arrays, structs objects.
 */
export async function runLimited(
  connection: DuckDBConnection,
  sql: string,
  options: { maxRows: number; timeoutMs: number },
): Promise<LimitedResult> {
  const duckdb = await loadDuckDB();
  const maxRows = Math.max(0, Math.floor(options.maxRows));
  let timedOut = false;
  let repeat: ReturnType<typeof setInterval> | undefined;
  // Interrupt at the deadline, then again every 50 ms: an interrupt that lands
  // between two steps (prepare, execute, fetch) could otherwise be missed.
  const timer = setTimeout(() => {
    timedOut = true;
    connection.interrupt();
    repeat = setInterval(() => connection.interrupt(), 50);
  }, options.timeoutMs);
  const checkTime = () => {
    if (timedOut) throw new QueryTimeoutError(options.timeoutMs);
  };
  try {
    const extracted = await connection.extractStatements(sql);
    if (extracted.count !== 1) throw new UnsafeQueryError(`only one statement is allowed (got ${extracted.count})`);
    checkTime();
    const prepared = await extracted.prepare(0);
    let result: DuckDBResult;
    try {
      checkTime();
      await assertReadStatement(connection, sql, prepared.statementType);
      checkTime();
      result = await prepared.stream();
    } finally {
      prepared.destroySync();
    }
    checkTime();
    const columns = result.columnNames();
    const rows: unknown[][] = [];
    let truncated = false;
    for (;;) {
      const chunk = await result.fetchChunk();
      checkTime();
      if (!chunk || chunk.rowCount === 0) break;
      const room = maxRows - rows.length;
      if (chunk.rowCount > room) {
        truncated = true;
        for (let i = 0; i < room; i++) rows.push(chunk.convertRowValues(i, duckdb.JsonDuckDBValueConverter));
        break;
      }
      for (const row of chunk.convertRows(duckdb.JsonDuckDBValueConverter)) rows.push(row);
    }
    return { columns, rows, truncated };
  } catch (error) {
    if (timedOut && !(error instanceof UnsafeQueryError)) throw new QueryTimeoutError(options.timeoutMs);
    throw error;
  } finally {
    clearTimeout(timer);
    if (repeat) clearInterval(repeat);
  }
}
