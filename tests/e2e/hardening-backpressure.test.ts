import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";
import { openFds, openFilesLimit, rssMiB, servingPid } from "../support/process-stats.ts";
import { openSocket, rawExchange, statusesIn } from "../support/raw-http.ts";

/**
 * Issue 17, backpressure: what a client does with its end of a connection
 * (reads slowly, uploads without end, opens connections and says nothing)
 * costs the gateway bounded memory and file descriptors.
 */
const MiB = 2 ** 20;
const STREAM_BYTES = 128 * MiB;
const BODY_LIMIT = MiB;

/**
 * An OpenAI stand-in that answers a streamed chat with STREAM_BYTES of SSE,
 * written as fast as its socket takes them (raw TCP, so that `written` counts
 * exactly what the kernel accepted: what the gateway pulled, plus socket buffers).
 */
function startFloodingUpstream(): Promise<{ server: Server; port: number; written(): number }> {
  let written = 0;
  const event = Buffer.from(`data: ${JSON.stringify({ id: "chatcmpl-flood", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: "x".repeat(64_000) } }] })}\n\n`);
  const frame = Buffer.concat([Buffer.from(`${event.length.toString(16)}\r\n`), event, Buffer.from("\r\n")]);
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", () => {
      socket.write("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n");
      const pump = () => {
        while (written < STREAM_BYTES) {
          written += event.length;
          if (!socket.write(frame)) return void socket.once("drain", pump);
        }
        socket.end("0\r\n\r\n");
      };
      pump();
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port, written: () => written })));
}

let flood: Awaited<ReturnType<typeof startFloodingUpstream>>;
let mock: MockUpstream;
let gw: Gateway;
let pid: number;

beforeAll(async () => {
  flood = await startFloodingUpstream();
  mock = await startMockUpstream();
  gw = await startGateway({
    env: { LOUPE_OPENAI_BASE_URL: `http://127.0.0.1:${flood.port}`, LOUPE_ANTHROPIC_BASE_URL: mock.url, LOUPE_MAX_BODY_BYTES: String(BODY_LIMIT) },
  });
  pid = servingPid(gw);
});
afterAll(async () => {
  await gw?.stop();
  await mock?.stop();
  flood?.server.close();
});

const chat = (stream: boolean) => JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 5, stream, messages: [{ role: "user", content: "hi" }] });
const anthropicHead = (path = "/anthropic/v1/messages") =>
  `POST ${path} HTTP/1.1\r\nhost: loupe\r\ncontent-type: application/json\r\nx-api-key: sk-test\r\nanthropic-version: 2023-06-01\r\n`;

describe("a client that stops reading a large stream", () => {
  test("the gateway reads no further ahead than socket buffers: the upstream is held back, memory stays flat, and the stream then completes whole", async () => {
    const body = JSON.stringify({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "flood" }] });
    const before = rssMiB(pid);
    const socket = await openSocket(gw.url);
    // Paused, a socket only reads what read(n) asks for (and its small buffer): one byte a second, below.
    socket.pause();
    socket.write(`POST /openai/v1/chat/completions HTTP/1.1\r\nhost: loupe\r\ncontent-type: application/json\r\nauthorization: Bearer sk-test\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    let received = 0;
    const readOne = () => {
      const byte = socket.read(1) as Buffer | null;
      received += byte?.length ?? 0;
    };
    for (let second = 0; second < 4; second++) {
      await Bun.sleep(1000);
      readOne();
    }
    const pulled = flood.written();
    const grown = rssMiB(pid) - before;
    // Buffering the stream would pull all 128 MiB within a second and grow by as much.
    expect({ pulledMiB: Math.round(pulled / MiB), bounded: pulled < 48 * MiB }).toMatchObject({ bounded: true });
    expect({ grownMiB: Math.round(grown), bounded: grown < 64 }).toMatchObject({ bounded: true });
    expect(received).toBeGreaterThan(0);

    // Reading again, the client gets every byte and the end of the chunked body.
    let tail = "";
    const done = new Promise<void>((resolve) => {
      socket.on("data", (chunk: Buffer) => {
        received += chunk.length;
        tail = (tail + chunk.toString("latin1")).slice(-16);
        if (tail.endsWith("0\r\n\r\n")) resolve();
      });
    });
    socket.resume();
    await done;
    socket.destroy();
    expect(flood.written()).toBeGreaterThanOrEqual(STREAM_BYTES);
    expect(received).toBeGreaterThan(flood.written());
  }, 20_000);
});

/**
 * Streams a body after `head` as fast as the gateway takes it: past the answer, up to
 * 256 MiB of the declared 1 GiB (or of an endless chunked body), or until the gateway closes.
 */
async function upload(head: string, framing: "chunked" | "declared"): Promise<{ text: string; sentWhenAnswered: number; sent: number; grownMiB: number }> {
  const before = rssMiB(pid);
  const socket = await openSocket(gw.url);
  let text = "";
  let sent = 0;
  let sentWhenAnswered = -1;
  let closed = false;
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
    if (sentWhenAnswered < 0) sentWhenAnswered = sent;
  });
  socket.on("error", () => {});
  socket.on("close", () => (closed = true));
  socket.write(`${head}${framing === "chunked" ? "transfer-encoding: chunked" : `content-length: ${1024 * MiB}`}\r\n\r\n`);
  const piece = Buffer.alloc(64 * 1024, "a");
  const frame = framing === "chunked" ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")]) : piece;
  const deadline = Date.now() + 8000;
  while (sent < 256 * MiB && !closed && Date.now() < deadline) {
    sent += piece.length;
    // Let an answer be seen as soon as it comes (a loop of accepted writes would hold it back).
    await new Promise((resolve) => setImmediate(resolve));
    if (!socket.write(frame)) {
      await new Promise<void>((resolve) => {
        const wake = () => resolve();
        socket.once("drain", wake);
        socket.once("close", wake);
        setTimeout(wake, 200);
      });
    }
  }
  // Measured while the connection is still open and the gateway still reading what follows the refusal.
  await Bun.sleep(100);
  const grownMiB = rssMiB(pid) - before;
  socket.destroy();
  return { text, sentWhenAnswered, sent, grownMiB };
}

const jsonBody = (text: string) => JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)) as unknown;

describe("a 1 GiB request body", () => {
  for (const framing of ["chunked", "declared"] as const) {
    test(`${framing}: refused at LOUPE_MAX_BODY_BYTES with the route's own 413 while the upload runs, and never buffered`, async () => {
      const before = mock.requests.length;
      const { text, sentWhenAnswered, sent, grownMiB } = await upload(anthropicHead(), framing);
      expect(statusesIn(text)).toEqual([413]);
      // Anthropic's error shape: the SDK reads its type.
      expect(jsonBody(text)).toMatchObject({ type: "error", error: { type: "request_too_large" } });
      // Answered early: the limit plus socket buffers, not the whole upload.
      expect({ sentWhenAnsweredMiB: sentWhenAnswered / MiB, early: sentWhenAnswered >= 0 && sentWhenAnswered < 32 * MiB }).toMatchObject({ early: true });
      // Bun then reads the rest to discard it, keeping the connection (closing under an upload
      // would reset it, and the client could lose the 413): hundreds of MiB, in bounded memory.
      expect(sent).toBeGreaterThan(sentWhenAnswered + 64 * MiB);
      expect({ grownMiB, bounded: grownMiB < 32 }).toMatchObject({ bounded: true });
      expect(mock.requests.length).toBe(before);
    }, 15_000);
  }

  test("Loupe's own routes too: an endless body to the open /api/login gets 413 in Loupe's shape", async () => {
    const head = "POST /api/login HTTP/1.1\r\nhost: loupe\r\ncontent-type: application/json\r\n";
    for (const framing of ["chunked", "declared"] as const) {
      const { text, sent, grownMiB } = await upload(head, framing);
      expect([framing, statusesIn(text)]).toEqual([framing, [413]]);
      expect(jsonBody(text)).toMatchObject({ error: { type: "payload_too_large" } });
      expect({ framing, sentMiB: Math.round(sent / MiB), bounded: grownMiB < 32 }).toMatchObject({ framing, bounded: true });
    }
  }, 20_000);

  test("a body within the limit still goes through, chunked or declared", async () => {
    const body = chat(false);
    const head = `${anthropicHead()}connection: close\r\n`;
    const chunked = `${head}transfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    for (const request of [chunked, `${head}content-length: ${body.length}\r\n\r\n${body}`]) {
      const { statuses } = await rawExchange(gw.url, request, 5000);
      expect(statuses).toEqual([200]);
      expect(mock.requests.at(-1)!.body.byteLength).toBe(body.length);
    }
  });
});

describe("10,000 idle connections", () => {
  test("connections that send nothing or half a request line do not starve the gateway: a call still succeeds, fds and memory stay in proportion, and the gateway closes them", async () => {
    // The test process holds one end of each connection and the gateway the other.
    const room = Math.min(openFilesLimit(), openFilesLimit(pid)) - 500;
    const count = Math.min(10_000, room);
    if (count < 10_000) console.warn(`open files limit: ${count} idle connections instead of 10,000 (ulimit -n)`);
    const before = { rss: rssMiB(pid), fds: openFds(pid) };
    const sockets: Socket[] = [];
    for (let opened = 0; opened < count; opened += 500) {
      const batch = Array.from({ length: Math.min(500, count - opened) }, async (_, i) => {
        const socket = await openSocket(gw.url);
        socket.on("error", () => {});
        if ((opened + i) % 2 === 1) socket.write("POST /anthropic/v1/mess");
        sockets.push(socket);
      });
      await Promise.all(batch);
    }
    expect(sockets.length).toBe(count);

    const started = performance.now();
    const response = await fetch(`${gw.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": "sk-test", "anthropic-version": "2023-06-01" },
      body: chat(false),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { type: string }).type).toBe("message");
    expect(performance.now() - started).toBeLessThan(2000);

    const during = { rss: rssMiB(pid), fds: openFds(pid) };
    // One descriptor per connection and no more; a few KiB each, not a buffer per connection.
    expect(during.fds - before.fds).toBeLessThanOrEqual(count + 50);
    expect({ grownMiB: Math.round(during.rss - before.rss), bounded: during.rss - before.rss < 128 }).toMatchObject({ bounded: true });

    // Bun closes a connection that has not completed a request after about ten seconds, even with
    // idleTimeout 0 (which only spares requests in progress, such as a model thinking): measured on Bun 1.4.5.
    const deadline = Date.now() + 25_000;
    let open = count;
    while (open > 0 && Date.now() < deadline) {
      await Bun.sleep(250);
      open = sockets.filter((socket) => !socket.closed && !socket.readableEnded).length;
    }
    for (const socket of sockets) socket.destroy();
    expect(open).toBe(0);
    await Bun.sleep(200);
    expect(openFds(pid)).toBeLessThan(before.fds + 50);
  }, 45_000);
});
