import { loadConfig } from "../../src/config.ts";
import { loadPriceBook } from "../../src/pricing/load-prices.ts";
import type { CallEvent } from "../../src/recording/call-event.ts";
import { recordCall } from "../../src/recording/recorder.ts";
import type { RequestRecord } from "../../src/record.ts";
import { createApp, type AppDeps } from "../../src/server.ts";
import type { AnalyticsStore } from "../../src/sinks/analytics.ts";

/**
 * The app in process, with an injected fetch standing in for the provider and
 * the recorder run on the events it writes: the whole way from a client's
 * request to its record, in milliseconds, without a server or a worker.
 */
export const priceBook = loadPriceBook(undefined);

export interface Harness {
  fetch(request: Request): Promise<Response>;
  /** What the upstream fetch was asked, in order. */
  sent: { url: string; init: RequestInit }[];
  /** The records of the events written so far (the recorder's output). */
  records(): RequestRecord[];
  problems: string[];
}

/** A page shell and one asset, standing in for the built dashboard. */
export const TEST_BUNDLE: AppDeps["dashboard"] = {
  indexHtml: "<!doctype html><title>Loupe</title><script type=module src=/assets/main-abc123.js></script>",
  assets: { "/assets/main-abc123.js": { type: "text/javascript; charset=utf-8", body: `console.log(${JSON.stringify("x".repeat(4000))});` } },
};

export function harness(
  upstream: (url: string, init: RequestInit) => Response | Promise<Response>,
  env: Record<string, string> = {},
  overrides: Partial<AppDeps> = {},
): Harness {
  const events: { line: string; body?: Uint8Array }[] = [];
  const problems: string[] = [];
  const sent: Harness["sent"] = [];
  const config = loadConfig({ env: { LOUPE_OPENAI_BASE_URL: "http://upstream.test", LOUPE_ANTHROPIC_BASE_URL: "http://upstream.test", ...env } });
  const unused = () => Promise.reject(new Error("not used in these tests"));
  const { fetch } = createApp({
    config,
    priceBook,
    state: { draining: false, inflight: 0, internalErrors: 0 },
    onInternalError: (message) => problems.push(message),
    writeEvent: (line) => void events.push({ line }),
    writeEventWithBody: (line, body) => void events.push({ line, body }),
    writerStats: () => ({ written: events.length, stored: 0, queued: 0, storeFailures: 0, journalFailures: 0, lost: 0 }),
    flushRecords: async () => {},
    localKey: "k",
    version: "test",
    tracer: undefined,
    analytics: {} as AnalyticsStore,
    apiSql: unused,
    exportParquet: unused,
    dashboard: TEST_BUNDLE,
    async fetch(url, init) {
      sent.push({ url, init });
      return upstream(url, init);
    },
    ...overrides,
  });
  return {
    fetch: async (request) => fetch(request),
    sent,
    problems,
    records: () => events.map(({ line, body }) => recordCall(JSON.parse(line) as CallEvent, body, priceBook).recorded.record),
  };
}

/** The same harness, each answer read to its end as a client would (a streamed body's record is written when it ends). */
export function readingBodies<T extends Harness>(app: T): T {
  return {
    ...app,
    fetch: async (request: Request) => {
      const response = await app.fetch(request);
      return new Response(await response.arrayBuffer(), response);
    },
  };
}
