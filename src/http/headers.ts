/**
 * Hop-by-hop headers (RFC 9110 §7.6.1, plus the legacy ones RFC 2616 §13.5.1
 * listed) describe one connection and are never forwarded. `host` and
 * `content-length` are recomputed for the new request.
 */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

const NONE: ReadonlySet<string> = new Set();

const connectionTokens = (value: string): ReadonlySet<string> => new Set(value.split(",").map((h) => h.trim().toLowerCase()));

function connectionListed(headers: Headers): ReadonlySet<string> {
  const listed = headers.get("connection");
  return listed ? connectionTokens(listed) : NONE;
}

/** Header name → value (only `set-cookie` may be a list). */
export type HeaderObject = Record<string, string | string[]>;

/** A header's value as `Headers.get` gives it (a list joined), null when absent. */
export const headerText = (value: string | string[] | undefined): string | null =>
  value === undefined ? null : typeof value === "string" ? value : value.join(", ");

/**
 * Every header in one object, repeated ones joined (as `Headers` iteration
 * joins them); Bun has this natively. One native call, then property reads:
 * cheaper than a `get` per header on the hot path (bench/).
 */
export function headerObject(headers: Headers): HeaderObject {
  const native = (headers as Headers & { toJSON?: () => Record<string, string | string[]> }).toJSON;
  return native ? native.call(headers) : Object.fromEntries(headers);
}

/**
 * The client's headers as sent upstream: its own auth and every provider
 * header, minus hop-by-hop and `x-loupe-*`. A plain object, made from
 * `headerObject`'s (fetch takes it as it is): no native call per header.
 */
export function forwardRequestHeaders(all: HeaderObject): Record<string, string> {
  const connection = all.connection;
  // Usually just "keep-alive" or "close", which name no header to drop beyond the hop-by-hop ones.
  const listed = typeof connection === "string" && connection !== "keep-alive" && connection !== "close" ? connectionTokens(connection) : NONE;
  const out: Record<string, string> = {};
  for (const name in all) {
    if (HOP_BY_HOP.has(name) || listed.has(name) || name === "host" || name === "content-length" || name.startsWith("x-loupe-")) continue;
    // Only set-cookie comes as a list; a request has no use for it, but it passes as sent (joined).
    out[name] = headerText(all[name])!;
  }
  return out;
}

/**
 * Bun lets a fetch response's headers be changed; Deno keeps them immutable, as
 * the Fetch standard's guard says, and there they are copied. The same for every
 * response of a runtime, so it is tried once.
 */
let responseHeadersChange: boolean | undefined;
function canChange(upstream: Headers): boolean {
  if (responseHeadersChange === undefined) {
    try {
      upstream.delete("x-loupe-request-id"); // the caller sets its own
      responseHeadersChange = true;
    } catch {
      responseHeadersChange = false;
    }
  }
  return responseHeadersChange;
}

/**
 * The upstream's response headers as the client gets them (minus hop-by-hop).
 * Usually there is nothing to remove, and the upstream's own (mutable) Headers
 * are handed on: no copy on the hot path.
 */
export function forwardResponseHeaders(upstream: Headers, all: HeaderObject = headerObject(upstream)): Headers {
  let clean = true;
  for (const name in all) {
    if (HOP_BY_HOP.has(name)) {
      clean = false;
      break;
    }
  }
  if (clean && canChange(upstream)) return upstream;
  const listed = connectionListed(upstream);
  const out = new Headers();
  for (const [name, value] of upstream) {
    if (HOP_BY_HOP.has(name) || listed.has(name)) continue;
    out.append(name, value);
  }
  // Headers.entries() joins repeated set-cookie; keep each one.
  const cookies = upstream.getSetCookie();
  if (cookies.length > 1) {
    out.delete("set-cookie");
    for (const cookie of cookies) out.append("set-cookie", cookie);
  }
  return out;
}
