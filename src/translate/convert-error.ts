import { asObject, asString, type Json } from "./json.ts";

/**
 * Upstream error bodies rendered in the client's dialect; the caller keeps
 * the upstream status. Bodies may be parsed JSON or, from a proxy in between,
 * plain text.
 */

/** Messages error `type` per status (Messages API, "Errors"); Loupe's own errors in that dialect use it too (providers/dialects.ts). */
export const MESSAGES_ERROR_TYPE: Readonly<Record<number, string>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  408: "timeout_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  502: "api_error",
  503: "overloaded_error",
  504: "timeout_error",
  529: "overloaded_error",
};

function messageOf(body: unknown, fallback: string): string {
  if (typeof body === "string") return body.trim().slice(0, 1000) || fallback;
  const error = asObject(asObject(body)["error"]);
  return asString(error["message"]) ?? asString(asObject(body)["message"]) ?? fallback;
}

/** `{"type":"error","error":{"type","message"}}` → `{"error":{"message","type","param","code"}}`. */
export function convertMessagesErrorToChat(body: unknown, status: number): Json {
  const type = asString(asObject(asObject(body)["error"])["type"]) ?? (status < 500 ? "invalid_request_error" : "server_error");
  return { error: { message: messageOf(body, `upstream error ${status}`), type, param: null, code: type } };
}

/**
 * `{"error":{"message","type","code"}}` → `{"type":"error","error":{"type","message"}}`.
 * A context overflow is worded as the Messages API words it ("prompt is too
 * long: …"), which is what Claude Code matches to compact and retry.
 */
export function convertChatErrorToMessages(body: unknown, status: number): Json {
  const error = asObject(asObject(body)["error"]);
  let message = messageOf(body, `upstream error ${status}`);
  if (error["code"] === "context_length_exceeded" && !/^prompt is too long/i.test(message)) message = `prompt is too long: ${message}`;
  const type = MESSAGES_ERROR_TYPE[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
  return { type: "error", error: { type, message } };
}
