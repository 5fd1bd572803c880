import { REQUEST_COLUMNS, type RequestRecord } from "../../src/record.ts";
import { CLAUDE_SESSION, dashboardRecords } from "./dashboard-seed.ts";

/**
 * Records for comparing two stores' analytics (DuckDB and ClickHouse): the
 * dashboard's varied records, and edge cases besides — instants on a whole
 * second and with trailing zeros, durations that tie (for cursors) and that
 * sit on half a microsecond (for rounding), calls with nothing to price or not
 * billable, an in-stream error, big and exact money, calls in earlier weeks
 * and months, sessions with no model or with their prompt in a later body,
 * and rate-limit headers with organizations, gateway keys and escapes.
 */
export const END = Date.parse("2026-12-01T12:00:00Z");
export const PROMPT_SESSION = "session-prompts";
export const MODELLESS_SESSION = "session-no-models";

const blank = Object.fromEntries(REQUEST_COLUMNS.map(([name]) => [name, null])) as unknown as RequestRecord;

function call(id: string, at: string, fields: Partial<RequestRecord>): RequestRecord {
  return {
    ...blank,
    id,
    started_at: at,
    duration_ms: 1000,
    ttfb_ms: 100,
    provider: "openai",
    operation: "chat",
    method: "POST",
    path: "/openai/v1/chat/completions",
    status: 200,
    model: "gpt-5.4",
    response_model: "gpt-5.4",
    streamed: false,
    input_tokens: 100,
    cache_read_tokens: 0,
    output_tokens: 10,
    cost_usd: "0.000450000",
    cost_source: "genai-prices",
    billable: true,
    request_bytes: 100,
    response_bytes: 200,
    truncated: false,
    attempts: 1,
    ...fields,
  };
}

const limits = (ratelimit: unknown) => JSON.stringify(ratelimit);

export function analyticsRecords(): RequestRecord[] {
  const records = dashboardRecords(END);
  records.push(
    // Instants: a whole second, a fraction with trailing zeros, earlier in the week and month, last month.
    call("edge-01", "2026-12-01T10:00:00.000Z", { duration_ms: 1000.5, tags: ["ci"] }),
    call("edge-02", "2026-12-01T10:00:00.120Z", { duration_ms: 1000.5, user_id: "user-1", project: "alpha" }),
    call("edge-03", "2026-11-30T00:00:00.000Z", { duration_ms: 1000.5, ttfb_ms: null, streamed: true }),
    call("edge-04", "2026-11-29T23:59:59.999Z", { duration_ms: 0.0025, ttfb_ms: 0.0035, project: "beta" }),
    call("edge-05", "2026-11-02T08:00:00.001Z", { duration_ms: 1.0005, ttfb_ms: 2.0005, provider: "gemini", model: "gemini-2.5-flash", response_model: null }),
    call("edge-06", "2026-10-31T23:59:59.000Z", { duration_ms: 0.0015, cost_usd: "1234.123456789", user_id: "user-big", project: "gamma" }),
    // Money and pricing: not priced but billable with tokens (unpriced), not billable, nothing reported, exactly $0.
    call("edge-07", "2026-12-01T09:00:00.000Z", { cost_usd: null, cost_source: null, model: "gpt-private", response_model: null }),
    call("edge-08", "2026-12-01T09:01:00.000Z", { cost_usd: null, cost_source: null, billable: false, operation: "moderation" }),
    call("edge-09", "2026-12-01T09:02:00.000Z", { cost_usd: null, cost_source: null, input_tokens: null, output_tokens: null, cache_read_tokens: null }),
    call("edge-10", "2026-12-01T09:03:00.000Z", { cost_usd: "0.000000000", cost_source: "free", output_tokens: null }),
    // An error inside a 200 stream, and a 529.
    call("edge-11", "2026-12-01T09:04:00.000Z", { streamed: true, error_type: "overloaded_error", finish_reason: null }),
    call("edge-12", "2026-12-01T09:05:00.000Z", { status: 529, error_type: "overloaded_error", input_tokens: null, output_tokens: null, cost_usd: "0.000000000", cost_source: "free" }),
    // A session whose calls name no model.
    call("edge-13", "2026-12-01T08:00:00.000Z", { session_id: MODELLESS_SESSION, method: "GET", operation: "models", model: null, response_model: null, input_tokens: null, output_tokens: null, cost_usd: null, cost_source: null, billable: false }),
    call("edge-14", "2026-12-01T08:00:01.000Z", { session_id: MODELLESS_SESSION, method: "GET", operation: "models", model: null, response_model: null, input_tokens: null, output_tokens: null, cost_usd: null, cost_source: null, billable: false }),
    // A session whose first main-turn body has no prompt; a sub-agent's earlier body does not count.
    call("edge-15", "2026-12-01T07:00:00.000Z", { session_id: PROMPT_SESSION, request_class: "subagent", agent_id: "sub-1", request_body: JSON.stringify({ messages: [{ role: "user", content: "not the main turn" }] }) }),
    call("edge-16", "2026-12-01T07:00:01.000Z", { session_id: PROMPT_SESSION, request_class: "main", request_body: JSON.stringify({ model: "x" }) }),
    call("edge-17", "2026-12-01T07:00:02.000Z", { session_id: PROMPT_SESSION, request_body: JSON.stringify({ contents: [{ parts: [{ text: "Hallo \"Gemini\" ☺" }] }] }) }),
    call("edge-18", "2026-12-01T07:00:03.000Z", { session_id: PROMPT_SESSION, request_body: JSON.stringify({ input: ["an", "array"] }), key_id: "key_2" }),
    // Rate-limit headers: organizations (absent, null, escaped), keys, a header named like the top-level field, escapes in values.
    call("rl-01", "2026-12-01T10:05:00.000Z", { provider: "anthropic", ratelimit: limits({ organization: "org-a", headers: { "anthropic-ratelimit-unified-5h-utilization": "0.10", "anthropic-ratelimit-unified-7d-status": "allowed" } }) }),
    call("rl-02", "2026-12-01T10:50:00.000Z", { provider: "anthropic", ratelimit: limits({ organization: "org-a", headers: { "anthropic-ratelimit-unified-5h-utilization": "0.20" } }) }),
    call("rl-03", "2026-12-01T10:20:00.000Z", { provider: "anthropic", key_id: "key_2", ratelimit: limits({ organization: "org-a", headers: { "anthropic-ratelimit-unified-5h-utilization": "0.15" } }) }),
    call("rl-04", "2026-12-01T11:10:00.000Z", { provider: "anthropic", key_id: "key_2", ratelimit: limits({ organization: "org-a", headers: { "anthropic-ratelimit-unified-5h-utilization": "0.30", "anthropic-ratelimit-unified-7d-status": "allowed_warning" } }) }),
    call("rl-05", "2026-12-01T11:15:00.000Z", { provider: "anthropic", key_id: "key_1", ratelimit: limits({ organization: 'org "b" \\ ü', headers: { "x-quote": 'a "b" \\c {d}', "x-ünï": "☺\n" } }) }),
    call("rl-06", "2026-12-01T11:20:00.000Z", { ratelimit: limits({ headers: { "x-ratelimit-remaining-requests": "59", organization: "not-the-organization" } }) }),
    call("rl-07", "2026-12-01T11:21:00.000Z", { ratelimit: limits({ organization: null, headers: { "x-ratelimit-remaining-requests": "58" } }) }),
    call("rl-08", "2026-12-01T11:22:00.000Z", { provider: "gemini", ratelimit: limits({ organization: "org-g", headers: {} }) }),
    call("rl-09", "2026-11-30T23:59:00.000Z", { ratelimit: limits({ headers: { "x-ratelimit-remaining-requests": "60" } }), key_id: "key_3" }),
  );
  // The Claude Code conversation carries the rate-limit headers too, on some calls.
  records.filter((r) => r.session_id === CLAUDE_SESSION && r.agent_id === null).forEach((r, i) => {
    r.ratelimit = limits({ organization: "org-a", headers: { "anthropic-ratelimit-unified-5h-utilization": `0.${40 + i}` } });
  });
  return records;
}
