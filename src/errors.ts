import type { Dialect } from "./providers/contract.ts";

/** Every error Loupe itself raises, with its one HTTP status. */
const STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
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
  constructor(code: LoupeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LoupeError";
    this.code = code;
  }
  get status(): number {
    return STATUS[this.code];
  }
}

/** Anthropic's error `type` for each status (docs: "HTTP errors"). */
const ANTHROPIC_TYPE: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  502: "api_error",
  503: "overloaded_error",
  504: "timeout_error",
};

/** Gemini's `status` (google.rpc.Code names) for each HTTP status. */
const GOOGLE_STATUS: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  404: "NOT_FOUND",
  413: "INVALID_ARGUMENT",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  502: "UNAVAILABLE",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

/** The body of a Loupe error in the dialect of the route that raised it. */
export function renderErrorBody(error: LoupeError, dialect: Dialect): unknown {
  const status = error.status;
  switch (dialect) {
    case "anthropic":
      return { type: "error", error: { type: ANTHROPIC_TYPE[status] ?? "api_error", message: error.message } };
    case "gemini":
      return { error: { code: status, message: error.message, status: GOOGLE_STATUS[status] ?? "UNKNOWN" } };
    case "openai":
      return {
        error: {
          message: error.message,
          type: status < 500 ? "invalid_request_error" : "server_error",
          param: null,
          code: error.code,
        },
      };
  }
}

export function renderError(error: LoupeError, dialect: Dialect, headers: Record<string, string> = {}): Response {
  const response = Response.json(renderErrorBody(error, dialect), { status: error.status, headers });
  response.headers.set("x-loupe-error", error.code);
  return response;
}
