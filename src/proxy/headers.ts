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

function connectionListed(headers: Headers): ReadonlySet<string> {
  const listed = headers.get("connection");
  return listed ? new Set(listed.split(",").map((h) => h.trim().toLowerCase())) : NONE;
}

/** The client's headers as sent upstream: its own auth and every provider header, minus hop-by-hop and `x-loupe-*`. */
export function forwardRequestHeaders(incoming: Headers): Headers {
  const listed = connectionListed(incoming);
  const out = new Headers();
  for (const [name, value] of incoming) {
    if (HOP_BY_HOP.has(name) || listed.has(name) || name === "host" || name === "content-length") continue;
    if (name.startsWith("x-loupe-")) continue;
    out.append(name, value);
  }
  return out;
}

/**
 * The upstream's response headers as the client gets them (minus hop-by-hop).
 * Usually there is nothing to remove, and the upstream's own (mutable) Headers
 * are handed on: no copy on the hot path.
 */
export function forwardResponseHeaders(upstream: Headers): Headers {
  let clean = true;
  for (const name of upstream.keys()) {
    if (HOP_BY_HOP.has(name)) {
      clean = false;
      break;
    }
  }
  if (clean) return upstream;
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
