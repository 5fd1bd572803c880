import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFaultyFront, type FaultyFront } from "../support/faulty-front.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";
import { startOtlpReceiver, type OtlpReceiver } from "../support/otlp-receiver.ts";

/**
 * The OTLP backend misbehaving under a real gateway: stuck (accepts, never
 * answers), down, flapping. Calls keep flowing at their usual pace, every
 * call is recorded in DuckDB, every call's span reaches the backend once it
 * is back (the OTLP sink offers a failed segment again), and the log says
 * what happened in a few lines, not one per call.
 */
let mock: MockUpstream;
let receiver: OtlpReceiver;
let front: FaultyFront;
beforeAll(async () => {
  mock = await startMockUpstream();
  receiver = await startOtlpReceiver();
  front = await startFaultyFront(receiver.url);
});
afterAll(async () => {
  await front.stop();
  await receiver.stop();
  await mock.stop();
});

const start = () =>
  startGateway({
    env: {
      LOUPE_OPENAI_BASE_URL: mock.url,
      LOUPE_FLUSH_INTERVAL_MS: "50",
      OTEL_EXPORTER_OTLP_ENDPOINT: front.url,
      OTEL_EXPORTER_OTLP_TIMEOUT: "300",
      OTEL_METRICS_EXPORTER: "none",
    },
  });

/** `count` plain calls, a few at a time; the slowest one's time (ms) and the request ids. */
async function calls(gw: Gateway, count: number): Promise<{ ids: string[]; slowestMs: number }> {
  const ids: string[] = [];
  let slowestMs = 0;
  for (let i = 0; i < count; i += 5) {
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        const t0 = performance.now();
        const response = await fetch(`${gw.url}/openai/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"model":"gpt-5.4","messages":[]}' });
        await response.arrayBuffer();
        expect(response.status).toBe(200);
        slowestMs = Math.max(slowestMs, performance.now() - t0);
        ids.push(response.headers.get("x-loupe-request-id")!);
      }),
    );
    await Bun.sleep(40);
  }
  return { ids, slowestMs };
}

const serverSpansOf = (ids: string[]) => (spans: OtlpReceiver["spans"]) => ids.every((id) => spans.some((s) => s.kind === "SERVER" && s.attributes["loupe.record.id"] === id));
const lines = (gw: Gateway, pattern: RegExp) => gw.stderr().split("\n").filter((line) => pattern.test(line));

describe("OTLP backend faults", () => {
  test("stuck (accepts, never answers), then back: calls unaffected, counted, said once, and every span delivered after", async () => {
    receiver.reset();
    await front.set("hang");
    const gw = await start();
    const { ids, slowestMs } = await calls(gw, 40);
    expect(slowestMs).toBeLessThan(1000); // the export waits, never a call
    let live: any;
    for (let i = 0; i < 40; i++) {
      live = await (await fetch(`${gw.url}/livez`)).json();
      if (live.telemetry.exportFailures > 0) break;
      await Bun.sleep(100);
    }
    expect(live.telemetry.exportFailures).toBeGreaterThan(0);
    expect(front.counts.hung).toBeGreaterThan(0);
    expect(new Set((await gw.sql<{ id: string }>("select id from requests")).map((r) => r.id))).toEqual(new Set(ids));
    // One line for the export's failure (then at most once a minute), not one per call.
    expect(lines(gw, /export failed/).length).toBe(1);
    await front.set("up");
    await receiver.waitForSpans(serverSpansOf(ids), 20_000);
    expect(await gw.stop()).toBe(0);
    expect(lines(gw, /export failed|not exported/).length).toBeLessThanOrEqual(3);
  }, 40_000);

  test("flapping (down, up, down, …): calls unaffected, every span delivered once it stays up, a handful of lines", async () => {
    receiver.reset();
    const gw = await start();
    const ids: string[] = [];
    for (let round = 0; round < 4; round++) {
      await front.set(round % 2 === 0 ? "down" : "up");
      const { ids: more, slowestMs } = await calls(gw, 15);
      expect(slowestMs).toBeLessThan(1000);
      ids.push(...more);
    }
    await front.set("up");
    await receiver.waitForSpans(serverSpansOf(ids), 30_000);
    expect(new Set((await gw.sql<{ id: string }>("select id from requests")).map((r) => r.id))).toEqual(new Set(ids));
    expect(await gw.stop()).toBe(0);
    const said = lines(gw, /telemetry|otlp/).filter((line) => !line.includes("OpenTelemetry: traces"));
    expect(said.length).toBeLessThanOrEqual(4);
    expect(said.length).toBeLessThan(ids.length / 10);
  }, 50_000);
});
