import { MESSAGES_ERROR_TYPE } from "../translate/convert-error.ts";
import type { ErrorDialect, LoupeError } from "../errors.ts";

/**
 * Loupe's own errors, shaped the way each family of SDKs parses errors, so a
 * client raises its usual error class (BadRequestError, RateLimitError, …)
 * with Loupe's message. Upstream errors never come through here: they pass
 * through untouched.
 */

/** `{"type":"error","error":{"type","message"}}` (Anthropic API, "Errors"). */
export const anthropicErrors: ErrorDialect = {
  body: (error: LoupeError) => ({ type: "error", error: { type: MESSAGES_ERROR_TYPE[error.status] ?? "api_error", message: error.message } }),
};

/** `{"error":{"message","type","param","code"}}` (OpenAI API reference, Error object); every OpenAI-compatible API shares it. */
export const openAIErrors: ErrorDialect = {
  body: (error: LoupeError) => ({
    error: { message: error.message, type: error.status < 500 ? "invalid_request_error" : "server_error", param: null, code: error.code },
  }),
};

/** Gemini's `status`: the google.rpc.Code name for each HTTP status (google/rpc/code.proto). */
const GOOGLE_STATUS: Readonly<Record<number, string>> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  408: "DEADLINE_EXCEEDED",
  413: "INVALID_ARGUMENT",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  502: "UNAVAILABLE",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

/** `{"error":{"code","message","status"}}` (Google API errors, AIP-193). */
export const googleErrors: ErrorDialect = {
  body: (error: LoupeError) => ({ error: { code: error.status, message: error.message, status: GOOGLE_STATUS[error.status] ?? "UNKNOWN" } }),
};
