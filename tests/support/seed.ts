import { mkdirSync, writeFileSync } from "node:fs";
import { REQUEST_COLUMNS, type RequestRecord } from "../../src/record.ts";

/**
 * Varied records for analytics tests, from a fixed seed: providers, priced and
 * unpriced models, sessions, users, projects, tags, errors, streams and cache
 * hits. Written as a crash journal, which the gateway replays at start.
 */
export function seedRecords(count: number, seed = 42, start = Date.parse("2026-10-01T00:00:00Z")): RequestRecord[] {
  let state = seed >>> 0;
  const rand = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
  const models = [
    ["anthropic", "claude-sonnet-4-5", "chat"],
    ["anthropic", "claude-opus-4-8", "chat"],
    ["anthropic", "claude-private-x", "chat"],
    ["openai", "gpt-5.4", "chat"],
    ["openai", "gpt-4o-2024-08-06", "chat"],
    ["openai", "text-embedding-3-small", "embeddings"],
    ["gemini", "gemini-2.5-flash", "generate_content"],
    ["gemini", "gemini-secret-preview", "generate_content"],
  ] as const;
  const blank = Object.fromEntries(REQUEST_COLUMNS.map(([name]) => [name, null])) as unknown as RequestRecord;
  const records: RequestRecord[] = [];
  for (let i = 0; i < count; i++) {
    const [provider, model, operation] = pick(models);
    const unpriced = model.includes("private") || model.includes("secret");
    const error = rand() < 0.05;
    const streamed = rand() < 0.3;
    const input = Math.floor(rand() * 5000) + 1;
    const cacheRead = rand() < 0.3 ? Math.floor(input * rand()) : 0;
    const output = operation === "embeddings" ? 0 : Math.floor(rand() * 800);
    const nano = BigInt(input * 3000 + output * 15000);
    const started = start + i * 900_000 + Math.floor(rand() * 1000); // one every ~15 minutes: a month for 3000
    records.push({
      ...blank,
      id: `seed-${String(i).padStart(7, "0")}`,
      started_at: new Date(started).toISOString(),
      duration_ms: Math.round(rand() * 5000 * 1000) / 1000,
      ttfb_ms: Math.round(rand() * 800 * 1000) / 1000,
      provider,
      operation,
      billable: true,
      method: "POST",
      path: `/${provider}/v1/x`,
      status: error ? pick([429, 500, 529]) : 200,
      model,
      response_model: model,
      streamed,
      input_tokens: error ? null : input,
      cache_read_tokens: error ? null : cacheRead,
      cache_write_tokens: error || provider !== "anthropic" ? null : Math.floor(rand() * 100),
      output_tokens: error ? null : output,
      reasoning_tokens: error ? null : Math.floor(output * rand() * 0.3),
      cost_usd: error ? "0.000000000" : unpriced ? null : `${nano / 1_000_000_000n}.${String(nano % 1_000_000_000n).padStart(9, "0")}`,
      cost_source: error ? "free" : unpriced ? null : "genai-prices",
      session_id: rand() < 0.8 ? `session-${Math.floor(rand() * 60)}` : null,
      user_id: rand() < 0.7 ? `user-${Math.floor(rand() * 12)}` : null,
      project: pick(["alpha", "beta", null]),
      tags: rand() < 0.4 ? [pick(["ci", "prod", "eval"]), pick(["batch", "chat"])] : null,
      error_type: error ? pick(["rate_limit_error", "api_error"]) : null,
      request_bytes: 100,
      response_bytes: 1000,
      truncated: false,
      finish_reason: error ? null : "stop",
    });
    // Derived without drawing numbers, so the records above stay as they were: a 1-hour part of some cache
    // writes, and Claude Code style agents (a main agent, sub-agents under it) in most session calls.
    const record = records.at(-1)!;
    record.cache_write_1h_tokens = record.cache_write_tokens === null ? null : Math.floor((record.cache_write_tokens * (i % 3)) / 4);
    if (record.session_id !== null && i % 5 !== 0) {
      record.agent_id = `agent-${i % 3}`;
      record.parent_agent_id = i % 3 === 0 ? null : "agent-0";
      record.agent_type = "claude-code";
      record.request_class = i % 2 ? "main" : "subagent";
    }
  }
  return records;
}

/** Writes records where a gateway on `db` will replay them at start. */
export function writeSeedJournal(db: string, records: readonly RequestRecord[]): void {
  mkdirSync(`${db}.journal`, { recursive: true });
  writeFileSync(`${db}.journal/00000001.ndjson`, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
}
