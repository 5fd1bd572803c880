/**
 * The questions the analytics API asks of the records. DuckDB answers them
 * today (duckdb-analytics.ts); a ClickHouse store will implement the same
 * interface. Everything crossing it is plain JSON data (dates as ISO strings,
 * money as exact decimal strings), so it can cross a worker boundary too.
 */
export interface RequestFilter {
  from?: string | undefined;
  to?: string | undefined;
  provider?: string | undefined;
  model?: string | undefined;
  status?: number | "ok" | "error" | undefined;
  session?: string | undefined;
  user?: string | undefined;
  project?: string | undefined;
  tag?: string | undefined;
  minCost?: string | undefined;
  streamed?: boolean | undefined;
  /** Only the calls counted in `unpriced_requests` (true), or only the others (false). */
  unpriced?: boolean | undefined;
}

export type SortField = "started_at" | "cost_usd" | "duration_ms" | "output_tokens";

export interface PageRequest {
  cursor?: string | undefined;
  limit: number;
  sort: SortField;
  order: "asc" | "desc";
}

export type Row = Record<string, unknown>;

export interface Page<T = Row> {
  items: T[];
  next_cursor: string | null;
}

export interface Totals {
  requests: number;
  errors: number;
  streamed: number;
  input_tokens: number;
  cache_read_tokens: number;
  /** 5-minute and 1-hour writes together. */
  cache_write_tokens: number;
  /** The 1-hour part of cache_write_tokens. */
  cache_write_1h_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_usd: string;
  unpriced_requests: number;
  cache_hit_ratio: number | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  ttfb_p50_ms: number | null;
  ttfb_p95_ms: number | null;
}

/** Cache reads per priced model, for the API to turn into savings with the price book. */
export interface CacheReadsByModel {
  provider: string;
  model: string;
  cache_read_tokens: number;
}

export type Bucket = "minute" | "hour" | "day";
export type GroupBy = "provider" | "model" | "project" | "user";

/** The rate-limit headers (record column `ratelimit`) seen in a bucket, for one provider, organization and gateway key. */
export interface RateLimitPoint {
  bucket: string;
  provider: string;
  organization: string | null;
  key_id: string | null;
  /** The bucket's last call that carried rate-limit headers. */
  last_at: string;
  /** Each header's value in the last call of the bucket that carried it. */
  headers: Record<string, string>;
}

/** The latest value of each rate-limit header of a provider and organization over a whole range. */
export interface RateLimitLatest {
  provider: string;
  organization: string | null;
  /** The gateway keys whose calls carried them (none: calls without a key). */
  key_ids: string[];
  last_at: string;
  headers: Record<string, string>;
}

export interface AnalyticsStore {
  listRequests(filter: RequestFilter, page: PageRequest): Promise<Page>;
  getRequest(id: string): Promise<Row | undefined>;
  summary(filter: RequestFilter): Promise<{ totals: Totals; cacheReads: CacheReadsByModel[] }>;
  /**
   * Totals per bucket (and group). With `top`, the `top` groups of highest cost over the whole filtered range
   * (then most calls, then name) keep their name and every other group is folded into one named `(other)`.
   */
  timeseries(filter: RequestFilter, bucket: Bucket, groupBy: GroupBy | undefined, options?: { top?: number | undefined }): Promise<(Totals & { bucket: string; group: string | null })[]>;
  /** Per provider (and model); per model, the calls per cost source too (`unpriced`, `none` for calls with nothing to price). */
  breakdown(filter: RequestFilter, by: "model" | "provider"): Promise<(Totals & { provider: string; model?: string | null; cost_sources?: Record<string, number> })[]>;
  sessions(filter: RequestFilter, page: { cursor?: string | undefined; limit: number }): Promise<Page>;
  /** A session: its totals, its calls in order (with their agent fields), and totals per agent (null = the main agent) in order of first call. */
  session(id: string): Promise<{ session: Row; calls: Row[]; agents: Row[] } | undefined>;
  users(filter: RequestFilter): Promise<Row[]>;
  projects(filter: RequestFilter): Promise<Row[]>;
  /** The providers' rate-limit headers over time (filters `from`, `to`, `provider`), and their latest values per provider and organization. */
  rateLimits(filter: RequestFilter, bucket: Bucket): Promise<{ points: RateLimitPoint[]; latest: RateLimitLatest[] }>;
  /** Totals since the start of the UTC day, ISO week and month containing `now`. */
  usageSummary(now: string): Promise<{ today: Totals; this_week: Totals; this_month: Totals }>;
}
