import { LoupeError } from "../errors.ts";
import type { ClientMeta, EventRewrite } from "../providers/contract.ts";
import { asObject } from "../usage/usage.ts";
import type { CallState } from "./call-state.ts";
import type { ProxyDeps } from "./proxy-deps.ts";

const utf8 = new TextDecoder();

/**
 * Client metadata from the headers, completed by what the body says: a field
 * the headers give wins, and the body's agent type and parent count only
 * when the headers name no other class.
 */
export function completeClient(fromHeaders: ClientMeta | undefined, fromBody: ClientMeta): ClientMeta {
  if (!fromHeaders) return fromBody;
  const sameClass = fromHeaders.requestClass === undefined || fromHeaders.requestClass === fromBody.requestClass;
  return {
    agentId: fromHeaders.agentId ?? fromBody.agentId,
    parentAgentId: fromHeaders.parentAgentId ?? (sameClass ? fromBody.parentAgentId : undefined),
    requestClass: fromHeaders.requestClass ?? fromBody.requestClass,
    agentType: fromHeaders.agentType ?? (sameClass ? fromBody.agentType : undefined),
  };
}

const queryOf = (path: string) => {
  const at = path.indexOf("?");
  return at < 0 ? "" : path.slice(at);
};

/** What goes upstream: the client's bytes, unless an endpoint hook had to change them. */
export interface UpstreamBody {
  bytes: Uint8Array | undefined;
  /** Applied to each SSE event the client receives, when the hook changed what the upstream sends. */
  rewriteEvent: EventRewrite | undefined;
}

/**
 * Step 1: the request body. Learns what it can (model, stream, session,
 * user, parameters) and leaves the bytes as they are unless the endpoint's
 * hook must change them. Returns the error to answer with when the body is
 * refused (too large, not JSON where JSON is expected).
 */
export function readRequestBody(call: CallState, body: Uint8Array | undefined, deps: ProxyDeps): UpstreamBody | LoupeError {
  const { config } = deps;
  const { endpoint } = call;
  call.requestBytes = body?.byteLength ?? 0;
  if (body && body.byteLength > config.limits.maxBodyBytes) {
    return new LoupeError("payload_too_large", `request body exceeds the limit of ${config.limits.maxBodyBytes} bytes`);
  }
  if (call.logBody === "full" && body) call.requestBody = utf8.decode(body.subarray(0, config.limits.maxLoggedBodyBytes));
  const forwarded: UpstreamBody = { bytes: body, rewriteEvent: undefined };
  if (!endpoint) return forwarded;
  if (!body || body.byteLength === 0) {
    const read = endpoint.readRequest?.({});
    call.facts = { ...call.facts, model: read?.model, streamed: read?.streamed ?? false };
    return forwarded;
  }
  let json: Record<string, unknown> | undefined;
  try {
    json = asObject(JSON.parse(utf8.decode(body)));
    if (!json) throw new Error("the body must be a JSON object");
  } catch (error) {
    return new LoupeError("invalid_request", `malformed JSON in request body: ${(error as Error).message}`);
  }
  call.requestJson = json;
  try {
    const read = endpoint.readRequest?.(json, call.incoming);
    if (read) call.facts = { model: read.model, streamed: read.streamed ?? false, sessionId: call.facts.sessionId ?? read.sessionId, userId: read.userId, params: read.params };
    if (read?.client) call.client = completeClient(call.client, read.client);
    if (call.captureContent) call.requestContent = endpoint.content?.readRequestContent?.(json);
    const prepared = endpoint.prepareUpstream?.(json, { query: queryOf(call.path) });
    if (prepared) {
      forwarded.bytes = prepared.bytes;
      forwarded.rewriteEvent = prepared.rewriteEvent;
    }
  } catch (error) {
    deps.onInternalError(`reading request ${call.id}: ${(error as Error).message}`);
  }
  return forwarded;
}
