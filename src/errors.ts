/**
 * Every error Loupe itself raises, with its one HTTP status. The proxy, `/api`
 * and `/_loupe` all answer from this table; only the body's shape differs
 * (a provider route speaks its provider's dialect, everything else `neutral`).
 */
const STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  query_timeout: 408,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  upstream_unreachable: 502,
  unavailable: 503,
  upstream_timeout: 504,
} as const;

export type LoupeErrorCode = keyof typeof STATUS;

export class LoupeError extends Error {
  readonly code: LoupeErrorCode;
  /** The request field at fault, when one is (query parameters of `/api`). */
  readonly field: string | undefined;
  constructor(code: LoupeErrorCode, message: string, options?: ErrorOptions & { field?: string | undefined }) {
    super(message, options);
    this.name = "LoupeError";
    this.code = code;
    this.field = options?.field;
  }
  get status(): number {
    return STATUS[this.code];
  }
}

/**
 * Errors other modules throw, by class name (so this module imports none of
 * them): mistakes in a caller's query are theirs to fix, a query that ran too
 * long is a timeout, on `/api/sql` and `/_loupe/sql` alike.
 */
const CODE_BY_NAME: Readonly<Record<string, LoupeErrorCode>> = {
  ApiInputError: "invalid_request",
  InvalidCursorError: "invalid_request",
  UnsafeQueryError: "invalid_request",
  InvalidQueryError: "invalid_request",
  QueryTimeoutError: "query_timeout",
  AccessInputError: "invalid_request",
  AccessNotFoundError: "not_found",
  AccessUnavailableError: "unavailable",
  ClickHouseUnavailableError: "unavailable",
};

/** Any thrown value as a LoupeError: itself, a known error by name, else `internal`. */
export function toLoupeError(error: unknown): LoupeError {
  if (error instanceof LoupeError) return error;
  const name = error instanceof Error ? error.name : "";
  const message = error instanceof Error ? error.message : String(error);
  return new LoupeError(CODE_BY_NAME[name] ?? "internal", message, { cause: error });
}

/** How a route's clients expect an error body: each provider's SDK has its own shape. */
export interface ErrorDialect {
  body(error: LoupeError): unknown;
  /** Headers some SDKs read the error type from. */
  headers?(error: LoupeError): Record<string, string>;
}

/** Loupe's own shape, for routes that belong to no provider (`/api`, `/_loupe`, unknown paths). */
export const neutral: ErrorDialect = {
  body: (error) => ({ error: { type: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } }),
};

export function renderError(error: LoupeError, dialect: ErrorDialect = neutral, headers: Record<string, string> = {}): Response {
  const response = Response.json(dialect.body(error), { status: error.status, headers: dialect.headers ? { ...dialect.headers(error), ...headers } : headers });
  response.headers.set("x-loupe-error", error.code);
  return response;
}
