import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type CapturedRequest, type MockUpstream } from "../support/mock-upstream.ts";
import { rawExchange, type RawExchange } from "../support/raw-http.ts";

/**
 * Issue 17, request smuggling (RFC 9112 §6.3, §11.2): requests whose framing
 * a server and the next hop could read differently, sent over raw sockets.
 * Each is refused, or handled so that no request is made of the smuggled
 * bytes: the upstream never sees one. Loupe re-frames what it forwards
 * (fetch sends its own content-length), so bytes the gateway took as body
 * stay body upstream; the danger is the gateway's own parser, which is Bun's.
 *
 * Measured on Bun 1.4.5, what Bun itself refuses (400, connection closed)
 * before Loupe sees anything: content-length with transfer-encoding either
 * way round, content-length twice with different values or as a list,
 * `chunked, identity` and `identity, chunked`, transfer-encoding twice,
 * `Transfer-Encoding : chunked`, `xchunked`, a vertical tab or an obs-fold
 * before the value, transfer-encoding on HTTP/1.0, a negative or signed
 * length, an overflowing chunk size, bare LF inside chunked framing, a
 * missing Host, a space in a header name, a NUL in a value. A request line
 * ending in a bare LF gets 505. Bun accepts content-length twice with the
 * same value (RFC 9110 §8.6 allows it), and two Host lines (it uses the
 * first; Loupe never forwards Host). What Loupe refuses itself: a Host that
 * is no valid host (Bun then gives a URL with no origin, whose path Loupe
 * and Hono would each read their own way).
 */
let upstream: MockUpstream;
let gw: Gateway;
const LIMIT = 4096;

beforeAll(async () => {
  upstream = await startMockUpstream();
  gw = await startGateway({ env: { LOUPE_ANTHROPIC_BASE_URL: upstream.url, LOUPE_MAX_BODY_BYTES: String(LIMIT) } });
});
afterAll(async () => {
  await gw?.stop();
  await upstream?.stop();
});

const HEAD = "POST /anthropic/v1/messages HTTP/1.1\r\nHost: loupe\r\ncontent-type: application/json\r\nx-api-key: sk-test\r\nanthropic-version: 2023-06-01\r\n";
/** The call each case makes, marked with the case's name so that its upstream requests can be told apart. */
const bodyOf = (name: string) => JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 5, messages: [{ role: "user", content: name }] });
/** A request hidden where it must stay body (or be refused); its path names the case. */
const smuggledFor = (name: string) => `GET /anthropic/v1/smuggled/${encodeURIComponent(name)} HTTP/1.1\r\nHost: loupe\r\nx-api-key: sk-test\r\n\r\n`;
const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

type Outcome =
  /** Refused before anything is proxied: this status alone, the connection closed. */
  | { refused: 400 | 505 }
  /** One call proxied whole, one answer, nothing else. */
  | { proxied: 200 }
  /** Answered by Loupe itself (a body that is no JSON): nothing proxied. */
  | { answered: 400 }
  /** A second request after a valid one on the same connection: the first is proxied once; the rest is not a smuggled call. */
  | "pipelined";

interface Case {
  name: string;
  raw(body: string, smuggled: string): string;
  outcome: Outcome;
}

const CASES: Case[] = [
  { name: "content-length and transfer-encoding (CL.TE)", raw: (b, s) => `${HEAD}Content-Length: ${Buffer.byteLength(chunk(b) + "0\r\n\r\n")}\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(b)}0\r\n\r\n${s}`, outcome: { refused: 400 } },
  { name: "transfer-encoding and a short content-length (TE.CL)", raw: (b, s) => `${HEAD}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${chunk(b)}0\r\n\r\n${s}`, outcome: { refused: 400 } },
  { name: "content-length twice, different values", raw: (b, s) => `${HEAD}Content-Length: ${b.length}\r\nContent-Length: ${b.length + s.length}\r\n\r\n${b}${s}`, outcome: { refused: 400 } },
  { name: "content-length as a list", raw: (b, s) => `${HEAD}Content-Length: ${b.length}, ${b.length + s.length}\r\n\r\n${b}${s}`, outcome: { refused: 400 } },
  { name: "content-length twice, the same value", raw: (b) => `${HEAD}Content-Length: ${b.length}\r\nContent-Length: ${b.length}\r\n\r\n${b}`, outcome: { proxied: 200 } },
  { name: "Transfer-Encoding: chunked, identity", raw: (b, s) => `${HEAD}Transfer-Encoding: chunked, identity\r\n\r\n${chunk(b)}0\r\n\r\n${s}`, outcome: { refused: 400 } },
  { name: "Transfer-Encoding: identity, chunked", raw: (b, s) => `${HEAD}Transfer-Encoding: identity, chunked\r\n\r\n${chunk(b)}0\r\n\r\n${s}`, outcome: { refused: 400 } },
  { name: "transfer-encoding twice", raw: (b, s) => `${HEAD}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n${chunk(b)}0\r\n\r\n${s}`, outcome: { refused: 400 } },
  { name: "Transfer-Encoding : chunked (space before the colon)", raw: (b, s) => `${HEAD}Transfer-Encoding : chunked\r\nContent-Length: ${b.length}\r\n\r\n${b}${s}`, outcome: { refused: 400 } },
  { name: "Transfer-Encoding: xchunked", raw: (b, s) => `${HEAD}Transfer-Encoding: xchunked\r\n\r\n${chunk(b)}0\r\n\r\n${s}`, outcome: { refused: 400 } },
  { name: "Transfer-Encoding: xchunked with a content-length", raw: (b, s) => `${HEAD}Transfer-Encoding: xchunked\r\nContent-Length: ${b.length}\r\n\r\n${b}${s}`, outcome: { refused: 400 } },
  { name: "a vertical tab before chunked", raw: (b, s) => `${HEAD}Transfer-Encoding:\x0bchunked\r\n\r\n${chunk(b)}0\r\n\r\n${s}`, outcome: { refused: 400 } },
  { name: "chunked folded onto a continuation line (obs-fold)", raw: (b, s) => `${HEAD}Transfer-Encoding:\r\n chunked\r\n\r\n${chunk(b)}0\r\n\r\n${s}`, outcome: { refused: 400 } },
  { name: "transfer-encoding on HTTP/1.0", raw: (b, s) => `${HEAD.replace("HTTP/1.1", "HTTP/1.0")}Transfer-Encoding: chunked\r\n\r\n${chunk(b)}0\r\n\r\n${s}`, outcome: { refused: 400 } },
  { name: "a negative content-length", raw: (b, s) => `${HEAD}Content-Length: -1\r\n\r\n${b}${s}`, outcome: { refused: 400 } },
  { name: "a signed content-length", raw: (b, s) => `${HEAD}Content-Length: +${b.length}\r\n\r\n${b}${s}`, outcome: { refused: 400 } },
  { name: "a chunk size that overflows", raw: (b, s) => `${HEAD}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\n${b}\r\n0\r\n\r\n${s}`, outcome: { refused: 400 } },
  { name: "bare LF line endings", raw: (b, s) => `${HEAD}Content-Length: ${b.length}\r\n\r\n`.replaceAll("\r\n", "\n") + b + s.replaceAll("\r\n", "\n"), outcome: { refused: 505 } },
  { name: "bare LF inside chunked framing", raw: (b, s) => `${HEAD}Transfer-Encoding: chunked\r\n\r\n${Buffer.byteLength(b).toString(16)}\n${b}\n0\n\n${s}`, outcome: { refused: 400 } },
  { name: "a NUL in a header value", raw: (b) => `${HEAD}X-Note: a\x00b\r\nContent-Length: ${b.length}\r\n\r\n${b}`, outcome: { refused: 400 } },
  { name: "a space in a header name", raw: (b) => `${HEAD}X Note: a\r\nContent-Length: ${b.length}\r\n\r\n${b}`, outcome: { refused: 400 } },
  { name: "no Host", raw: (b) => `${HEAD.replace("Host: loupe\r\n", "")}Content-Length: ${b.length}\r\n\r\n${b}`, outcome: { refused: 400 } },
  { name: "a Host that is no host (RFC 9112 §3.2)", raw: (b) => `${HEAD.replace("Host: loupe", "Host: a b")}Content-Length: ${b.length}\r\n\r\n${b}`, outcome: { refused: 400 } },
  { name: "a Host with a path", raw: (b) => `${HEAD.replace("POST /anthropic", "POST /xx/anthropic").replace("Host: loupe", "Host: evil.example/x?")}Content-Length: ${b.length}\r\n\r\n${b}`, outcome: { refused: 400 } },
  { name: "a chunk extension", raw: (b) => `${HEAD}Transfer-Encoding: chunked\r\n\r\n${Buffer.byteLength(b).toString(16)};ext=1\r\n${b}\r\n0\r\n\r\n`, outcome: { proxied: 200 } },
  // A body that holds a whole request stays body: forwarded as it came, or refused as the JSON it is not.
  { name: "a request inside a chunk", raw: (b, s) => `${HEAD}Transfer-Encoding: chunked\r\n\r\n${chunk(`${b}\r\n0\r\n\r\n${s}`)}0\r\n\r\n`, outcome: { answered: 400 } },
  { name: "a request inside a declared body", raw: (b, s) => `${HEAD}Content-Length: ${b.length + s.length}\r\n\r\n${b}${s}`, outcome: { answered: 400 } },
  { name: "a GET whose body is a request", raw: (_, s) => `GET /anthropic/v1/models HTTP/1.1\r\nHost: loupe\r\nx-api-key: sk-test\r\nContent-Length: ${s.length}\r\n\r\n${s}`, outcome: { proxied: 200 } },
  { name: "a request after the body (pipelined)", raw: (b, s) => `${HEAD}Content-Length: ${b.length}\r\n\r\n${b}${s}`, outcome: "pipelined" },
  { name: "a tab before chunked (valid), a request after", raw: (b, s) => `${HEAD}Transfer-Encoding:\tchunked\r\n\r\n${chunk(b)}0\r\n\r\n${s}`, outcome: "pipelined" },
  { name: "CHUNKED in capitals (valid), a request after", raw: (b, s) => `${HEAD}Transfer-Encoding: CHUNKED\r\n\r\n${chunk(b)}0\r\n\r\n${s}`, outcome: "pipelined" },
];

/** The case's upstream requests: its call (marked in the body) and any request made of its smuggled bytes. */
function seenUpstream(name: string): { calls: CapturedRequest[]; smuggled: CapturedRequest[] } {
  const calls = upstream.requests.filter((r) => (r.json as { messages?: { content?: string }[] } | undefined)?.messages?.[0]?.content === name || (r.path === "/v1/models" && r.headers.get("x-case") === name));
  const smuggled = upstream.requests.filter((r) => decodeURIComponent(r.path) === `/v1/smuggled/${name}`);
  return { calls, smuggled };
}

describe("ambiguous framing over raw sockets", () => {
  const results = new Map<string, RawExchange>();
  beforeAll(async () => {
    // All at once (each on its own connection): told apart upstream by their marks.
    await Promise.all(
      CASES.map(async ({ name, raw }) => {
        const marked = raw(bodyOf(name), smuggledFor(name)).replace("x-api-key: sk-test\r\n", `x-api-key: sk-test\r\nx-case: ${name}\r\n`);
        results.set(name, await rawExchange(gw.url, marked, 2000));
      }),
    );
    await Bun.sleep(300);
  }, 10_000);

  for (const { name, outcome } of CASES) {
    test(`${name}: ${typeof outcome === "string" ? "no request is made of the bytes after it" : "refused" in outcome ? `refused ${outcome.refused}` : "answered" in outcome ? `Loupe's own ${outcome.answered}, nothing proxied` : "proxied once, whole"}`, () => {
      const exchange = results.get(name)!;
      const { calls, smuggled } = seenUpstream(name);
      if (outcome === "pipelined") {
        // The first request is proxied once. Bun 1.4.5 closes a connection on which a request
        // arrives while the previous one's response is pending, answering neither (measured):
        // the call is made and recorded, its answer lost, the second request never processed.
        // A server that pipelines would answer both, the second as a request of its own.
        expect(calls.length).toBe(1);
        const pipelines = exchange.statuses.length === 2;
        expect(pipelines ? { statuses: exchange.statuses, second: smuggled.length } : { statuses: exchange.statuses, closed: exchange.closedByServer, second: smuggled.length }).toEqual(
          pipelines ? { statuses: [200, 404], second: 1 } : { statuses: [], closed: true, second: 0 },
        );
        return;
      }
      // Whatever happens, no request reaches the upstream from smuggled bytes.
      expect(smuggled).toEqual([]);
      if ("refused" in outcome) {
        expect({ statuses: exchange.statuses, closed: exchange.closedByServer, proxied: calls.length }).toEqual({ statuses: [outcome.refused], closed: true, proxied: 0 });
      } else if ("answered" in outcome) {
        expect({ statuses: exchange.statuses, proxied: calls.length }).toEqual({ statuses: [outcome.answered], proxied: 0 });
        expect(exchange.text).toContain("malformed JSON in request body");
      } else {
        expect(exchange.statuses).toEqual([outcome.proxied]);
        expect(calls.length).toBe(1);
        const sent = calls[0]!;
        if (sent.method === "POST") expect(sent.json).toEqual(JSON.parse(bodyOf(name)));
        else expect(sent.body.byteLength).toBe(0);
      }
    });
  }
});

describe("a request hidden in a body the gateway refuses without reading", () => {
  test("413 before the body: the body is read to be discarded, never as a request", async () => {
    const hidden = smuggledFor("refused-unread").padEnd(LIMIT + 100, " ");
    const exchange = await rawExchange(gw.url, `${HEAD}Content-Length: ${hidden.length}\r\n\r\n${hidden}`, 1000);
    expect(exchange.statuses).toEqual([413]);
    await Bun.sleep(200);
    expect(seenUpstream("refused-unread").smuggled).toEqual([]);
  });
});
