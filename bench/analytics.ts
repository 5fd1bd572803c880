#!/usr/bin/env bun
/**
 * How fast the analytics API answers over a big `requests` table.
 * `bun bench/analytics.ts` (see bench/ANALYTICS.md).
 *
 * 1. Seeds BENCH_ROWS (1,000,000) deterministic, varied records into a fresh
 *    DuckDB file through the store's own bulk path (`openDuckDBStore().append`,
 *    batches of 50k NDJSON lines) and times it.
 * 2. Starts `bun main.ts serve` on that file (admin token on, as in production).
 * 3. Times every /api route: the first (cold) call, then warm calls (median, max),
 *    over the whole 30 days, over the last 7 days, and with filters.
 * 4. Times the dashboard set (analytics-dashboard.ts: 24h, 7d and 30d, p95
 *    against 250 ms), unless BENCH_SET says otherwise.
 * 5. Prints both tables with PASS/MISS (dashboard: p95 under 250 ms; routes:
 *    warm max under a second), the DB file size and the gateway's RSS. Temp
 *    files are removed at the end.
 */
import type { Subprocess } from "bun";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { RequestRecord } from "../src/record.ts";
import { openDuckDBStore } from "../src/sinks/duckdb/duckdb-store.ts";
import { DASHBOARD_BUDGET_MS, runDashboard, type DashResult } from "./analytics-dashboard.ts";

const ROOT = join(import.meta.dir, "..");
const BUN = process.execPath;
const envNum = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 1) throw new Error(`${name} must be a positive number`);
  return Math.floor(v);
};
const ROWS = envNum("BENCH_ROWS", 1_000_000);
const WARM = envNum("BENCH_WARM_RUNS", 5);
const BATCH = envNum("BENCH_BATCH_ROWS", 50_000);
const SEED = envNum("BENCH_SEED", 20261124);
const BUDGET_MS = 1000; // "answers in under a second"
const KEEP = process.env.BENCH_KEEP === "1";
/** Timed calls per dashboard case (after one untimed), for its p95. */
const DASH_RUNS = envNum("BENCH_DASH_RUNS", 20);
/** `all` (default), `dashboard` (the dashboard's requests only, at 250 ms p95) or `routes` (the route table only, at 1 s). */
const SET = process.env.BENCH_SET ?? "all";
if (!["all", "dashboard", "routes"].includes(SET)) throw new Error("BENCH_SET must be all, dashboard or routes");
/** Reuse a DB seeded by an earlier run (BENCH_KEEP=1 prints its path): skips seeding. */
const REUSE_DB = process.env.BENCH_DB;
const LOUPE_MAIN = process.env.BENCH_LOUPE_MAIN ?? join(ROOT, "main.ts");
const TOKEN = "bench-admin-token-0123456789";
const DAY = 86_400_000;
const HOUR = 3_600_000;

const log = (msg: string) => process.stderr.write(`[bench:analytics] ${msg}\n`);

// ── deterministic randomness ─────────────────────────────────────────────────
function sfc32(a: number, b: number, c: number, d: number): () => number {
  return () => {
    a |= 0; b |= 0; c |= 0; d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}
function makeRng(seed: number) {
  const next = sfc32(0x9e3779b9, 0x243f6a88, 0xb7e15162, seed >>> 0);
  for (let i = 0; i < 20; i++) next();
  const rng = {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    normal() {
      const u = 1 - next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
    exp: (mean: number) => -Math.log(1 - next()) * mean,
    /** Picks an index by weight (weights' prefix sums in `cum`). */
    weighted(cum: Float64Array): number {
      const x = next() * cum[cum.length - 1]!;
      let lo = 0;
      let hi = cum.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cum[mid]! > x) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    },
    hex(n: number) {
      let s = "";
      while (s.length < n) s += (Math.floor(next() * 4294967296) >>> 0).toString(16).padStart(8, "0");
      return s.length === n ? s : s.slice(0, n);
    },
  };
  return rng;
}
type Rng = ReturnType<typeof makeRng>;
const prefixSums = (weights: number[]) => {
  const cum = new Float64Array(weights.length);
  let sum = 0;
  weights.forEach((w, i) => (cum[i] = sum += w));
  return cum;
};

// ── the world being simulated ────────────────────────────────────────────────
interface Model {
  provider: "anthropic" | "openai" | "gemini";
  model: string;
  responseModel: string | null;
  /** USD per million tokens: input, output, cache read, cache write; null = unpriced. */
  price: [number, number, number, number] | null;
  popularity: number;
  operation: "chat" | "generate_content" | "embeddings";
  /** [min, median] input tokens. */
  input: [number, number];
  output: number;
  reasoning?: boolean;
}
const MODELS: Model[] = [
  { provider: "anthropic", model: "claude-sonnet-4-5", responseModel: "claude-sonnet-4-5-20250929", price: [3, 15, 0.3, 3.75], popularity: 30, operation: "chat", input: [2000, 30000], output: 600 },
  { provider: "anthropic", model: "claude-opus-4-1", responseModel: "claude-opus-4-1-20250805", price: [15, 75, 1.5, 18.75], popularity: 6, operation: "chat", input: [2000, 40000], output: 900 },
  { provider: "anthropic", model: "claude-haiku-4-5", responseModel: "claude-haiku-4-5-20251001", price: [1, 5, 0.1, 1.25], popularity: 14, operation: "chat", input: [500, 6000], output: 300 },
  { provider: "anthropic", model: "claude-3-5-haiku-latest", responseModel: "claude-3-5-haiku-20241022", price: [0.8, 4, 0.08, 1], popularity: 3, operation: "chat", input: [300, 3000], output: 250 },
  { provider: "anthropic", model: "claude-internal-preview", responseModel: "claude-internal-preview-20261101", price: null, popularity: 1.5, operation: "chat", input: [1000, 8000], output: 500 },
  { provider: "openai", model: "gpt-5", responseModel: "gpt-5-2025-08-07", price: [1.25, 10, 0.125, 0], popularity: 12, operation: "chat", input: [800, 12000], output: 800, reasoning: true },
  { provider: "openai", model: "gpt-5-mini", responseModel: "gpt-5-mini-2025-08-07", price: [0.25, 2, 0.025, 0], popularity: 10, operation: "chat", input: [300, 4000], output: 500, reasoning: true },
  { provider: "openai", model: "gpt-4.1", responseModel: "gpt-4.1-2025-04-14", price: [2, 8, 0.5, 0], popularity: 4, operation: "chat", input: [500, 6000], output: 400 },
  { provider: "openai", model: "gpt-4o-mini", responseModel: "gpt-4o-mini-2024-07-18", price: [0.15, 0.6, 0.075, 0], popularity: 6, operation: "chat", input: [200, 2000], output: 200 },
  { provider: "openai", model: "text-embedding-3-small", responseModel: "text-embedding-3-small", price: [0.02, 0, 0, 0], popularity: 4, operation: "embeddings", input: [50, 600], output: 0 },
  { provider: "openai", model: "ft:gpt-4o-mini:acme:support:9x2k", responseModel: "ft:gpt-4o-mini:acme:support:9x2k", price: null, popularity: 1.5, operation: "chat", input: [200, 1500], output: 150 },
  { provider: "gemini", model: "gemini-2.5-pro", responseModel: "gemini-2.5-pro", price: [1.25, 10, 0.31, 0], popularity: 4, operation: "generate_content", input: [1000, 20000], output: 700, reasoning: true },
  { provider: "gemini", model: "gemini-2.5-flash", responseModel: "gemini-2.5-flash", price: [0.3, 2.5, 0.075, 0], popularity: 7, operation: "generate_content", input: [300, 5000], output: 400, reasoning: true },
  { provider: "gemini", model: "gemini-2.0-flash", responseModel: "gemini-2.0-flash", price: [0.1, 0.4, 0.025, 0], popularity: 2, operation: "generate_content", input: [200, 3000], output: 300 },
  { provider: "gemini", model: "gemini-exp-1206", responseModel: "gemini-exp-1206", price: null, popularity: 1, operation: "generate_content", input: [500, 5000], output: 400 },
];
const MODEL_CUM = prefixSums(MODELS.map((m) => m.popularity));
/** A cheaper sibling for side calls in a session (sub-agents, titles, classification). */
const SIDE_MODEL: Record<string, string> = {
  "claude-sonnet-4-5": "claude-haiku-4-5",
  "claude-opus-4-1": "claude-haiku-4-5",
  "gpt-5": "gpt-5-mini",
  "gpt-4.1": "gpt-4o-mini",
  "gemini-2.5-pro": "gemini-2.5-flash",
};
const modelIndex = (name: string) => MODELS.findIndex((m) => m.model === name);

const PROJECT_WORDS = ["search", "support", "billing", "docs", "checkout", "analytics", "onboarding", "fraud", "mobile", "sales"];
const PROJECT_KINDS = ["api", "bot", "agent"];
const PROJECTS = PROJECT_WORDS.flatMap((w) => PROJECT_KINDS.map((k) => `${w}-${k}`)); // 30
const TAGS = ["prod", "staging", "dev", "eval", "batch", "ci", "agent", "interactive", "experiment:a", "experiment:b", "priority:high", "region:eu"];
const USERS = 500;
const SESSIONS = 20_000;
const userId = (n: number) => `user_${String(n).padStart(5, "0")}`;

// Zipf-like user activity: user_00001 is the busiest.
const USER_CUM = prefixSums(Array.from({ length: USERS }, (_, i) => 1 / Math.pow(i + 1, 0.9)));

function uuidLike(rng: Rng): string {
  return `${rng.hex(8)}-${rng.hex(4)}-4${rng.hex(3)}-${"89ab"[rng.int(0, 3)]}${rng.hex(3)}-${rng.hex(12)}`;
}
/** A UUIDv7 (what the gateway issues): time-ordered by its first 48 bits. */
function uuidV7(ms: number, rng: Rng): string {
  const t = ms.toString(16).padStart(12, "0");
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${rng.hex(3)}-${"89ab"[rng.int(0, 3)]}${rng.hex(3)}-${rng.hex(12)}`;
}

/** Exact nano-USD → "D.DDDDDDDDD" (the record's decimal string). */
function formatNano(nano: number): string {
  const n = Math.round(nano);
  return `${Math.floor(n / 1e9)}.${String(n % 1e9).padStart(9, "0")}`;
}

interface Session {
  id: string;
  user: string | null;
  project: string;
  model: number;
  tags: string[] | null;
  agent: boolean;
}

interface Plan {
  begin: number;
  end: number;
  /** Row start times (ms), ascending. */
  times: Float64Array;
  /** Session index per row; -1 = no session. */
  session: Int32Array;
  sessions: Session[];
  bigSession: string;
  typicalSession: string;
  busyUser: string;
  middleId?: string;
}

/**
 * Session sizes are heavy-tailed (lognormal) with one very long agent run;
 * ~8% of calls belong to no session. Activity follows a daily cycle (peak in
 * the UTC afternoon), quieter weekends and a slow growth over the 30 days.
 */
function plan(rows: number, end: number, rng: Rng): Plan {
  const begin = end - 30 * DAY;
  const hourWeights: number[] = [];
  for (let h = 0; h < 30 * 24; h++) {
    const at = new Date(begin + h * HOUR);
    const diurnal = 0.25 + Math.pow(Math.max(0, Math.sin(((at.getUTCHours() - 6) / 24) * 2 * Math.PI)), 1.5);
    const weekend = at.getUTCDay() === 0 || at.getUTCDay() === 6 ? 0.45 : 1;
    const growth = 0.8 + 0.4 * (h / (30 * 24));
    hourWeights.push(diurnal * weekend * growth);
  }
  const hourCum = prefixSums(hourWeights);
  const randomTime = () => begin + rng.weighted(hourCum) * HOUR + rng.next() * HOUR;

  const sessions: Session[] = [];
  for (let s = 0; s < SESSIONS; s++) {
    const u = rng.weighted(USER_CUM) + 1;
    const model = rng.weighted(MODEL_CUM);
    sessions.push({
      id: s % 3 === 0 ? `sess_${rng.hex(20)}` : uuidLike(rng),
      user: rng.chance(0.03) ? null : userId(u),
      // a user works in a few projects: pick by user and a little noise
      project: PROJECTS[(u * 7 + (rng.chance(0.7) ? 0 : rng.int(1, 3))) % PROJECTS.length]!,
      model,
      tags: rng.chance(0.35) ? null : Array.from(new Set([rng.pick(["prod", "prod", "prod", "staging", "dev"]), ...(rng.chance(0.5) ? [rng.pick(TAGS)] : []), ...(rng.chance(0.2) ? [rng.pick(TAGS)] : [])])),
      agent: MODELS[model]!.provider === "anthropic" && rng.chance(0.4),
    });
  }
  // The big one: a long agent run on the busiest user, ~0.6% of all calls.
  const big = sessions[0]!;
  big.user = userId(1);
  big.model = modelIndex("claude-sonnet-4-5");
  big.agent = true;
  big.tags = ["prod", "agent"];

  const sessionless = Math.round(rows * 0.08);
  const bigSize = Math.max(10, Math.round(rows * 0.006));
  const inSessions = rows - sessionless - bigSize;
  const raw = Array.from({ length: SESSIONS - 1 }, () => Math.exp(rng.normal() * 1.1));
  const rawSum = raw.reduce((a, b) => a + b, 0);
  const sizes = [bigSize, ...raw.map((r) => Math.max(1, Math.floor((r / rawSum) * inSessions)))];
  let assigned = sizes.reduce((a, b) => a + b, 0) + sessionless;
  for (let i = 1; assigned < rows; i = (i % (SESSIONS - 1)) + 1, assigned++) sizes[i]!++;

  const times = new Float64Array(rows);
  const session = new Int32Array(rows);
  let r = 0;
  sizes.forEach((size, s) => {
    if (r >= rows) return;
    const gapMean = s === 0 ? (3.5 * DAY) / size : 5_000 + rng.next() * 115_000;
    let duration = size * gapMean;
    if (duration > 28 * DAY) duration = 28 * DAY;
    const gap = duration / size;
    let t = Math.min(randomTime(), end - duration - 60_000);
    if (s === 0) t = end - 5 * DAY; // active across the "last 7 days" boundary, finished a day ago
    for (let k = 0; k < size && r < rows; k++, r++) {
      t += rng.exp(gap);
      times[r] = Math.min(t, end - 1);
      session[r] = s;
    }
  });
  for (; r < rows; r++) {
    times[r] = randomTime();
    session[r] = -1;
  }
  // Calls are stored in the order they finish, i.e. (about) time order.
  const order = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  order.sort((a, b) => times[a]! - times[b]!);
  const sortedTimes = new Float64Array(rows);
  const sortedSession = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    sortedTimes[i] = Math.floor(times[order[i]!]!);
    sortedSession[i] = session[order[i]!]!;
  }
  // A typical session: the median size one.
  const bySize = sizes.map((size, s) => [size, s] as const).sort((a, b) => a[0] - b[0]);
  return {
    begin,
    end,
    times: sortedTimes,
    session: sortedSession,
    sessions,
    bigSession: big.id,
    typicalSession: sessions[bySize[Math.floor(bySize.length / 2)]![1]]!.id,
    busyUser: userId(1),
  };
}

const FINISH: Record<Model["provider"], string[]> = {
  anthropic: ["end_turn", "end_turn", "end_turn", "tool_use", "tool_use", "max_tokens"],
  openai: ["stop", "stop", "stop", "tool_calls", "length"],
  gemini: ["STOP", "STOP", "STOP", "MAX_TOKENS"],
};
const PROMPTS = [
  "Summarise the attached incident report in three bullet points.",
  "Refactor this function to avoid the N+1 query and explain the change.",
  "Classify the following support ticket by urgency and product area.",
  "Write a SQL query that returns the top customers by revenue last quarter.",
  "Translate the release notes into German, keeping the markdown.",
];

/** Builds record `i` (rows come in time order). */
function makeRecord(i: number, p: Plan, rng: Rng, seen: Set<number>): RequestRecord {
  const startedAt = p.times[i]!;
  const sIdx = p.session[i]!;
  const s = sIdx >= 0 ? p.sessions[sIdx]! : undefined;
  let mIdx = s ? s.model : rng.weighted(MODEL_CUM);
  if (s && rng.chance(0.2)) {
    const side = SIDE_MODEL[MODELS[mIdx]!.model];
    if (side) mIdx = modelIndex(side);
  }
  const m = MODELS[mIdx]!;
  const firstOfSession = s !== undefined && !seen.has(sIdx);
  if (s) seen.add(sIdx);

  const roll = rng.next();
  const status = roll < 0.02 ? 429 : roll < 0.03 ? 500 : 200;
  const failed = status !== 200;
  const countTokens = !failed && m.provider === "anthropic" && rng.chance(0.01);
  const operation = countTokens ? "count_tokens" : m.operation;
  const streamed = !failed && !countTokens && m.operation !== "embeddings" && rng.chance(0.215);

  const path =
    m.provider === "anthropic"
      ? countTokens
        ? "/anthropic/v1/messages/count_tokens?beta=true"
        : "/anthropic/v1/messages?beta=true"
      : m.provider === "openai"
        ? m.operation === "embeddings"
          ? "/openai/v1/embeddings"
          : rng.chance(0.3)
            ? "/openai/v1/responses"
            : "/openai/v1/chat/completions"
        : `/gemini/v1beta/models/${m.model}:${streamed ? "streamGenerateContent?alt=sse" : "generateContent"}`;

  // Tokens: lognormal around the model's median, more context later in a session.
  const input = failed ? null : Math.max(m.input[0], Math.round(m.input[1] * Math.exp(rng.normal() * 0.8)));
  const output = failed || countTokens ? null : m.operation === "embeddings" ? 0 : Math.max(1, Math.round(m.output * Math.exp(rng.normal() * 0.9)));
  const reasoning = output !== null && m.reasoning ? Math.round(output * rng.next() * 1.5) : null;
  let cacheRead: number | null = null;
  let cacheWrite: number | null = null;
  let cacheWrite1h: number | null = null;
  if (input !== null && !countTokens && m.operation !== "embeddings") {
    if (m.provider === "anthropic") {
      // Agents re-read their prompt prefix from cache; first calls write it.
      cacheRead = s && !firstOfSession && rng.chance(0.85) ? Math.round(input * (0.5 + rng.next() * 0.45)) : 0;
      cacheWrite = firstOfSession || rng.chance(0.2) ? Math.round((input - cacheRead) * rng.next() * 0.8) : 0;
      cacheWrite1h = cacheWrite > 0 && rng.chance(0.2) ? cacheWrite : 0;
    } else if (rng.chance(0.35)) {
      cacheRead = Math.round(input * rng.next() * 0.7);
    } else if (m.provider === "openai") cacheRead = 0;
  }

  let cost: string | null;
  let costSource: string | null;
  if (failed || countTokens) {
    cost = "0.000000000";
    costSource = "free";
  } else if (!m.price) {
    cost = null;
    costSource = null;
  } else {
    const [pin, pout, pcr, pcw] = m.price;
    const cr = cacheRead ?? 0;
    const cw = cacheWrite ?? 0;
    // USD per million tokens × 1000 = nano-USD per token (prices have ≤ 3 decimals: exact).
    const nano =
      Math.round((input! - cr - cw) * pin * 1000) +
      Math.round(cr * pcr * 1000) +
      Math.round(cw * pcw * 1000) +
      Math.round(((output ?? 0) + 0) * pout * 1000);
    cost = formatNano(nano);
    costSource = "genai-prices";
  }

  const duration = failed ? 30 + rng.exp(400) : 150 + rng.exp(streamed ? 9000 : 4000) + (output ?? 0) * 8;
  const ttfb = failed ? duration : streamed ? 120 + rng.exp(900) : duration - rng.next() * 5;
  const errorType = status === 429 ? (m.provider === "anthropic" ? "rate_limit_error" : m.provider === "openai" ? "rate_limit_exceeded" : "RESOURCE_EXHAUSTED") : status === 500 ? (m.provider === "gemini" ? "INTERNAL" : "api_error") : null;
  const withBody = firstOfSession || rng.chance(0.04);
  const prompt = rng.pick(PROMPTS);
  const requestBody = withBody
    ? m.provider === "gemini"
      ? JSON.stringify({ contents: [{ role: "user", parts: [{ text: prompt }] }] })
      : m.operation === "embeddings"
        ? JSON.stringify({ model: m.model, input: prompt })
        : JSON.stringify({ model: m.model, max_tokens: 4096, stream: streamed, messages: [{ role: "user", content: prompt }] })
    : null;

  return {
    id: uuidV7(startedAt, rng),
    started_at: new Date(startedAt).toISOString(),
    billable: true,
    prompt_preview: null,
    key_id: null,
    attempts: 1,
    routed_provider: null,
    routed_model: null,
    ratelimit: null,
    limit_hit: null,
    duration_ms: Math.round(duration * 1000) / 1000,
    ttfb_ms: Math.round(ttfb * 1000) / 1000,
    provider: m.provider,
    operation,
    method: "POST",
    path,
    status,
    model: m.model,
    response_model: failed ? null : m.responseModel,
    streamed,
    input_tokens: input,
    cache_read_tokens: cacheRead,
    cache_write_tokens: cacheWrite,
    output_tokens: output,
    reasoning_tokens: reasoning,
    cost_usd: cost,
    cost_source: costSource,
    price_version: costSource === "genai-prices" ? "genai-prices@0.1.8" : null,
    session_id: s?.id ?? null,
    user_id: s ? s.user : rng.chance(0.6) ? userId(rng.weighted(USER_CUM) + 1) : null,
    project: s ? s.project : rng.pick(PROJECTS),
    tags: s ? s.tags : rng.chance(0.5) ? ["batch"] : null,
    finish_reason: failed || countTokens ? null : rng.pick(FINISH[m.provider]),
    error_type: errorType,
    error_message: failed ? (status === 429 ? "Rate limit reached for requests" : "Internal server error") : null,
    request_bytes: 400 + Math.round((input ?? 500) * 3.2),
    response_bytes: failed ? 180 : 300 + (output ?? 0) * 4 + (streamed ? 1500 : 0),
    upstream_request_id: m.provider === "anthropic" ? `req_${rng.hex(24)}` : m.provider === "openai" ? `req_${rng.hex(32)}` : null,
    trace_id: rng.chance(0.3) ? rng.hex(32) : null,
    usage_raw: input === null ? null : JSON.stringify({ input_tokens: input, output_tokens: output, cache_read_input_tokens: cacheRead ?? undefined }),
    request_body: requestBody,
    response_body: withBody && !failed ? JSON.stringify({ role: "assistant", content: "Here is the summary you asked for: …" }) : null,
    truncated: false,
    cache_write_1h_tokens: cacheWrite1h,
    agent_id: s?.agent ? `agent_${(sIdx * 31 + (rng.chance(0.3) ? rng.int(1, 4) : 0)).toString(36)}` : null,
    parent_agent_id: s?.agent && rng.chance(0.3) ? `agent_${(sIdx * 31).toString(36)}` : null,
    request_class: s?.agent ? rng.pick(["main", "main", "main", "subagent", "title"]) : null,
    agent_type: s?.agent ? "claude-code" : null,
  };
}

// ── seeding ──────────────────────────────────────────────────────────────────
interface SeedResult {
  plan: Plan;
  genMs: number;
  appendMs: number;
  closeMs: number;
}

async function seed(db: string, end: number): Promise<SeedResult> {
  const rng = makeRng(SEED);
  const t0 = performance.now();
  const p = plan(ROWS, end, rng);
  let genMs = performance.now() - t0;
  const store = await openDuckDBStore(db);
  let appendMs = 0;
  const seen = new Set<number>();
  for (let start = 0; start < ROWS; start += BATCH) {
    const g = performance.now();
    const lines: string[] = [];
    for (let i = start; i < Math.min(ROWS, start + BATCH); i++) {
      const record = makeRecord(i, p, rng, seen);
      if (i === Math.floor(ROWS / 2)) p.middleId = record.id;
      lines.push(JSON.stringify(record));
    }
    const ndjson = lines.join("\n");
    const a = performance.now();
    genMs += a - g;
    await store.append(ndjson);
    appendMs += performance.now() - a;
    if ((start / BATCH) % 5 === 4) log(`seeded ${Math.min(ROWS, start + BATCH).toLocaleString("en-US")} rows`);
  }
  const c = performance.now();
  await store.checkpoint();
  await store.close();
  return { plan: p, genMs, appendMs, closeMs: performance.now() - c };
}

// ── the gateway ──────────────────────────────────────────────────────────────
async function startGateway(db: string): Promise<{ proc: Subprocess<"ignore", "ignore", "pipe">; url: string; startMs: number }> {
  const t0 = performance.now();
  const proc = Bun.spawn([BUN, LOUPE_MAIN, "serve"], {
    cwd: ROOT,
    env: { ...process.env, LOUPE_PORT: "0", LOUPE_HOST: "127.0.0.1", LOUPE_DB: db, LOUPE_ADMIN_TOKEN: TOKEN },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const reader = proc.stderr.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 60 s:\n${text}`)), 60_000);
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          clearTimeout(timer);
          reject(new Error(`gateway exited (${await proc.exited}):\n${text}`));
          return;
        }
        text += decoder.decode(value, { stream: true });
        const match = /listening on (http:\/\/\S+)/.exec(text);
        if (match) {
          clearTimeout(timer);
          resolveUrl(match[1]!);
          // keep draining stderr so the gateway never blocks on a full pipe
          for (;;) if ((await reader.read()).done) return;
        }
      }
    })();
  });
  return { proc, url, startMs: performance.now() - t0 };
}

function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
    return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
  } catch {
    return { rssMb: NaN, peakMb: NaN };
  }
}

// ── measuring ────────────────────────────────────────────────────────────────
interface Call {
  method?: "GET" | "POST";
  path: string;
  body?: unknown;
}
interface CaseResult {
  route: string;
  scope: string;
  size: string;
  cold: number;
  median: number;
  max: number;
  runs: number;
  error?: string;
}

async function call(base: string, c: Call): Promise<{ ms: number; status: number; json: Record<string, unknown> }> {
  const t = performance.now();
  const response = await fetch(`${base}${c.path}`, {
    method: c.method ?? "GET",
    headers: { authorization: `Bearer ${TOKEN}`, ...(c.body ? { "content-type": "application/json" } : {}) },
    ...(c.body ? { body: JSON.stringify(c.body) } : {}),
  });
  const text = await response.text();
  const ms = performance.now() - t;
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { raw: text.slice(0, 200) };
  }
  return { ms, status: response.status, json };
}

/** What came back, in a few characters (items, points, rows, calls). */
function sizeOf(json: Record<string, unknown>): string {
  for (const key of ["items", "points", "rows", "calls"]) {
    const v = json[key];
    if (Array.isArray(v)) return `${v.length} ${key}`;
  }
  if ("today" in json) return "3 totals";
  if ("requests" in json) return `${Number(json.requests).toLocaleString("en-US")} req`;
  if ("id" in json) return "1 record";
  return "-";
}

async function measure(base: string, route: string, scope: string, c: Call): Promise<CaseResult> {
  const first = await call(base, c);
  if (first.status !== 200) {
    return { route, scope, size: "-", cold: first.ms, median: NaN, max: NaN, runs: 0, error: `HTTP ${first.status}: ${JSON.stringify(first.json).slice(0, 160)}` };
  }
  // Keep the whole bench short when something is very slow.
  const runs = first.ms > 5000 ? Math.min(2, WARM) : WARM;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push((await call(base, c)).ms);
  times.sort((a, b) => a - b);
  const median = times.length % 2 ? times[(times.length - 1) / 2]! : (times[times.length / 2 - 1]! + times[times.length / 2]!) / 2;
  return { route, scope, size: sizeOf(first.json), cold: first.ms, median, max: times.at(-1)!, runs };
}

const q = (params: Record<string, string | undefined>) => {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined);
  return entries.length ? `?${new URLSearchParams(entries).toString()}` : "";
};

/** What the cases ask for. */
interface Targets {
  end: number;
  bigSession: string;
  typicalSession: string;
  busyUser: string;
  middleId: string;
}

async function runCases(base: string, p: Targets): Promise<{ results: CaseResult[]; walk: number[] }> {
  const week = new Date(p.end - 7 * DAY).toISOString();
  const model = "claude-sonnet-4-5";
  const user = p.busyUser;
  const results: CaseResult[] = [];
  const add = async (route: string, scope: string, c: Call) => {
    const r = await measure(base, route, scope, c);
    results.push(r);
    log(`${route} [${scope}] cold ${r.cold.toFixed(0)} ms, median ${r.median.toFixed(0)} ms${r.error ? ` — ${r.error}` : ""}`);
  };

  // /api/requests
  await add("GET /api/requests", "all", { path: "/api/requests" });
  await add("GET /api/requests", "7d", { path: `/api/requests${q({ from: week })}` });
  await add("GET /api/requests", `model=${model}`, { path: `/api/requests${q({ model })}` });
  await add("GET /api/requests", `7d user=${user}`, { path: `/api/requests${q({ from: week, user })}` });
  await add("GET /api/requests", "7d status=error", { path: `/api/requests${q({ from: week, status: "error" })}` });
  await add("GET /api/requests", "tag=eval", { path: `/api/requests${q({ tag: "eval" })}` });
  await add("GET /api/requests", "sort=cost_usd", { path: `/api/requests${q({ sort: "cost_usd" })}` });
  // cursor pagination: walk 5 pages (timed once each), then time page 5 again
  const walk: number[] = [];
  let cursor: string | undefined;
  let page5 = "";
  for (let page = 1; page <= 5; page++) {
    const path = `/api/requests${q({ cursor })}`;
    const r = await call(base, { path });
    walk.push(r.ms);
    page5 = path;
    cursor = (r.json.next_cursor as string | null) ?? undefined;
    if (!cursor) break;
  }
  await add("GET /api/requests", "page 5 (cursor)", { path: page5 });
  let costCursor: string | undefined;
  for (let page = 1; page < 5; page++) {
    const r = await call(base, { path: `/api/requests${q({ sort: "cost_usd", cursor: costCursor })}` });
    costCursor = (r.json.next_cursor as string | null) ?? undefined;
  }
  await add("GET /api/requests", "sort=cost_usd page 5", { path: `/api/requests${q({ sort: "cost_usd", cursor: costCursor })}` });
  await add("GET /api/requests/{id}", "one id", { path: `/api/requests/${p.middleId}` });

  // stats
  await add("GET /api/stats/summary", "all", { path: "/api/stats/summary" });
  await add("GET /api/stats/summary", "7d", { path: `/api/stats/summary${q({ from: week })}` });
  await add("GET /api/stats/summary", `model=${model}`, { path: `/api/stats/summary${q({ model })}` });
  await add("GET /api/stats/summary", `7d user=${user}`, { path: `/api/stats/summary${q({ from: week, user })}` });
  await add("GET /api/stats/timeseries", "all, hour×model", { path: `/api/stats/timeseries${q({ bucket: "hour", group_by: "model" })}` });
  await add("GET /api/stats/timeseries", "7d, hour×model", { path: `/api/stats/timeseries${q({ from: week, bucket: "hour", group_by: "model" })}` });
  await add("GET /api/stats/timeseries", `all, hour model=${model}`, { path: `/api/stats/timeseries${q({ bucket: "hour", model })}` });
  await add("GET /api/stats/timeseries", "all, day×user", { path: `/api/stats/timeseries${q({ bucket: "day", group_by: "user" })}` });
  await add("GET /api/stats/models", "all", { path: "/api/stats/models" });
  await add("GET /api/stats/models", "7d", { path: `/api/stats/models${q({ from: week })}` });
  await add("GET /api/stats/providers", "all", { path: "/api/stats/providers" });
  await add("GET /api/stats/providers", "7d", { path: `/api/stats/providers${q({ from: week })}` });

  // sessions and users
  await add("GET /api/sessions", "all", { path: "/api/sessions" });
  await add("GET /api/sessions", "7d", { path: `/api/sessions${q({ from: week })}` });
  await add("GET /api/sessions", `user=${user}`, { path: `/api/sessions${q({ user })}` });
  let sessionCursor: string | undefined;
  for (let page = 1; page < 3; page++) {
    const r = await call(base, { path: `/api/sessions${q({ cursor: sessionCursor })}` });
    sessionCursor = (r.json.next_cursor as string | null) ?? undefined;
  }
  await add("GET /api/sessions", "page 3 (cursor)", { path: `/api/sessions${q({ cursor: sessionCursor })}` });
  await add("GET /api/sessions/{id}", "big session", { path: `/api/sessions/${encodeURIComponent(p.bigSession)}` });
  await add("GET /api/sessions/{id}", "median session", { path: `/api/sessions/${encodeURIComponent(p.typicalSession)}` });
  await add("GET /api/users", "all", { path: "/api/users" });
  await add("GET /api/users", "7d", { path: `/api/users${q({ from: week })}` });
  await add("GET /api/usage-summary", "today/week/month", { path: "/api/usage-summary" });

  // SQL
  const groupBy = (where: string) =>
    `SELECT project, coalesce(response_model, model) AS model, count(*) AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cost_usd)::VARCHAR AS cost_usd, count(*) FILTER (WHERE status >= 400) AS errors FROM requests ${where} GROUP BY ALL ORDER BY sum(cost_usd) DESC NULLS LAST`;
  await add("POST /api/sql", "group by project×model", { method: "POST", path: "/api/sql", body: { sql: groupBy("") } });
  await add("POST /api/sql", "7d group by project×model", { method: "POST", path: "/api/sql", body: { sql: groupBy(`WHERE started_at >= '${week}'::TIMESTAMPTZ`) } });
  await add("POST /api/sql", "daily cost per user", {
    method: "POST",
    path: "/api/sql",
    body: { sql: "SELECT date_trunc('day', started_at) AS day, user_id, sum(cost_usd)::VARCHAR AS cost FROM requests GROUP BY ALL ORDER BY day, user_id", max_rows: 100_000 },
  });
  return { results, walk };
}

// ── report ───────────────────────────────────────────────────────────────────
const fmtMs = (ms: number) => (Number.isFinite(ms) ? (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)) : "-");
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

function table(rows: string[][], align: ("l" | "r")[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r, i) => {
      const line = r.map((cell, c) => (align[c] === "r" ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ");
      return i === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line;
    })
    .join("\n");
}

function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

async function main() {
  const t0 = performance.now();
  const loadStart = loadavg().map((l) => l.toFixed(1)).join(" ");
  const dir = REUSE_DB ? undefined : mkdtempSync(join(tmpdir(), "loupe-bench-analytics-"));
  const db = REUSE_DB ? resolve(REUSE_DB) : join(dir!, "bench.duckdb");
  let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
  const cleanup = () => {
    if (gateway && gateway.proc.exitCode === null) gateway.proc.kill("SIGKILL");
    if (dir && !KEEP) rmSync(dir, { recursive: true, force: true });
  };
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });

  try {
    // The data ends "now" (to the minute) so usage-summary's today/week/month have data.
    let seeded: SeedResult | undefined;
    let targets: Targets | undefined;
    if (!REUSE_DB) {
      log(`seeding ${ROWS.toLocaleString("en-US")} rows into ${db} (batches of ${BATCH.toLocaleString("en-US")})`);
      seeded = await seed(db, Math.floor(Date.now() / 60_000) * 60_000);
      const p = seeded.plan;
      targets = { end: p.end, bigSession: p.bigSession, typicalSession: p.typicalSession, busyUser: p.busyUser, middleId: p.middleId ?? "" };
    }
    const dbBytes = fileSize(db) + fileSize(`${db}.wal`);

    gateway = await startGateway(db);
    const pid = gateway.proc.pid;
    const idle = memoryOf(pid);
    log(`gateway pid ${pid} at ${gateway.url} (started in ${gateway.startMs.toFixed(0)} ms)`);
    const sql = async (query: string) => {
      const r = await call(gateway!.url, { method: "POST", path: "/api/sql", body: { sql: query } });
      if (r.status !== 200) throw new Error(`${query}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
      return (r.json.rows as unknown[][])[0] ?? [];
    };
    if (!targets) {
      // A reused DB: find what to ask for with SQL (this warms the cache: "cold" is not cold then).
      log(`reusing ${db}: looking up the session, user and id to ask for (cold figures are warm-ish)`);
      const [last, middleId] = (await sql(`SELECT max(started_at)::VARCHAR, (SELECT id FROM requests ORDER BY started_at, id LIMIT 1 OFFSET (SELECT count(*) // 2 FROM requests)) FROM requests`)) as [string, string];
      const [bigSession] = (await sql("SELECT session_id FROM requests WHERE session_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")) as [string];
      const [typicalSession] = (await sql(
        "SELECT session_id FROM (SELECT session_id, count(*) AS n FROM requests WHERE session_id IS NOT NULL GROUP BY 1) ORDER BY n, session_id LIMIT 1 OFFSET (SELECT count(DISTINCT session_id) // 2 FROM requests)",
      )) as [string];
      const [busyUser] = (await sql("SELECT user_id FROM requests WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")) as [string];
      const end = Math.floor(new Date(last.replace(" ", "T").replace(/\+00$/, "Z")).getTime() / 60_000) * 60_000 + 60_000;
      targets = { end, bigSession, typicalSession, busyUser, middleId };
    }

    const { results, walk } = SET === "dashboard" ? { results: [], walk: [] } : await runCases(gateway.url, targets);
    const dashboard = SET === "routes" ? [] : await runDashboard((c) => call(gateway!.url, c), targets, { runs: DASH_RUNS, only: process.env.BENCH_ONLY, log });
    const after = memoryOf(pid);
    // Checked after the measurements, so that the first measured call is the gateway's first query.
    const [n, sessions, users, projects, models, first, last] = (await sql(
      "SELECT count(*)::INTEGER AS n, count(DISTINCT session_id)::INTEGER AS sessions, count(DISTINCT user_id)::INTEGER AS users, count(DISTINCT project)::INTEGER AS projects, count(DISTINCT model)::INTEGER AS models, min(started_at)::VARCHAR AS first, max(started_at)::VARCHAR AS last FROM requests",
    )) as [number, number, number, number, number, string, string];

    gateway.proc.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([gateway.proc.exited, new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), 15_000)))]);
    clearTimeout(timer);
    if (exited === "timeout") gateway.proc.kill("SIGKILL");
    const dbBytesAfter = fileSize(db) + fileSize(`${db}.wal`);

    // ── print ──
    const out: string[] = [];
    out.push("");
    out.push(`Loupe analytics bench — ${ROWS.toLocaleString("en-US")} records, ${WARM} warm runs per route, budget ${BUDGET_MS} ms`);
    out.push(`machine: ${navigator.hardwareConcurrency} cores, bun ${Bun.version}; load average ${loadStart} at start, ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end (other processes share the cores: compare with care)`);
    out.push(`data: ${Number(n).toLocaleString("en-US")} rows, ${sessions} sessions, ${users} users, ${projects} projects, ${models} models, ${first} → ${last}`);
    if (seeded) {
      const total = seeded.genMs + seeded.appendMs + seeded.closeMs;
      out.push(
        `seeding: ${(total / 1000).toFixed(1)} s total = ${Math.round(ROWS / (total / 1000)).toLocaleString("en-US")} rows/s ` +
          `(generate+JSON ${(seeded.genMs / 1000).toFixed(1)} s; store.append ${(seeded.appendMs / 1000).toFixed(1)} s = ${Math.round(ROWS / (seeded.appendMs / 1000)).toLocaleString("en-US")} rows/s, ${((seeded.appendMs * 1000) / ROWS).toFixed(1)} µs/row; checkpoint+close ${(seeded.closeMs / 1000).toFixed(1)} s)`,
      );
    }
    out.push(`DB file: ${mb(dbBytes)} (${((dbBytes / ROWS) | 0)} B/row)${dbBytesAfter !== dbBytes ? `, ${mb(dbBytesAfter)} after the gateway stopped` : ""}`);
    out.push(`gateway: started in ${gateway.startMs.toFixed(0)} ms; RSS ${idle.rssMb.toFixed(0)} MB idle → ${after.rssMb.toFixed(0)} MB after the queries (peak ${after.peakMb.toFixed(0)} MB)`);
    let misses = 0;
    if (dashboard.length) {
      out.push("");
      out.push(`Dashboard set: ${DASH_RUNS} timed calls per case (after one untimed), budget ${DASHBOARD_BUDGET_MS} ms at p95`);
      out.push("");
      const dashRows: string[][] = [["range", "page", "case", "p50 ms", "p95 ms", "max ms", "verdict"]];
      for (const r of dashboard as DashResult[]) {
        const ok = !r.error && r.p95 < DASHBOARD_BUDGET_MS;
        if (!ok) misses++;
        dashRows.push([r.range, r.page, r.scope, fmtMs(r.p50), fmtMs(r.p95), fmtMs(r.max), r.error ? "ERROR" : ok ? "PASS" : "MISS"]);
      }
      out.push(table(dashRows, ["l", "l", "l", "r", "r", "r", "l"]));
      for (const r of dashboard) if (r.error) out.push(`  ${r.range} ${r.page} [${r.scope}]: ${r.error}`);
      const dashMisses = dashboard.filter((r) => r.error || r.p95 >= DASHBOARD_BUDGET_MS).length;
      out.push("");
      out.push(`${dashboard.length - dashMisses}/${dashboard.length} dashboard cases answer in under ${DASHBOARD_BUDGET_MS} ms at p95`);
    }
    if (results.length) {
      out.push("");
      out.push(`/api/requests cursor walk, pages 1..${walk.length}: ${walk.map(fmtMs).join(", ")} ms`);
      out.push("");
      const rows: string[][] = [["route", "scope", "returned", "cold ms", "median ms", "max ms", "verdict"]];
      for (const r of results) {
        const ok = !r.error && r.max < BUDGET_MS;
        if (!ok) misses++;
        const verdict = r.error ? "ERROR" : ok ? (r.cold < BUDGET_MS ? "PASS" : "PASS (cold > 1 s)") : "MISS";
        rows.push([r.route, r.scope, r.size, fmtMs(r.cold), fmtMs(r.median), fmtMs(r.max), verdict]);
    }
    out.push(table(rows, ["l", "l", "r", "r", "r", "r", "l"]));
    for (const r of results) if (r.error) out.push(`  ${r.route} [${r.scope}]: ${r.error}`);
    out.push("");
    const routeMisses = results.filter((r) => r.error || r.max >= BUDGET_MS).length;
    out.push(`${results.length - routeMisses}/${results.length} routes answer in under ${BUDGET_MS} ms (warm max)`);
    }
    out.push(`total bench time ${((performance.now() - t0) / 1000).toFixed(0)} s; load average at the end ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
    if (KEEP && dir) out.push(`kept: ${db}  (rerun the queries with BENCH_DB=${db})`);
    console.log(out.join("\n"));
    process.exitCode = misses > 0 ? 1 : 0;
  } finally {
    cleanup();
  }
}

await main();
