import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFigure, readMeters } from "../../src/api/rate-limit-meters.ts";
import type { RequestRecord } from "../../src/record.ts";
import { openDuckDBStore, type DuckDBStore } from "../../src/sinks/duckdb/duckdb-store.ts";
import { seedRecords } from "../support/seed.ts";

/** The rate-limit figures over time (DuckDB analytics), and how the API reads their values and meters. */
let store: DuckDBStore;
const U5 = "anthropic-ratelimit-unified-5h-utilization";
const S7 = "anthropic-ratelimit-unified-7d-status";

function call(id: string, at: string, fields: Partial<RequestRecord>): RequestRecord {
  return { ...seedRecords(1)[0]!, id, started_at: at, ...fields };
}
const limits = (organization: string | undefined, headers: Record<string, string>) => JSON.stringify(organization ? { organization, headers } : { headers });

beforeAll(async () => {
  store = await openDuckDBStore(":memory:");
  const records = [
    call("a", "2026-11-01T10:05:00Z", { provider: "anthropic", key_id: null, ratelimit: limits("org-a", { [U5]: "0.10", [S7]: "allowed" }) }),
    call("b", "2026-11-01T10:50:00Z", { provider: "anthropic", key_id: null, ratelimit: limits("org-a", { [U5]: "0.20" }) }),
    call("c", "2026-11-01T10:20:00Z", { provider: "anthropic", key_id: "key_2", ratelimit: limits("org-a", { [U5]: "0.15" }) }),
    call("d", "2026-11-01T11:10:00Z", { provider: "anthropic", key_id: "key_2", ratelimit: limits("org-a", { [U5]: "0.30", [S7]: "allowed_warning" }) }),
    call("e", "2026-11-01T11:15:00Z", { provider: "anthropic", key_id: null, ratelimit: limits("org-b", { [U5]: "0.90" }) }),
    call("f", "2026-11-01T11:20:00Z", { provider: "openai", key_id: null, ratelimit: limits(undefined, { "x-ratelimit-remaining-requests": "59" }) }),
    call("g", "2026-11-01T11:30:00Z", { provider: "anthropic", key_id: null, ratelimit: null }),
  ];
  await store.append(records.map((r) => JSON.stringify(r)).join("\n"));
});
afterAll(() => store.close());

describe("rate-limit figures in DuckDB", () => {
  test("per hour, provider, organization and key: each header's value in the latest call of the bucket that carried it", async () => {
    const { points } = await store.analytics.rateLimits({ provider: "anthropic" }, "hour");
    expect(points.map((p) => [p.bucket, p.organization, p.key_id, p.last_at, p.headers])).toEqual([
      ["2026-11-01 10:00:00", "org-a", null, "2026-11-01 10:50:00+00", { [U5]: "0.20", [S7]: "allowed" }],
      ["2026-11-01 10:00:00", "org-a", "key_2", "2026-11-01 10:20:00+00", { [U5]: "0.15" }],
      ["2026-11-01 11:00:00", "org-a", "key_2", "2026-11-01 11:10:00+00", { [U5]: "0.30", [S7]: "allowed_warning" }],
      ["2026-11-01 11:00:00", "org-b", null, "2026-11-01 11:15:00+00", { [U5]: "0.90" }],
    ]);
  });

  test("latest per provider and organization, whatever the key, with the keys seen", async () => {
    const { latest } = await store.analytics.rateLimits({}, "day");
    expect(latest).toEqual([
      { provider: "anthropic", organization: "org-a", key_ids: ["key_2"], last_at: "2026-11-01 11:10:00+00", headers: { [U5]: "0.30", [S7]: "allowed_warning" } },
      { provider: "anthropic", organization: "org-b", key_ids: [], last_at: "2026-11-01 11:15:00+00", headers: { [U5]: "0.90" } },
      { provider: "openai", organization: null, key_ids: [], last_at: "2026-11-01 11:20:00+00", headers: { "x-ratelimit-remaining-requests": "59" } },
    ]);
  });

  test("from and to bound the calls read", async () => {
    const { latest } = await store.analytics.rateLimits({ from: "2026-11-01T10:00:00Z", to: "2026-11-01T11:00:00Z" }, "hour");
    expect(latest).toEqual([{ provider: "anthropic", organization: "org-a", key_ids: ["key_2"], last_at: "2026-11-01 10:50:00+00", headers: { [U5]: "0.20", [S7]: "allowed" } }]);
  });
});

describe("header values and meters, as the API gives them", () => {
  test("numbers where they parse, else the text as sent", () => {
    expect(["0.42", "1000", "1764601200", "-1", "1e3", "allowed", "6m0s", "1s", "2025-08-21T12:41:00Z", "", "0x10", "1.2.3"].map(readFigure)).toEqual([
      0.42, 1000, 1764601200, -1, 1000, "allowed", "6m0s", "1s", "2025-08-21T12:41:00Z", "", "0x10", "1.2.3",
    ]);
  });

  test("windows from header names: utilization, status, reset (Unix seconds or a date) and reset_at", () => {
    expect(
      readMeters({
        "anthropic-ratelimit-unified-5h-utilization": "0.42",
        "anthropic-ratelimit-unified-5h-status": "allowed",
        "anthropic-ratelimit-unified-5h-reset": "1764601200",
        "anthropic-ratelimit-unified-7d-reset": "2025-12-08T00:00:00Z",
        "anthropic-ratelimit-unified-status": "allowed",
        "anthropic-ratelimit-unified-reset": "1764601200",
        "x-ratelimit-reset-requests": "1s",
        "anthropic-ratelimit-requests-remaining": "0",
      }),
    ).toEqual({
      "5h": { utilization: 0.42, status: "allowed", reset: 1764601200, reset_at: "2025-12-01T15:00:00.000Z" },
      "7d": { utilization: null, status: null, reset: "2025-12-08T00:00:00Z", reset_at: "2025-12-08T00:00:00.000Z" },
    });
  });
});
