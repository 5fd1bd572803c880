import { z } from "@hono/zod-openapi";

/**
 * The analytics API's request and response schemas: the single source for
 * validation and for the OpenAPI document. Money is an exact decimal string
 * (`"0.015384000"`); token counts are numbers; timestamps are ISO-like strings
 * in UTC (`2026-11-24 13:21:33.092+00`).
 */
const money = z.string().regex(/^-?\d+\.\d{9}$/).openapi({ example: "0.015384000", description: "USD, exact, 9 decimals" });
const nullableNumber = z.number().nullable();

export const ErrorSchema = z
  .object({ error: z.object({ message: z.string(), field: z.string().optional(), type: z.string() }) })
  .openapi("Error");

const isoDate = z.iso.datetime({ offset: true }).or(z.iso.date()).openapi({ example: "2026-11-01T00:00:00Z" });

export const FilterQuery = z.object({
  from: isoDate.optional().openapi({ description: "inclusive start (ISO 8601)" }),
  to: isoDate.optional().openapi({ description: "exclusive end (ISO 8601)" }),
  provider: z.string().min(1).optional(),
  model: z.string().min(1).optional().openapi({ description: "requested or responding model" }),
  status: z
    .union([z.enum(["ok", "error"]), z.coerce.number().int().min(100).max(599)])
    .optional()
    .openapi({ description: "`ok`, `error`, or an HTTP status" }),
  session: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  project: z.string().min(1).optional(),
  tag: z.string().min(1).optional(),
  min_cost: z.string().regex(/^\d+(\.\d{1,9})?$/, "a decimal number of USD").optional(),
  streamed: z.stringbool().optional(),
});

export const PageQuery = FilterQuery.extend({
  cursor: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  sort: z.enum(["started_at", "cost_usd", "duration_ms", "output_tokens"]).default("started_at"),
  order: z.enum(["asc", "desc"]).default("desc"),
});

export const TotalsSchema = z
  .strictObject({
    requests: z.number(),
    errors: z.number(),
    streamed: z.number(),
    input_tokens: z.number(),
    cache_read_tokens: z.number(),
    cache_write_tokens: z.number(),
    output_tokens: z.number(),
    reasoning_tokens: z.number(),
    cost_usd: money,
    unpriced_requests: z.number().openapi({ description: "billable calls that reported tokens but whose model has no known price (cost NULL)" }),
    cache_hit_ratio: nullableNumber.openapi({ description: "cache-read input tokens / all input tokens" }),
    latency_p50_ms: nullableNumber,
    latency_p95_ms: nullableNumber,
    ttfb_p50_ms: nullableNumber,
    ttfb_p95_ms: nullableNumber,
  })
  .openapi("Totals");

export const RequestItemSchema = z
  .strictObject({
    id: z.string(),
    started_at: z.string(),
    duration_ms: z.number(),
    ttfb_ms: nullableNumber,
    provider: z.string(),
    operation: z.string().nullable(),
    method: z.string(),
    path: z.string(),
    status: z.number(),
    model: z.string().nullable(),
    response_model: z.string().nullable(),
    streamed: z.boolean(),
    input_tokens: nullableNumber,
    cache_read_tokens: nullableNumber,
    cache_write_tokens: nullableNumber,
    output_tokens: nullableNumber,
    reasoning_tokens: nullableNumber,
    cost_usd: money.nullable(),
    cost_source: z.string().nullable(),
    session_id: z.string().nullable(),
    user_id: z.string().nullable(),
    project: z.string().nullable(),
    tags: z.array(z.string()).nullable(),
    finish_reason: z.string().nullable(),
    error_type: z.string().nullable(),
    truncated: z.boolean(),
    trace_id: z.string().nullable(),
  })
  .openapi("RequestItem");

export const RequestDetailSchema = RequestItemSchema.extend({
  cache_write_1h_tokens: nullableNumber,
  price_version: z.string().nullable(),
  error_message: z.string().nullable(),
  request_bytes: z.number(),
  response_bytes: z.number(),
  upstream_request_id: z.string().nullable(),
  usage_raw: z.string().nullable(),
  request_body: z.string().nullable(),
  response_body: z.string().nullable(),
  agent_id: z.string().nullable(),
  parent_agent_id: z.string().nullable(),
  request_class: z.string().nullable(),
  agent_type: z.string().nullable(),
}).openapi("RequestDetail");

export const RequestPageSchema = z
  .strictObject({ items: z.array(RequestItemSchema), next_cursor: z.string().nullable() })
  .openapi("RequestPage");

export const SummarySchema = TotalsSchema.extend({
  cache_savings_usd: money.openapi({ description: "what cache reads saved against the uncached input price" }),
  cache_savings_unpriced_tokens: z.number().openapi({ description: "cache-read tokens of models without a known price (not in the savings)" }),
}).openapi("Summary");

export const TimeseriesQuery = FilterQuery.extend({
  bucket: z.enum(["minute", "hour", "day"]).default("hour"),
  group_by: z.enum(["provider", "model", "project", "user"]).optional(),
});

export const TimeseriesSchema = z
  .strictObject({
    bucket: z.enum(["minute", "hour", "day"]),
    group_by: z.string().nullable(),
    points: z.array(TotalsSchema.extend({ bucket: z.string(), group: z.string().nullable() })),
  })
  .openapi("Timeseries");

export const ModelBreakdownSchema = z
  .strictObject({ items: z.array(TotalsSchema.extend({ provider: z.string(), model: z.string().nullable() })) })
  .openapi("ModelBreakdown");

export const ProviderBreakdownSchema = z
  .strictObject({ items: z.array(TotalsSchema.extend({ provider: z.string() })) })
  .openapi("ProviderBreakdown");

const SessionFields = TotalsSchema.extend({
  session_id: z.string(),
  first_at: z.string(),
  last_at: z.string(),
  models: z.array(z.string()).nullable(),
  user_id: z.string().nullable(),
  project: z.string().nullable(),
});

export const SessionPageSchema = z
  .strictObject({ items: z.array(SessionFields), next_cursor: z.string().nullable() })
  .openapi("SessionPage");

export const SessionDetailSchema = z
  .strictObject({
    session: SessionFields.extend({ first_prompt: z.string().nullable() }),
    calls: z.array(RequestItemSchema),
  })
  .openapi("SessionDetail");

export const UsersSchema = z
  .strictObject({
    items: z.array(TotalsSchema.extend({ user_id: z.string(), first_at: z.string(), last_at: z.string(), sessions: z.number() })),
  })
  .openapi("Users");

export const UsageSummarySchema = z
  .strictObject({ now: z.string(), today: TotalsSchema, this_week: TotalsSchema, this_month: TotalsSchema })
  .openapi("UsageSummary");

export const SqlBodySchema = z
  .object({
    sql: z.string().min(1).openapi({ example: "select model, sum(cost_usd) from requests group by 1" }),
    format: z.enum(["json", "csv"]).default("json"),
    max_rows: z.number().int().min(1).max(100_000).default(10_000),
  })
  .openapi("SqlQuery");

export const SqlResultSchema = z
  .strictObject({ columns: z.array(z.string()), rows: z.array(z.array(z.unknown())), truncated: z.boolean() })
  .openapi("SqlResult");
