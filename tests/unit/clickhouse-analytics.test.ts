import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DuckDBInstance } from "@duckdb/node-api";
import { encodeCursor, InvalidCursorError } from "../../src/sinks/analytics-cursor.ts";
import type { AnalyticsStore, Bucket, GroupBy, Page, RequestFilter, SortField } from "../../src/sinks/analytics.ts";
import { createClickHouseAnalytics, type ClickHouseSource } from "../../src/sinks/clickhouse/clickhouse-analytics.ts";
import { toClickHouseRow } from "../../src/sinks/clickhouse/clickhouse-rows.ts";
import { openClickHouseStore, type ClickHouseStore } from "../../src/sinks/clickhouse/clickhouse-store.ts";
import { doubleText, parseInstantMicros, timestampText, timestamptzText } from "../../src/sinks/clickhouse/duckdb-text.ts";
import { promptOf } from "../../src/sinks/clickhouse/first-prompt.ts";
import { openDuckDBStore, type DuckDBStore } from "../../src/sinks/duckdb/duckdb-store.ts";
import { analyticsRecords, END, MODELLESS_SESSION, PROMPT_SESSION } from "../support/analytics-records.ts";
import { openChdbLog, type ChdbLog } from "../support/chdb.ts";
import { startClickHouse, type ClickHouseServer } from "../support/clickhouse.ts";
import { CLAUDE_SESSION } from "../support/dashboard-seed.ts";

/**
 * The ClickHouse analytics answer as DuckDB's do, for the same records: every
 * AnalyticsStore method over a spread of filters, sorts, pages, buckets and
 * groupings, compared whole (toEqual) against DuckDB, on Debian's
 * clickhouse-server 18.16 and on today's ClickHouse (chdb). Both ClickHouse
 * tables also hold a second copy of some records, as a replay that slipped
 * through would leave: the answers must still count each record once.
 */

const records = analyticsRecords();
const DUPLICATED = records.slice(0, 12);
/** The tests that ask many questions (every session, every record, every page) get longer than bun's 5 s. */
const MANY = 60_000;
const h = (hoursBeforeEnd: number) => new Date(END - hoursBeforeEnd * 3_600_000).toISOString();

let duck: DuckDBStore;
let server: ClickHouseServer;
let store: ClickHouseStore;
let chdb: ChdbLog;
const engines: Record<string, () => ClickHouseSource> = {
  "ClickHouse 18.16": () => store,
  "ClickHouse (chdb)": () => chdb,
};

beforeAll(async () => {
  duck = await openDuckDBStore(":memory:");
  await duck.append(records.map((r) => JSON.stringify(r)).join("\n"));
  server = await startClickHouse();
  store = await openClickHouseStore({ url: server.url, database: "loupe", user: server.user, password: server.password });
  await store.insert(records.map(toClickHouseRow));
  await store.insert(DUPLICATED.map(toClickHouseRow));
  chdb = openChdbLog();
  chdb.insert(records);
  chdb.insert(DUPLICATED);
});

afterAll(async () => {
  await chdb?.close();
  await store?.close();
  await server?.dispose();
  await duck?.close();
});

const FILTERS: [string, RequestFilter][] = [
  ["everything", {}],
  ["a 6-hour window", { from: h(12), to: h(6) }],
  ["from a date", { from: "2026-11-30" }],
  ["to with an offset", { to: "2026-12-01T09:30:00+02:00" }],
  ["provider", { provider: "anthropic" }],
  ["model (requested or responding)", { model: "claude-sonnet-4-5" }],
  ["ok", { status: "ok" }],
  ["errors", { status: "error" }],
  ["status 429", { status: 429 }],
  ["session", { session: CLAUDE_SESSION }],
  ["user", { user: "user-1" }],
  ["project", { project: "alpha" }],
  ["tag", { tag: "ci" }],
  ["min cost", { minCost: "0.01" }],
  ["streamed", { streamed: true }],
  ["not streamed", { streamed: false }],
  ["unpriced", { unpriced: true }],
  ["not unpriced", { unpriced: false }],
  ["combined", { provider: "openai", streamed: false, from: h(18) }],
  ["no match", { provider: "nobody" }],
];

/** Every page of a listing, cursors included. */
async function pages(a: AnalyticsStore, filter: RequestFilter, sort: SortField, order: "asc" | "desc", limit: number): Promise<Page[]> {
  const out: Page[] = [];
  let cursor: string | undefined;
  do {
    const page = await a.listRequests(filter, { cursor, limit, sort, order });
    out.push(page);
    cursor = page.next_cursor ?? undefined;
  } while (cursor && out.length < 100);
  return out;
}

async function sessionPages(a: AnalyticsStore, filter: RequestFilter, limit: number): Promise<Page[]> {
  const out: Page[] = [];
  let cursor: string | undefined;
  do {
    const page = await a.sessions(filter, { cursor, limit });
    out.push(page);
    cursor = page.next_cursor ?? undefined;
  } while (cursor && out.length < 100);
  return out;
}

/** DuckDB leaves the order of breakdown ties (same cost and count) open: both sides sorted fully, ClickHouse's checked to be in that order already. */
type Ranked = { cost_usd: string; requests: number; provider: string; model?: string | null };
const byBreakdownOrder = (a: Ranked, b: Ranked) => {
  const cost = Number(b.cost_usd) - Number(a.cost_usd);
  if (cost !== 0) return cost;
  if (a.requests !== b.requests) return b.requests - a.requests;
  return JSON.stringify([a.provider, a.model ?? ""]) < JSON.stringify([b.provider, b.model ?? ""]) ? -1 : 1;
};
const byName = (a: { provider: string; model: string }, b: { provider: string; model: string }) => (`${a.provider}/${a.model}` < `${b.provider}/${b.model}` ? -1 : 1);

describe("the records in each store", () => {
  test("DuckDB holds every record; each ClickHouse table holds some twice", async () => {
    expect((await duck.analytics.summary({})).totals.requests).toBe(records.length);
    for (const source of [store, chdb]) {
      const [row] = await source.rows<{ n: number }>(`SELECT count() AS n FROM ${source.table}`);
      expect(row!.n).toBe(records.length + DUPLICATED.length);
    }
  });

  test("without FINAL the duplicates count twice (so the comparisons below do exercise it)", async () => {
    const loose = await createClickHouseAnalytics(store, { final: false }).summary({});
    expect(loose.totals.requests).toBe(records.length + DUPLICATED.length);
  });
});

for (const [engine, source] of Object.entries(engines)) {
  describe(`${engine} answers as DuckDB`, () => {
    let ch: AnalyticsStore;
    beforeAll(() => {
      ch = createClickHouseAnalytics(source());
    });
    /** Asks both stores; the answers (normalised where DuckDB leaves an order open) must be equal. Returns DuckDB's. */
    const same = async <T, N = T>(ask: (a: AnalyticsStore) => Promise<T>, normalise: (value: T) => N = (v) => v as unknown as N): Promise<N> => {
      const expected = normalise(await ask(duck.analytics));
      expect(normalise(await ask(ch))).toEqual(expected as never);
      return expected;
    };

    test.each(FILTERS)("summary: %s", async (_, filter) => {
      await same((a) => a.summary(filter), (s) => ({ ...s, cacheReads: [...s.cacheReads].sort(byName) }));
    });

    test.each(FILTERS)("breakdown by model and by provider: %s", async (_, filter) => {
      for (const by of ["model", "provider"] as const) {
        const mine = await ch.breakdown(filter, by);
        expect(mine).toEqual([...mine].sort(byBreakdownOrder));
        await same((a) => a.breakdown(filter, by), (rows) => [...rows].sort(byBreakdownOrder));
      }
    });

    test.each(FILTERS)("users and projects: %s", async (_, filter) => {
      await same((a) => a.users(filter));
      await same((a) => a.projects(filter));
    });

    test.each(FILTERS)("sessions, every page: %s", async (name, filter) => {
      const expected = await same((a) => sessionPages(a, filter, 4));
      // (No 429 came in a session.)
      if (!["no match", "status 429"].includes(name)) expect(expected[0]!.items.length).toBeGreaterThan(0);
    }, MANY);

    test.each(FILTERS)("timeseries per hour, ungrouped and per model with top 3: %s", async (_, filter) => {
      await same((a) => a.timeseries(filter, "hour", undefined));
      await same((a) => a.timeseries(filter, "hour", "model", { top: 3 }));
    });

    const SORTS: [SortField, "asc" | "desc"][] = (["started_at", "cost_usd", "duration_ms", "output_tokens"] as const).flatMap((s) => [[s, "asc"], [s, "desc"]] as [SortField, "asc" | "desc"][]);
    test.each(SORTS)("requests sorted by %s %s, every page of 7, cursors alike", async (sort, order) => {
      const expected = await same((a) => pages(a, {}, sort, order, 7));
      // Every record once, over the pages.
      expect(new Set(expected.flatMap((p) => p.items.map((i) => i.id))).size).toBe(records.length);
    }, MANY);

    test.each(FILTERS.filter(([, f]) => Object.keys(f).length > 0))("requests with a filter, by cost: %s", async (_, filter) => {
      await same((a) => pages(a, filter, "cost_usd", "desc", 10));
    }, MANY);

    test("a DuckDB cursor reads the same next page here, and the reverse", async () => {
      for (const sort of ["started_at", "cost_usd", "duration_ms", "output_tokens"] as const) {
        const first = await duck.analytics.listRequests({}, { limit: 5, sort, order: "desc" });
        const next = { cursor: first.next_cursor!, limit: 5, sort, order: "desc" as const };
        expect(await ch.listRequests({}, next)).toEqual(await duck.analytics.listRequests({}, next));
      }
      const first = await ch.sessions({}, { limit: 3 });
      expect(await duck.analytics.sessions({}, { cursor: first.next_cursor!, limit: 3 })).toEqual(await ch.sessions({}, { cursor: first.next_cursor!, limit: 3 }));
    });

    test("a cursor this API did not issue is an InvalidCursorError", async () => {
      await expect(ch.listRequests({}, { cursor: "not-a-cursor", limit: 5, sort: "started_at", order: "desc" })).rejects.toBeInstanceOf(InvalidCursorError);
      await expect(ch.listRequests({}, { cursor: encodeCursor("yesterday", "x"), limit: 5, sort: "started_at", order: "desc" })).rejects.toBeInstanceOf(InvalidCursorError);
      await expect(ch.listRequests({}, { cursor: encodeCursor("lots", "x"), limit: 5, sort: "duration_ms", order: "desc" })).rejects.toBeInstanceOf(InvalidCursorError);
      await expect(ch.sessions({}, { cursor: encodeCursor("1.5", "x"), limit: 5 })).rejects.toBeInstanceOf(InvalidCursorError);
    });

    const BUCKETS: Bucket[] = ["minute", "hour", "day"];
    const GROUPS: (GroupBy | undefined)[] = [undefined, "provider", "model", "project", "user"];
    test.each(BUCKETS)("timeseries per %s, each grouping, with and without top", async (bucket) => {
      for (const group of GROUPS) {
        await same((a) => a.timeseries({}, bucket, group));
        if (group) {
          for (const top of [1, 2, 50]) await same((a) => a.timeseries({ from: h(20) }, bucket, group, { top }));
        }
      }
    }, MANY);

    test("getRequest: each record as DuckDB shows it, bodies and agents included; a missing id is undefined", async () => {
      for (const record of records) await same((a) => a.getRequest(record.id));
      expect(await ch.getRequest("no-such-id")).toBeUndefined();
    }, MANY);

    test("session: totals, first prompt, agents and calls of every session; a missing one is undefined", async () => {
      const ids = [...new Set(records.map((r) => r.session_id).filter((s): s is string => s !== null))];
      expect(ids).toContain(PROMPT_SESSION);
      for (const id of ids) await same((a) => a.session(id));
      expect((await ch.session(PROMPT_SESSION))!.session.first_prompt).toBe('Hallo "Gemini" ☺');
      expect((await ch.session(MODELLESS_SESSION))!.session.models).toBeNull();
      expect(await ch.session("no-such-session")).toBeUndefined();
    }, MANY);

    test.each(BUCKETS)("rate limits per %s, whole range, a window and a provider", async (bucket) => {
      const all = await same((a) => a.rateLimits({}, bucket));
      // anthropic: org-a and the escaped one; openai without an organization (absent, null, or only a header of that name). Gemini's call had no headers.
      expect(all.latest.map((l) => [l.provider, l.organization])).toEqual([["anthropic", "org \"b\" \\ ü"], ["anthropic", "org-a"], ["openai", null]]);
      await same((a) => a.rateLimits({ from: "2026-12-01T10:00:00Z", to: "2026-12-01T11:00:00Z" }, bucket));
      await same((a) => a.rateLimits({ provider: "anthropic" }, bucket));
    }, MANY);

    test("rate-limit headers and organizations with escapes read back as written", async () => {
      const { latest } = await ch.rateLimits({ provider: "anthropic" }, "day");
      expect(latest.find((l) => l.key_ids.includes("key_1"))).toMatchObject({ organization: 'org "b" \\ ü', headers: { "x-quote": 'a "b" \\c {d}', "x-ünï": "☺\n" } });
    });

    test("usage summary at several instants (day, ISO week and month boundaries)", async () => {
      for (const now of ["2026-12-01T11:00:00Z", "2026-12-01T00:00:00Z", "2026-11-30T12:00:00.5Z", "2026-11-29T23:59:59.999Z", "2026-11-02T09:00:00Z"]) {
        await same((a) => a.usageSummary(now));
      }
    }, MANY);
  });
}

describe("DuckDB's text of values, made in JS", () => {
  let connection: Awaited<ReturnType<DuckDBInstance["connect"]>>;
  beforeAll(async () => {
    connection = await (await DuckDBInstance.create(":memory:")).connect();
    await connection.run("SET TimeZone = 'UTC'");
  });
  const duckText = async (sql: string) => String((await connection.runAndReadAll(`SELECT (${sql})::VARCHAR`)).getRows()[0]![0]);

  test("doubles", async () => {
    for (const x of [0, 5, -5, 0.1, 1 / 3, 0.0001, 0.00001, 1.2345e-5, 1e15, 1e16, 123456789012345.6, 2.5e20, 4969.65, 1000.5, 0.0025]) {
      expect(doubleText(x)).toBe(await duckText(`${x.toExponential()}::DOUBLE`));
    }
  });

  test("instants and bucket starts", async () => {
    for (const us of [0, 1_764_590_400_000_000, 1_764_590_400_120_000, 1_764_590_400_123_456, 1_764_590_400_000_001, 1_764_590_399_999_999]) {
      expect(timestamptzText(us)).toBe(await duckText(`make_timestamptz(${us}::BIGINT)`));
      expect(timestampText(us - (us % 3_600_000_000))).toBe(await duckText(`make_timestamp(${us - (us % 3_600_000_000)}::BIGINT)`));
    }
  });

  test("instants read as DuckDB casts them to TIMESTAMPTZ", async () => {
    const inputs = ["2026-12-01", "2026-12-01T10:00:00Z", "2026-12-01 10:00:00.12+00", "2026-12-01T10:00:00.123456+02:00", "2026-12-01T10:00:00-05:30", "2026-12-01 11:58", "2026-12-01T10:00:00.1234567Z"];
    for (const text of inputs) {
      const [[us]] = (await connection.runAndReadAll(`SELECT epoch_us('${text}'::TIMESTAMPTZ)`)).getRowsJson() as [[string]];
      expect(parseInstantMicros(text)).toBe(Number(us));
    }
    for (const bad of ["yesterday", "2026-02-31", "2026-12-01T25:00:00Z", ""]) expect(parseInstantMicros(bad)).toBeUndefined();
  });
});

describe("a session's first prompt, as json_extract_string finds it", () => {
  test("messages, then Gemini contents, then input; other JSON as text; nothing when the body is cut off", () => {
    expect(promptOf(JSON.stringify({ messages: [{ content: "hi" }] }))).toBe("hi");
    expect(promptOf(JSON.stringify({ messages: [{ content: [{ type: "text", text: "hi" }] }] }))).toBe('[{"type":"text","text":"hi"}]');
    expect(promptOf(JSON.stringify({ messages: [], contents: [{ parts: [{ text: "g" }] }] }))).toBe("g");
    expect(promptOf(JSON.stringify({ input: "embed me" }))).toBe("embed me");
    expect(promptOf(JSON.stringify({ messages: { 0: { content: "not an array" } } }))).toBeNull();
    expect(promptOf('{"messages": [{"content": "cut of')).toBeNull();
  });
});
