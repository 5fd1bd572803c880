import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { formatNanoUsd } from "../../src/pricing/compute-cost.ts";
import { loadPriceBook } from "../../src/pricing/load-prices.ts";
import type { CallEvent } from "../../src/recording/call-event.ts";
import { createRecorder, recordCall, recordedLine } from "../../src/recording/recorder.ts";
import type { RequestRecord } from "../../src/record.ts";
import { createDuckDBSink } from "../../src/sinks/duckdb/duckdb-sink.ts";
import { openDuckDBStore } from "../../src/sinks/duckdb/duckdb-store.ts";
import { openJournal, recordSegment, type Journal } from "../../src/recording/journal.ts";
import { createRecordWriter } from "../../src/recording/journal-writer.ts";
import { openPipeline } from "../../src/recording/pipeline.ts";
import { tempDir } from "../support/gateway.ts";

const FIXTURE = join(import.meta.dir, "..", "fixtures", "openai", "chat-nonstream.json");
const body = new Uint8Array(readFileSync(FIXTURE));
const priceBook = loadPriceBook(undefined);
const startedAt = Date.parse("2026-11-01T10:00:00Z");

const call = (over: Partial<CallEvent> = {}): CallEvent => ({
  event: 2,
  id: "call-1",
  startedAt,
  durationMs: 12.5,
  ttfbMs: 11.25,
  provider: "openai",
  method: "POST",
  path: "/openai/v1/chat/completions?x=1",
  status: 200,
  request: { model: "gpt-5.4", streamed: false, params: { max_tokens: 300 } },
  tags: { sessionId: "s-1", project: "p" },
  client: undefined,
  logBody: "meta",
  requestBody: undefined,
  requestBytes: 236,
  responseBytes: body.byteLength,
  upstreamRequestId: "req_1",
  truncated: false,
  upstreamPath: "/v1/chat/completions",
  encoding: null,
  captureBytes: 0,
  traceId: undefined,
  ...over,
});

// What the fixture's usage costs, priced directly (the recorder must give the same).
const completeRecord = (event: CallEvent, bytes: Uint8Array | undefined, book = priceBook) => {
  const { recorded, problems } = recordCall(event, bytes, book);
  return { line: recordedLine(recorded), problems };
};
const expectedCost = formatNanoUsd(
  priceBook.price({ provider: "openai", model: "gpt-5.4", usage: { inputTokens: 1117, outputTokens: 46, cacheReadTokens: 0, reasoningTokens: 0 }, at: new Date(startedAt) }).nano!,
);

describe("the recorder: call events (and journaled response bodies) become records", () => {
  test("usage, cost and the call's facts are those of the body and head", () => {
    const { line, problems } = completeRecord(call(), body, priceBook);
    const record = JSON.parse(line) as RequestRecord;
    expect(problems).toEqual([]);
    expect(record).toMatchObject({
      id: "call-1",
      started_at: "2026-11-01T10:00:00.000Z",
      duration_ms: 12.5,
      ttfb_ms: 11.25,
      operation: "chat",
      path: "/openai/v1/chat/completions?x=1",
      model: "gpt-5.4",
      response_model: "gpt-5.4",
      input_tokens: 1117,
      output_tokens: 46,
      reasoning_tokens: 0,
      cost_usd: expectedCost,
      session_id: "s-1",
      project: "p",
      finish_reason: "stop",
      error_type: null,
      upstream_request_id: "req_1",
      response_body: null,
    });
    expect(record.cost_usd).not.toBe("0.000000000");
  });

  test("a compressed body is read; log_body full keeps the body; an error status keeps the provider's error type", () => {
    const gz = gzipSync(body);
    const full = JSON.parse(completeRecord(call({ encoding: "gzip", logBody: "full", captureBytes: 40, responseBytes: gz.byteLength }), gz, priceBook).line);
    expect(full.output_tokens).toBe(46);
    expect(full.response_body).toBe(new TextDecoder().decode(body).slice(0, 40));
    const error = new TextEncoder().encode(JSON.stringify({ error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } }));
    const limited = JSON.parse(completeRecord(call({ status: 429 }), error, priceBook).line);
    expect(limited).toMatchObject({ status: 429, error_type: "requests", error_message: "Rate limit reached", cost_usd: "0.000000000", cost_source: "free" });
  });

  test("failed attempts' spans are named by their provider's GenAI name; an event without attempts gives the spans as they came", () => {
    const spans = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", parentSpanId: undefined, traceState: undefined, clientSpanId: "00f067aa0ba902b8", clientStart: startedAt + 5, serverStart: startedAt, method: "POST", path: "/groq/openai/v1/chat/completions" };
    const telemetry = { endTime: startedAt + 20, serverAddress: "127.0.0.1", serverPort: 8080 };
    const attempt = { spanId: "00f067aa0ba902b9", start: startedAt + 1, end: startedAt + 2, provider: "gemini", serverAddress: "127.0.0.1", serverPort: 9, errorType: "connect" };
    const withAttempts = recordCall(call({ telemetry: { ...telemetry, spans: { ...spans, attempts: [attempt] } } }), body, priceBook).recorded.telemetry!;
    expect(withAttempts.spans!.attempts).toEqual([{ ...attempt, genAiProvider: "gcp.gemini" }]);
    const without = recordCall(call({ telemetry: { ...telemetry, spans } }), body, priceBook).recorded.telemetry!;
    expect(without.spans).toBe(spans);
  });

  test("a body that is not JSON still gives the call's record, unpriced, and says why", () => {
    const problems: string[] = [];
    const recorder = createRecorder(priceBook, (m) => problems.push(m));
    const record = JSON.parse(recorder.entry(JSON.stringify(call()), new TextEncoder().encode("<html>bad gateway</html>")));
    expect(record).toMatchObject({ id: "call-1", status: 200, input_tokens: null, cost_usd: null, billable: true });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("unreadable response");
    expect(recorder.entry("{not json", body)).toBe("");
    expect(problems[1]).toContain("not JSON");
  });

  test("a segment of events, entries and an earlier version's record lines becomes record lines only; a torn entry is dropped", () => {
    const dir = tempDir();
    const journal = openJournal(join(dir, "journal"));
    const plain = JSON.stringify({ id: "plain-1" });
    journal.append(plain);
    journal.append(JSON.stringify(call({ id: "observed-1", response: { usage: { inputTokens: 1117, outputTokens: 46, cacheReadTokens: 0, reasoningTokens: 0 }, responseModel: "gpt-5.4" } })));
    journal.appendWithBody(JSON.stringify(call({ id: "later-1" })), body);
    journal.appendWithBody(JSON.stringify(call({ id: "later-2" })), body);
    const segment = journal.seal()!;
    expect(segment.rows).toBe(4);
    // A crash in the middle of a last entry's write.
    const raw = readFileSync(segment.path);
    const torn = new TextEncoder().encode(`@${body.byteLength} ${JSON.stringify(call({ id: "torn" }))}\n{"id":`);
    writeFileSync(segment.path, Buffer.concat([raw, torn]));

    const target = join(dir, "records.ndjson");
    expect(recordSegment(segment.path, target, createRecorder(priceBook, () => {}))).toBe(4);
    const lines = readFileSync(target, "utf8").trimEnd().split("\n");
    expect(lines.map((l) => JSON.parse(l).id)).toEqual(["plain-1", "observed-1", "later-1", "later-2"]);
    // An earlier version's record line passes as it was (with `billable` by the migration's rule); events become records.
    expect(JSON.parse(lines[0]!)).toEqual({ id: "plain-1", billable: true });
    expect(JSON.parse(lines[1]!).cost_usd).toBe(expectedCost);
    expect(JSON.parse(lines[2]!).cost_usd).toBe(expectedCost);
    journal.close();
  });

  test("through the pipeline into DuckDB: entries are stored as records, and one the journal refused is recorded from memory", async () => {
    const dir = tempDir();
    const store = await openDuckDBStore(join(dir, "db.duckdb"));
    const real = openJournal(join(dir, "journal"));
    let refuse = false;
    const journal: Journal = {
      ...real,
      append: (line) => real.append(line),
      appendWithBody(head, bytes) {
        if (refuse) throw new Error("disk full (injected)");
        real.appendWithBody(head, bytes);
      },
      seal: () => real.seal(),
      release: (segment) => real.release(segment),
      close: () => real.close(),
      get activeRows() {
        return real.activeRows;
      },
      get pending() {
        return real.pending;
      },
    };
    const errors: string[] = [];
    const pipeline = openPipeline({ journalDir: join(dir, "journal"), sinks: [createDuckDBSink(store)], priceBook, onProblem: (m) => errors.push(m) });
    const writer = createRecordWriter({ journal, sink: pipeline, intervalMs: 10, batchRows: 100, onError: (m) => errors.push(m) });
    // Journaled as it is written (synchronously: before the call's response goes out).
    for (const id of ["a1", "a2", "a3"]) writer.writeWithBody(JSON.stringify(call({ id })), body);
    expect(real.activeRows).toBe(3);
    refuse = true;
    writer.writeWithBody(JSON.stringify(call({ id: "b" })), body);
    await writer.flush();
    const { rows } = await store.queryReadOnly("select id, output_tokens::int, cost_usd::varchar from requests order by id");
    expect(rows).toEqual([
      ["a1", 46, expectedCost],
      ["a2", 46, expectedCost],
      ["a3", 46, expectedCost],
      ["b", 46, expectedCost],
    ]);
    expect(writer.stats()).toMatchObject({ written: 4, stored: 4, journalFailures: 1 });
    expect(errors.some((m) => m.includes("disk full"))).toBe(true);
    await store.close();
  });
});
