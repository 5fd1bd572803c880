/**
 * The bench's OTLP/HTTP backend: as cheap as possible, so it is never what is
 * measured. Run as its own process (`bun bench/otlp-sink.ts`); it prints
 * `{"url": "http://127.0.0.1:PORT"}` on stdout once listening.
 *
 *   POST /v1/traces, /v1/metrics, …  reads the body, answers 200 with an empty body
 *                                     and `content-type: application/x-protobuf`
 *                                     (an empty ExportTrace/MetricsServiceResponse)
 *   GET  /_stats                      requests, bytes and spans seen, by path
 *
 * Spans are counted by walking only the outer levels of the protobuf
 * ExportTraceServiceRequest (resource_spans=1 → scope_spans=2 → spans=2),
 * skipping each span's bytes, so the count costs next to nothing. An
 * http/json exporter (for comparison runs) gets `{}` as application/json, and
 * its spans are counted by parsing the JSON.
 */

export interface SinkPathStats {
  requests: number;
  /** Body bytes as received (compressed if the exporter compresses). */
  bytes: number;
  /** Spans in the requests (only /v1/traces with a protobuf body). */
  spans: number;
  /** Bodies that could not be read as protobuf (JSON, or broken). */
  undecoded: number;
}

/** Length-delimited fields `field` of a protobuf message, as subarrays. Throws on malformed input. */
function fields(buf: Uint8Array, field: number, onField: (sub: Uint8Array) => void): void {
  let i = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (i >= buf.length) throw new Error("truncated varint");
      const b = buf[i++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new Error("varint too long");
    }
  };
  while (i < buf.length) {
    const key = varint();
    const wire = key & 7;
    const num = Math.floor(key / 8);
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = varint();
      if (i + len > buf.length) throw new Error("truncated field");
      if (num === field) onField(buf.subarray(i, i + len));
      i += len;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  if (i !== buf.length) throw new Error("truncated message");
}

export function countSpans(body: Uint8Array): number {
  let n = 0;
  fields(body, 1, (resourceSpans) => fields(resourceSpans, 2, (scopeSpans) => fields(scopeSpans, 2, () => n++)));
  return n;
}

/** The same for OTLP/JSON (http/json), which a bench run can ask for to compare. */
function countJsonSpans(body: Uint8Array): number {
  const request = JSON.parse(new TextDecoder().decode(body)) as { resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] };
  let n = 0;
  for (const rs of request.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) n += ss.spans?.length ?? 0;
  return n;
}

if (import.meta.main) {
  const stats: Record<string, SinkPathStats> = {};
  const protoHeaders = { "content-type": "application/x-protobuf" };
  const jsonHeaders = { "content-type": "application/json" };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: Number(process.env.BENCH_SINK_PORT ?? 0),
    idleTimeout: 0,
    async fetch(req) {
      const path = req.url.slice(req.url.indexOf("/", 8));
      if (path === "/_stats") return Response.json(stats);
      let body = new Uint8Array(await req.arrayBuffer());
      const s = (stats[path] ??= { requests: 0, bytes: 0, spans: 0, undecoded: 0 });
      s.requests++;
      s.bytes += body.byteLength;
      if (path.endsWith("/v1/traces")) {
        try {
          if (req.headers.get("content-encoding") === "gzip") body = Bun.gunzipSync(body);
          const type = req.headers.get("content-type") ?? "";
          if (type.includes("protobuf")) s.spans += countSpans(body);
          else if (type.includes("json")) s.spans += countJsonSpans(body);
          else throw new Error(`unexpected content-type ${type}`);
        } catch {
          s.undecoded++;
        }
      }
      return (req.headers.get("content-type") ?? "").includes("json")
        ? new Response("{}", { status: 200, headers: jsonHeaders })
        : new Response(null, { status: 200, headers: protoHeaders });
    },
  });
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.port}` }));
}
