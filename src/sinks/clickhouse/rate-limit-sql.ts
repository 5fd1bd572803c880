import { literal } from "./clickhouse-store.ts";

/**
 * The rate-limit headers of the calls (column `ratelimit`, the recorder's JSON
 * text `{"organization"?: "…", "headers": {"<name>": "<value>", …}}`) as
 * DuckDB's rateLimits reads them with its JSON functions, in SQL that
 * ClickHouse 18.16 runs: it has no JSON paths (JSONExtract came in 19.x), so
 * regular expressions cut the `headers` object into its `"name":"value"`
 * pairs, and visitParamExtractString (which unescapes) reads each string.
 * Values that are not strings are skipped (the recorder writes strings only).
 */

/** A JSON string, quotes and escapes included. */
const STRING = String.raw`"(?:[^"\\]|\\.)*"`;
/** The `headers` object; its content (strings, and whatever is not a quote or a brace) in group 1. */
const HEADERS = String.raw`"headers"\s*:\s*\{((?:[^"}]|` + STRING + String.raw`)*)\}`;
/** One `"name":"value"` pair. */
const PAIR = String.raw`(` + STRING + String.raw`\s*:\s*` + STRING + String.raw`)`;

/** The text of the JSON string `quoted` (with its quotes), unescaped. */
const unquote = (quoted: string) => `visitParamExtractString(concat('{"s":', ${quoted}, '}'), 's')`;

/** The top-level `organization` (the headers object taken out first, so a header of that name is never read); NULL when absent or null. */
const ORGANIZATION = (() => {
  const outer = `replaceRegexpOne(ratelimit, ${literal(HEADERS)}, '"headers":{}')`;
  return `if(visitParamExtractRaw(${outer}, 'organization') IN ('', 'null'), NULL, visitParamExtractString(${outer}, 'organization'))`;
})();

/**
 * Each header's value in the group's latest call that carried it (argMax), one
 * row per group with the names and values as two arrays. With `bucketUs`: per
 * bucket, provider, organization and gateway key (columns _bucket, provider,
 * _organization, key_id); without: per provider and organization, with the
 * keys seen (_key_ids, sorted). Both give _last_us, _names, _values.
 */
export function rateLimitSql(table: string, whereSql: string, { bucketUs }: { bucketUs?: number }): string {
  const groups = bucketUs === undefined ? ["provider", "_organization"] : ["_bucket", "provider", "_organization", "key_id"];
  const keys = groups.join(", ");
  const pairs = `extractAll(extract(coalesce(ratelimit, ''), ${literal(HEADERS)}), ${literal(PAIR)})`;
  const order = bucketUs === undefined ? "provider, _organization NULLS FIRST" : "_bucket, provider, _organization NULLS FIRST, key_id NULLS FIRST";
  return `
    SELECT ${keys}, max(_seen) AS _last_us, groupArray(_name) AS _names, groupArray(_value) AS _values
      ${bucketUs === undefined ? ", arraySort(groupUniqArrayArray(_keys)) AS _key_ids" : ""}
    FROM (
      SELECT ${keys}, _name, argMax(_value, started_at_us) AS _value, max(started_at_us) AS _seen, groupUniqArray(key_id) AS _keys
      FROM (
        SELECT started_at_us, provider, key_id, ${ORGANIZATION} AS _organization,
          ${bucketUs === undefined ? "" : `intDiv(started_at_us, ${bucketUs}) AS _bucket,`}
          ${unquote(`extract(_pair, ${literal(`^(${STRING})`)})`)} AS _name,
          ${unquote(`extract(_pair, ${literal(String.raw`^` + STRING + String.raw`\s*:\s*(` + STRING + `)$`)})`)} AS _value
        FROM ${table} ARRAY JOIN ${pairs} AS _pair
        ${whereSql})
      GROUP BY ${keys}, _name)
    GROUP BY ${keys} ORDER BY ${order}`;
}
