import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REQUEST_COLUMNS, type RequestRecord } from "../../src/record.ts";
import { exportParquet } from "../../src/sinks/duckdb/parquet-export.ts";
import { pruneOlderThan } from "../../src/sinks/duckdb/retention.ts";
import { createViews, VIEW_NAMES } from "../../src/sinks/duckdb/views.ts";
import { tempDir } from "../support/gateway.ts";

// ---------------------------------------------------------------- data

const DAY_MS = 86_400_000;
const BASE = Date.UTC(2026, 0, 10); // 2026-01-10T00:00:00Z
const DAYS = 6;
const BILLABLE = new Set(["chat", "generate_content", "embeddings", "text_completion"]);

let seed = 20260110;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const chance = (p: number) => rand() < p;
const int = (max: number) => Math.floor(rand() * max);

const MODELS: Record<string, string[]> = {
  anthropic: ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"],
  openai: ["gpt-5", "gpt-5-mini", "text-embedding-3-small"],
  gemini: ["gemini-2.5-pro", "gemini-2.5-flash"],
};
const OPERATIONS: Record<string, string[]> = {
  anthropic: ["chat", "chat", "chat", "chat", "count_tokens", "models"],
  openai: ["chat", "chat", "chat", "embeddings", "text_completion", "models"],
  gemini: ["generate_content", "generate_content", "generate_content", "models"],
};
const SESSIONS = Array.from({ length: 25 }, (_, i) => `sess-${String(i).padStart(2, "0")}`);

const nanoToDecimal = (nano: bigint) => `${nano / 1_000_000_000n}.${(nano % 1_000_000_000n).toString().padStart(9, "0")}`;

const blank = Object.fromEntries(REQUEST_COLUMNS.map(([name]) => [name, null])) as unknown as RequestRecord;

function makeRecord(i: number, at: number): RequestRecord {
  const provider = pick(Object.keys(MODELS));
  const operation = pick(OPERATIONS[provider]!);
  const model = operation === "models" ? null : pick(MODELS[provider]!);
  const status = chance(0.08) ? pick([400, 429, 500, 529]) : 200;
  const errorType = status >= 400 ? `http_${status}` : chance(0.04) ? "overloaded_error" : null;
  const hasUsage = operation !== "models" && !chance(0.07);
  const tok = (p: number, max: number) => (hasUsage && chance(p) ? int(max) : null);
  const input = tok(0.95, 50_000);
  const output = tok(0.9, 4_000);
  let cost: string | null = null;
  if (operation === "models" || operation === "count_tokens") cost = chance(0.5) ? "0.000000000" : null;
  else if (hasUsage && chance(0.75)) cost = nanoToDecimal(BigInt(int(90_000_000)) * 1_000n + BigInt(int(1000)) + (chance(0.1) ? 4_000_000_000n : 0n));
  const sessionId = chance(0.8) ? pick(SESSIONS) : null;
  return {
    ...blank,
    id: `rec-${String(i).padStart(4, "0")}`,
    started_at: new Date(at).toISOString(),
    duration_ms: Math.round(rand() * 5_000_000) / 1000,
    ttfb_ms: chance(0.3) ? null : Math.round(rand() * 900_000) / 1000,
    provider,
    operation,
    // What the recorder learns from the provider: these operations charge for tokens.
    billable: BILLABLE.has(operation),
    method: operation === "models" ? "GET" : "POST",
    path: `/${provider}/v1/${operation}`,
    status,
    model,
    response_model: model && chance(0.5) ? `${model}-20250101` : null,
    streamed: chance(0.5),
    input_tokens: input,
    cache_read_tokens: input !== null && chance(0.6) ? Math.min(input, int(40_000)) : null,
    cache_write_tokens: tok(0.4, 10_000),
    output_tokens: output,
    reasoning_tokens: tok(0.3, 2_000),
    cost_usd: cost,
    cost_source: cost === null ? null : "price_table",
    session_id: sessionId,
    user_id: chance(0.6) ? pick(["alice", "bob", "carol"]) : null,
    project: chance(0.5) ? pick(["web", "cli"]) : null,
    tags: chance(0.5) ? pick([["a"], ["a", "b"], [], ["x,y", "it's"]]) : null,
    finish_reason: status === 200 ? "stop" : null,
    error_type: errorType,
    error_message: errorType ? "boom" : null,
    request_bytes: int(100_000),
    response_bytes: int(100_000),
    usage_raw: hasUsage ? JSON.stringify({ input_tokens: input, output_tokens: output, nested: { a: [1, 2] } }) : null,
    truncated: false,
  };
}

/** ~400 records over 6 UTC days, with rows at the edges of days (a time zone bug moves them). */
function makeRecords(): RequestRecord[] {
  const times: number[] = [];
  for (let i = 0; i < 400; i++) times.push(BASE + Math.floor(rand() * DAYS * DAY_MS));
  for (let d = 0; d < DAYS; d++) times.push(BASE + d * DAY_MS, BASE + (d + 1) * DAY_MS - 1);
  const records = times.map((t, i) => makeRecord(i, t));
  // Sessions whose earliest chat request has a logged body (body logging on).
  const withBody = [...SESSIONS.slice(0, 3)].map((session) =>
    records.filter((r) => r.session_id === session).sort((a, b) => a.started_at.localeCompare(b.started_at))[0]!,
  );
  const bodies = [
    { model: "claude", messages: [{ role: "user", content: [{ type: "text", text: "<system-reminder>ctx</system-reminder>" }, { type: "text", text: "Fix the\n  failing test" }] }] },
    { model: "gpt", messages: [{ role: "system", content: "be brief" }, { role: "user", content: "What is DuckDB?" }] },
    { contents: [{ role: "user", parts: [{ text: "Hola Gemini" }] }] },
  ];
  // What the recorder reads from them (providers/prompt-preview.ts, tested in tests/unit/prompt-preview.test.ts).
  const previews = ["Fix the failing test", "What is DuckDB?", "Hola Gemini"];
  withBody.forEach((record, i) => {
    record.operation = "chat";
    record.request_body = JSON.stringify(bodies[i]);
    record.prompt_preview = previews[i]!;
  });
  return records;
}

// ---------------------------------------------------------------- independent computations

type Rec = RequestRecord;
const isError = (r: Rec) => r.status >= 400 || r.error_type !== null;
const isUnpriced = (r: Rec) => r.cost_usd === null && r.billable && (r.input_tokens !== null || r.output_tokens !== null);
const modelOf = (r: Rec) => r.response_model ?? r.model;
const dayOf = (r: Rec) => r.started_at.slice(0, 10);
const nano = (decimal: string) => {
  const [whole, frac = ""] = decimal.split(".");
  return BigInt(whole!) * 1_000_000_000n + BigInt(frac.padEnd(9, "0"));
};
const costSum = (rows: Rec[]) => {
  const priced = rows.filter((r) => r.cost_usd !== null);
  return priced.length ? nanoToDecimal(priced.reduce((s, r) => s + nano(r.cost_usd!), 0n)) : null;
};
const TOKEN_KINDS = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"] as const;
const tokenSum = (rows: Rec[], kind: (typeof TOKEN_KINDS)[number]) => {
  const present = rows.filter((r) => r[kind] !== null);
  return present.length ? present.reduce((s, r) => s + r[kind]!, 0) : null;
};
function quantileCont(values: (number | null)[], q: number): number | null {
  const xs = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (!xs.length) return null;
  const pos = (xs.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return xs[lo]! + (xs[hi]! - xs[lo]!) * (pos - lo);
}
function groupBy<K>(rows: Rec[], key: (r: Rec) => K): Map<string, Rec[]> {
  const groups = new Map<string, Rec[]>();
  for (const r of rows) {
    const k = JSON.stringify(key(r));
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return groups;
}
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

// ---------------------------------------------------------------- DuckDB helpers

const createTableSql = `CREATE TABLE IF NOT EXISTS requests (${REQUEST_COLUMNS.map(([name, type]) => `${name} ${type}`).join(", ")})`;
const jsonColumns = `{${REQUEST_COLUMNS.map(([name, type]) => `'${name}': '${type === "JSON" ? "VARCHAR" : type}'`).join(", ")}}`;

async function insert(connection: DuckDBConnection, dir: string, records: Rec[]): Promise<void> {
  const file = join(dir, `batch-${Math.random().toString(36).slice(2)}.ndjson`);
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  await connection.run(`INSERT INTO requests SELECT * FROM read_json('${file}', format = 'newline_delimited', columns = ${jsonColumns})`);
  rmSync(file);
}

async function all(connection: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

async function openFile(path: string) {
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  return {
    instance,
    connection,
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

// ---------------------------------------------------------------- tests

const records = makeRecords();
let dir: string;
let db: Awaited<ReturnType<typeof openFile>>;
let connection: DuckDBConnection;

beforeAll(async () => {
  dir = tempDir("loupe-store-extras-");
  db = await openFile(join(dir, "loupe.duckdb"));
  connection = db.connection;
  // A zone far from UTC: days and partitions must still be UTC days.
  await connection.run("SET TimeZone = 'Asia/Tokyo'");
  await connection.run(createTableSql);
  await createViews(connection);
  await createViews(connection); // idempotent
  await insert(connection, dir, records);
});

afterAll(() => {
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("views", () => {
  test("the data covers what the views must handle", () => {
    expect(records.length).toBeGreaterThan(400);
    expect(records.some(isError)).toBe(true);
    expect(records.some(isUnpriced)).toBe(true);
    expect(records.some((r) => r.session_id === null)).toBe(true);
    expect(new Set(records.map(dayOf)).size).toBe(DAYS);
  });

  test("all views exist and are queryable on an empty table", async () => {
    const empty = await openFile(":memory:");
    await empty.connection.run(createTableSql);
    await createViews(empty.connection);
    for (const view of VIEW_NAMES) expect(await all(empty.connection, `SELECT * FROM ${view}`)).toEqual([]);
    empty.close();
  });

  test("sessions", async () => {
    const rows = await all(connection, "SELECT *, epoch_ms(first_at) AS first_ms, epoch_ms(last_at) AS last_ms FROM sessions");
    const expected = groupBy(
      records.filter((r) => r.session_id !== null),
      (r) => r.session_id,
    );
    expect(rows.length).toBe(expected.size);
    // most recent first
    const lasts = rows.map((r) => Number(r.last_ms));
    expect(lasts).toEqual([...lasts].sort((a, b) => b - a));
    for (const row of rows) {
      const group = expected.get(JSON.stringify(row.session_id))!;
      expect(group).toBeDefined();
      const starts = group.map((r) => Date.parse(r.started_at));
      const ends = group.map((r) => Date.parse(r.started_at) + r.duration_ms);
      expect(num(row.calls)).toBe(group.length);
      expect(Number(row.first_ms)).toBe(Math.min(...starts));
      expect(Number(row.last_ms)).toBe(Math.max(...starts));
      expect(row.duration_s as number).toBeCloseTo((Math.max(...ends) - Math.min(...starts)) / 1000, 3);
      expect(row.providers).toEqual([...new Set(group.map((r) => r.provider))].sort());
      expect(row.models).toEqual([...new Set(group.map(modelOf).filter((m) => m !== null))].sort());
      for (const kind of TOKEN_KINDS) expect(num(row[kind])).toBe(tokenSum(group, kind));
      expect(row.cost_usd).toBe(costSum(group));
      expect(num(row.unpriced_calls)).toBe(group.filter(isUnpriced).length);
      expect(num(row.errors)).toBe(group.filter(isError).length);
      const users = group.map((r) => r.user_id).filter((u) => u !== null);
      if (users.length) expect(users).toContain(row.user_id as string);
      else expect(row.user_id).toBeNull();
      const projects = group.map((r) => r.project).filter((p) => p !== null);
      if (projects.length) expect(projects).toContain(row.project as string);
      else expect(row.project).toBeNull();
    }
    const prompts = Object.fromEntries(rows.map((r) => [r.session_id, r.first_prompt]));
    expect(prompts).toMatchObject({ "sess-00": "Fix the failing test", "sess-01": "What is DuckDB?", "sess-02": "Hola Gemini", "sess-03": null });
  });

  test("daily_usage: UTC day x provider x model", async () => {
    const rows = await all(connection, "SELECT * EXCLUDE (day), day::VARCHAR AS day FROM daily_usage");
    const expected = groupBy(records, (r) => [dayOf(r), r.provider, modelOf(r)]);
    expect(rows.length).toBe(expected.size);
    expect(rows.reduce((s, r) => s + Number(r.calls), 0)).toBe(records.length);
    for (const row of rows) {
      const group = expected.get(JSON.stringify([row.day, row.provider, row.model]))!;
      expect(group).toBeDefined();
      expect(num(row.calls)).toBe(group.length);
      expect(num(row.errors)).toBe(group.filter(isError).length);
      for (const kind of TOKEN_KINDS) expect(num(row[kind])).toBe(tokenSum(group, kind));
      expect(row.cost_usd).toBe(costSum(group));
      expect(num(row.unpriced_calls)).toBe(group.filter(isUnpriced).length);
      for (const [column, field, q] of [
        ["p50_duration_ms", "duration_ms", 0.5],
        ["p95_duration_ms", "duration_ms", 0.95],
        ["p50_ttfb_ms", "ttfb_ms", 0.5],
        ["p95_ttfb_ms", "ttfb_ms", 0.95],
      ] as const) {
        const want = quantileCont(group.map((r) => r[field]), q);
        if (want === null) expect(row[column]).toBeNull();
        else expect(row[column] as number).toBeCloseTo(want, 6);
      }
    }
    // the whole-day total matches a direct query too
    const [direct] = await all(connection, "SELECT sum(cost_usd)::VARCHAR AS c FROM requests");
    const [fromView] = await all(connection, "SELECT sum(cost_usd)::VARCHAR AS c FROM daily_usage");
    expect(fromView!.c).toBe(direct!.c);
    expect(direct!.c).toBe(costSum(records));
  });

  test("model_usage: provider x model", async () => {
    const rows = await all(connection, "SELECT *, epoch_ms(first_seen) AS first_ms, epoch_ms(last_seen) AS last_ms FROM model_usage");
    const expected = groupBy(records, (r) => [r.provider, modelOf(r)]);
    expect(rows.length).toBe(expected.size);
    for (const row of rows) {
      const group = expected.get(JSON.stringify([row.provider, row.model]))!;
      expect(group).toBeDefined();
      expect(num(row.calls)).toBe(group.length);
      expect(num(row.errors)).toBe(group.filter(isError).length);
      for (const kind of TOKEN_KINDS) expect(num(row[kind])).toBe(tokenSum(group, kind));
      const cost = costSum(group);
      expect(row.cost_usd).toBe(cost);
      const priced = group.filter((r) => r.cost_usd !== null).length;
      expect(num(row.priced_calls)).toBe(priced);
      expect(num(row.unpriced_calls)).toBe(group.filter(isUnpriced).length);
      if (cost === null) expect(row.avg_cost_usd).toBeNull();
      else expect(Math.abs(Number(row.avg_cost_usd) - Number(nano(cost)) / priced / 1e9)).toBeLessThanOrEqual(1e-9);
      const input = tokenSum(group, "input_tokens");
      const cacheRead = tokenSum(group, "cache_read_tokens");
      if (!input) expect(row.cache_hit_ratio).toBeNull();
      else if (cacheRead === null) expect(row.cache_hit_ratio).toBeNull();
      else expect(row.cache_hit_ratio as number).toBeCloseTo(cacheRead / input, 12);
      const starts = group.map((r) => Date.parse(r.started_at));
      expect(Number(row.first_ms)).toBe(Math.min(...starts));
      expect(Number(row.last_ms)).toBe(Math.max(...starts));
    }
  });
});

// ---------------------------------------------------------------- Parquet

const days = [...new Set(records.map(dayOf))].sort();

async function readBack(out: string) {
  const fresh = await openFile(":memory:");
  const glob = `${out}/**/*.parquet`;
  const [stats] = await all(
    fresh.connection,
    `SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS ids, sum(cost_usd)::VARCHAR AS cost,
       count(*) FILTER (WHERE strftime(timezone('UTC', started_at), '%Y-%m-%d') <> date::VARCHAR)::INTEGER AS misplaced,
       any_value(typeof(cost_usd)) AS cost_type, any_value(typeof(tags)) AS tags_type, any_value(typeof(usage_raw)) AS usage_type,
       any_value(typeof(date)) AS date_type, any_value(typeof(started_at)) AS started_type,
       bit_xor(hash(id, started_at, cost_usd, tags, usage_raw::VARCHAR, input_tokens, duration_ms, session_id)) AS digest
     FROM read_parquet('${glob}', hive_partitioning = true)`,
  );
  fresh.close();
  return stats!;
}

const sourceDigest = async () =>
  (
    await all(
      connection,
      `SELECT bit_xor(hash(id, started_at, cost_usd, tags, usage_raw::VARCHAR, input_tokens, duration_ms, session_id)) AS digest, count(*)::INTEGER AS n FROM requests`,
    )
  )[0]!;

const listTree = (out: string) =>
  Object.fromEntries(
    readdirSync(out)
      .sort()
      .map((p) => [p, readdirSync(join(out, p)).sort()]),
  );

describe("Parquet export", () => {
  let out: string;
  beforeAll(() => {
    out = join(dir, "export");
  });

  test("exports every record, date-partitioned, with exact types", async () => {
    const result = await exportParquet(connection, { dir: out });
    expect(result.rows).toBe(records.length);
    expect(result.dir).toBe(out);
    expect(readdirSync(out).sort()).toEqual(days.map((d) => `date=${d}`));
    const tree = listTree(out);
    expect(Object.values(tree).flat().length).toBe(result.files);
    for (const files of Object.values(tree)) for (const f of files) expect(f).toMatch(/^requests-\d+\.parquet$/);

    const back = await readBack(out);
    expect(back.n).toBe(records.length);
    expect(back.ids).toBe(records.length);
    expect(back.cost).toBe(costSum(records));
    expect(back.misplaced).toBe(0);
    expect(back).toMatchObject({ cost_type: "DECIMAL(38,9)", tags_type: "VARCHAR[]", usage_type: "VARCHAR", date_type: "DATE", started_type: "TIMESTAMP WITH TIME ZONE" });
    expect(back.digest).toBe((await sourceDigest()).digest);
  });

  test("re-export since a day replaces only that day on, keeps older partitions, no duplicates", async () => {
    const sinceDay = days[3]!;
    const older = days.filter((d) => d < sinceDay);
    const snapshot = (d: string) =>
      readdirSync(join(out, `date=${d}`)).map((f) => {
        const path = join(out, `date=${d}`, f);
        return { f, mtime: statSync(path).mtimeMs, ino: statSync(path).ino, bytes: readFileSync(path) };
      });
    const before = Object.fromEntries(older.map((d) => [d, snapshot(d)]));
    // Older files must not even be rewritten: make any rewrite visible in mtime.
    for (const d of older) for (const { f } of before[d]!) utimesSync(join(out, `date=${d}`, f), new Date(0), new Date(0));

    // New rows arrive, early on the since day and on the last day; a crashed run left a stale temp file.
    const added = [makeRecord(9001, Date.parse(`${sinceDay}T00:00:01Z`)), makeRecord(9002, Date.parse(`${days.at(-1)}T12:00:00Z`))];
    await insert(connection, dir, added);
    const stale = join(out, `date=${days.at(-1)}`, ".loupe-deadbeef-0.parquet.tmp");
    writeFileSync(stale, "partial");
    utimesSync(stale, new Date(Date.now() - 2 * 3_600_000), new Date(Date.now() - 2 * 3_600_000));

    // `since` mid-day: rounded down to the day, so the day's earlier rows stay in its partition.
    const result = await exportParquet(connection, { dir: out, since: new Date(`${sinceDay}T15:30:00Z`) });
    const all2 = [...records, ...added];
    expect(result.rows).toBe(all2.filter((r) => dayOf(r) >= sinceDay).length);

    for (const d of older) {
      const now = readdirSync(join(out, `date=${d}`));
      expect(now.sort()).toEqual(before[d]!.map((x) => x.f).sort());
      for (const { f, ino, bytes } of before[d]!) {
        const path = join(out, `date=${d}`, f);
        expect(statSync(path).mtimeMs).toBe(0);
        expect(statSync(path).ino).toBe(ino);
        expect(readFileSync(path).equals(bytes)).toBe(true);
      }
    }
    expect(existsSync(stale)).toBe(false);
    for (const files of Object.values(listTree(out))) for (const f of files) expect(f).toMatch(/^requests-\d+\.parquet$/);

    const back = await readBack(out);
    expect(back.n).toBe(all2.length);
    expect(back.ids).toBe(all2.length);
    expect(back.cost).toBe(costSum(all2));
    expect(back.digest).toBe((await sourceDigest()).digest);

    // And a full re-export is idempotent.
    const again = await exportParquet(connection, { dir: out });
    expect(again.rows).toBe(all2.length);
    expect((await readBack(out)).n).toBe(all2.length);
  });

  test("exporting since a day after all data writes nothing and deletes nothing", async () => {
    const tree = listTree(out);
    const result = await exportParquet(connection, { dir: out, since: new Date(BASE + 30 * DAY_MS) });
    expect(result).toEqual({ files: 0, rows: 0, dir: out });
    expect(listTree(out)).toEqual(tree);
  });

  test("a consistent snapshot while another connection keeps appending", async () => {
    const target = join(dir, "export-live");
    const writer = await db.instance.connect(); // the gateway's appends, on their own connection
    const [{ n: before }] = (await all(connection, "SELECT count(*)::INTEGER AS n FROM requests")) as [{ n: number }];
    let i = 20_000;
    let stop = false;
    const appending = (async () => {
      while (!stop) await insert(writer, dir, Array.from({ length: 20 }, () => makeRecord(i++, BASE + int(DAYS * DAY_MS))));
    })();
    const result = await exportParquet(connection, { dir: target });
    stop = true;
    await appending;
    writer.closeSync();
    const back = await readBack(target);
    expect(back.n).toBe(result.rows);
    expect(back.ids).toBe(result.rows);
    expect(result.rows).toBeGreaterThanOrEqual(before);
    expect(i).toBeGreaterThan(20_000); // appends really ran alongside
  });

  test("rejects an invalid since", async () => {
    await expect(exportParquet(connection, { dir: join(dir, "x"), since: new Date("nope") })).rejects.toThrow(RangeError);
  });
});

// ---------------------------------------------------------------- retention

describe("retention", () => {
  test("rejects days that are not a positive integer", async () => {
    for (const days of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(pruneOlderThan(connection, days)).rejects.toThrow(RangeError);
    }
  });

  test("deletes exactly the rows older than now - days", async () => {
    const rows = (await all(connection, "SELECT id, epoch_ms(started_at) AS ms FROM requests")).map((r) => ({ id: String(r.id), ms: Number(r.ms) }));
    const now = new Date(BASE + 4 * DAY_MS + 7 * 3_600_000);
    const cutoff = now.getTime() - 2 * DAY_MS;
    const old = rows.filter((r) => r.ms < cutoff);
    expect(old.length).toBeGreaterThan(0);
    expect(old.length).toBeLessThan(rows.length);

    expect(await pruneOlderThan(connection, 2, now)).toBe(old.length);
    const left = (await all(connection, "SELECT id, epoch_ms(started_at) AS ms FROM requests")).map((r) => String(r.id));
    expect(left.sort()).toEqual(rows.filter((r) => r.ms >= cutoff).map((r) => r.id).sort());
    // Running again deletes nothing; the views follow.
    expect(await pruneOlderThan(connection, 2, now)).toBe(0);
    const [{ n }] = (await all(connection, "SELECT sum(calls)::INTEGER AS n FROM daily_usage")) as [{ n: number }];
    expect(n).toBe(left.length);
  });

  test("a row exactly at the cutoff is kept", async () => {
    const scratch = await openFile(":memory:");
    await scratch.connection.run(createTableSql);
    const now = new Date(BASE + 10 * DAY_MS);
    const at = (ms: number) => makeRecord(ms, ms);
    mkdirSync(join(dir, "scratch"), { recursive: true });
    await insert(scratch.connection, join(dir, "scratch"), [at(now.getTime() - DAY_MS), at(now.getTime() - DAY_MS - 1), at(now.getTime())]);
    expect(await pruneOlderThan(scratch.connection, 1, now)).toBe(1);
    scratch.close();
  });
});
