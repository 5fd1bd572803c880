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
  unpriced: z
    .stringbool()
    .optional()
    .openapi({ description: "`true`: only the calls counted in `unpriced_requests`; `false`: only the others" }),
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
    cache_write_tokens: z.number().openapi({ description: "all cache writes: 5-minute plus 1-hour" }),
    cache_write_1h_tokens: z.number().openapi({ description: "the 1-hour part of cache_write_tokens" }),
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

const usdPerMtok = z.number().nullable();

export const CostComponentSchema = z
  .strictObject({
    kind: z.enum(["input", "cache_read", "cache_write_5m", "cache_write_1h", "output", "reasoning", "requests"]).openapi({
      description: "`input` is the uncached input; `reasoning` appears only when the model prices it apart from output",
    }),
    tokens: z.number().openapi({ description: "tokens of this kind; for `requests`, the call itself (1)" }),
    usd_per_mtok: usdPerMtok.openapi({ description: "USD per million tokens, the tier that applied; null for `requests` or a kind the price leaves out" }),
    cost_usd: money,
  })
  .openapi("CostComponent");

export const CostBreakdownSchema = z
  .strictObject({
    cost_source: z.string().nullable().openapi({ description: "the record's: `genai-prices`, `override`, `provider`, `free`, or null (unpriced)" }),
    price_version: z.string().nullable().openapi({ description: "the record's price data version" }),
    price_source: z.enum(["genai-prices", "override"]).nullable().openapi({ description: "where the price below comes from" }),
    priced_model: z.string().nullable().openapi({ description: "the model id in the price data that matched" }),
    components: z.array(CostComponentSchema),
    total_usd: money.nullable().openapi({ description: "the components' sum; null without components" }),
    matches_record: z.boolean().openapi({ description: "total_usd equals the record's cost_usd" }),
    note: z.string().nullable().openapi({ description: "why there are no components, or why the total differs from the record" }),
  })
  .openapi("CostBreakdown");

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
  cost_breakdown: CostBreakdownSchema.nullable().openapi({ description: "how the cost was made; null when the call had nothing to price" }),
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
  top: z.coerce.number().int().min(1).max(50).optional().openapi({
    description: "with group_by: keep the `top` groups of highest cost over the whole range (then most calls, then name); the others become one group named `(other)`",
  }),
});

export const TimeseriesSchema = z
  .strictObject({
    bucket: z.enum(["minute", "hour", "day"]),
    group_by: z.string().nullable(),
    points: z.array(TotalsSchema.extend({ bucket: z.string(), group: z.string().nullable() })),
  })
  .openapi("Timeseries");

const mtok = z.number().nullable();

export const ModelPriceSchema = z
  .strictObject({
    source: z.enum(["genai-prices", "override"]),
    priced_model: z.string().openapi({ description: "the model id in the price data that matched" }),
    input_mtok: mtok,
    cache_read_mtok: mtok,
    cache_write_mtok: mtok,
    cache_write_1h_mtok: mtok,
    output_mtok: mtok,
    output_reasoning_mtok: mtok,
    tiered: z.boolean().openapi({ description: "some price changes past an input size; the figures are the base tier" }),
  })
  .openapi("ModelPrice");

export const ModelBreakdownSchema = z
  .strictObject({
    items: z.array(
      TotalsSchema.extend({
        provider: z.string(),
        model: z.string().nullable(),
        cost_sources: z.record(z.string(), z.number()).openapi({
          description: "calls per cost_source; `unpriced` for the calls counted in unpriced_requests, `none` for calls with nothing to price",
          example: { "genai-prices": 1200, free: 31, unpriced: 4 },
        }),
        price: ModelPriceSchema.nullable().openapi({ description: "the price book's current entry for this provider and model (USD per million tokens), null when it has none" }),
      }),
    ),
  })
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

const agentFields = {
  agent_id: z.string().nullable(),
  parent_agent_id: z.string().nullable(),
  agent_type: z.string().nullable(),
};

export const SessionCallSchema = RequestItemSchema.extend({ ...agentFields, request_class: z.string().nullable() }).openapi("SessionCall");

export const SessionAgentSchema = TotalsSchema.extend({
  ...agentFields,
  agent_id: z.string().nullable().openapi({ description: "null: the main agent (calls without an agent id)" }),
  first_at: z.string(),
  last_at: z.string(),
}).openapi("SessionAgent");

export const SessionDetailSchema = z
  .strictObject({
    session: SessionFields.extend({ first_prompt: z.string().nullable() }),
    agents: z.array(SessionAgentSchema).openapi({ description: "totals per agent, in order of first call" }),
    calls: z.array(SessionCallSchema),
  })
  .openapi("SessionDetail");

export const UsersSchema = z
  .strictObject({
    items: z.array(TotalsSchema.extend({ user_id: z.string(), first_at: z.string(), last_at: z.string(), sessions: z.number() })),
  })
  .openapi("Users");

export const ProjectsSchema = z
  .strictObject({
    items: z.array(TotalsSchema.extend({ project: z.string(), first_at: z.string(), last_at: z.string(), sessions: z.number(), users: z.number() })),
  })
  .openapi("Projects");

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

export const RateLimitsQuery = FilterQuery.pick({ from: true, to: true, provider: true }).extend({
  bucket: z.enum(["minute", "hour", "day"]).default("hour"),
});

const figures = z.record(z.string(), z.union([z.number(), z.string()])).openapi({
  description: "header name → its latest value: a number where it is one, else the text as sent",
  example: { "x-ratelimit-remaining-requests": 59, "x-ratelimit-reset-requests": "1s" },
});

const MeterSchema = z
  .strictObject({
    utilization: z.number().nullable().openapi({ description: "the fraction of the window used (0..1), as the provider reports it" }),
    status: z.string().nullable(),
    reset: z.union([z.number(), z.string()]).nullable().openapi({ description: "as sent: Unix seconds, or a date" }),
    reset_at: z.string().nullable().openapi({ description: "`reset` as an ISO instant" }),
  })
  .openapi("RateLimitMeter");

export const RateLimitsSchema = z
  .strictObject({
    bucket: z.enum(["minute", "hour", "day"]),
    points: z.array(
      z.strictObject({
        bucket: z.string(),
        provider: z.string(),
        organization: z.string().nullable().openapi({ description: "whose limits, as the provider names it in a response header; null when it does not" }),
        key_id: z.string().nullable().openapi({ description: "the gateway key of the calls; null: calls without one" }),
        last_at: z.string().openapi({ description: "the bucket's last call with rate-limit headers" }),
        headers: figures.openapi({ description: "each header's value in the bucket's last call that carried it" }),
      }),
    ),
    latest: z.array(
      z.strictObject({
        provider: z.string(),
        organization: z.string().nullable(),
        key_ids: z.array(z.string()),
        last_at: z.string(),
        headers: figures.openapi({ description: "each header's latest value in the range" }),
        meters: z.record(z.string(), MeterSchema).openapi({
          description: "the windows the headers report, by window (headers named `…-5h-utilization`, `…-7d-status`, `…-7d-reset`): a subscription plan's 5-hour and 7-day meters",
        }),
      }),
    ),
  })
  .openapi("RateLimits");
