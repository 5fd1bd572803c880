import { createGate } from "../../gate/create-gate.ts";
import { createLimiter } from "../../limits/create-limiter.ts";
import { createRecordFeed } from "../../dashboard/record-feed.ts";
import { assets, indexHtml } from "../../dashboard/ui-bundle.generated.ts";
import { rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError, isLoopbackHost, loadConfig, type Config } from "../../config.ts";
import { openAccess } from "../../keys/open-access.ts";
import { loadPriceBook } from "../../pricing/load-prices.ts";
import { createApp, type GatewayState } from "../../server.ts";
import { openJournal } from "../../recording/journal.ts";
import { redactSecrets } from "../../recording/redact-secrets.ts";
import { urlWithoutCredentials } from "../../http/url-without-credentials.ts";
import { createRecordWriter } from "../../recording/journal-writer.ts";
import { startRecordingWorker, type RecordingThread } from "../../recording/worker-client.ts";
import type { Runtime } from "../../runtime/runtime.ts";
import { createCallTracer } from "../../telemetry/create-call-tracer.ts";
import type { Command } from "../command.ts";
import { journalPath, removeDiscovery, writeDiscovery } from "../discovery.ts";

/** `loupe [serve] [--flags]`: runs the gateway until SIGTERM or SIGINT, then drains and stops. */
export const serveCommand: Command = {
  name: "serve",
  usage: "[serve] [--flags]",
  summary: "run the gateway",
  options: {},
  takesSettings: true,
  maxPositionals: 0,
  run: ({ settings }, { version, runtime, recordingThread }) => serve(settings, version, runtime, recordingThread),
};

function flushedBefore<T extends object>(target: T, flush: () => Promise<void>): T {
  return Object.fromEntries(
    Object.entries(target).map(([name, fn]) => [name, async (...args: unknown[]) => (await flush(), (fn as (...a: unknown[]) => unknown)(...args))]),
  ) as T;
}

/** Loupe's stderr. Messages can quote an upstream URL or error (a `?key=`), so they are masked like records. */
function log(config: Pick<Config, "quiet"> | undefined, message: string) {
  if (!config?.quiet) console.error(`[loupe] ${redactSecrets(message)}`);
}

async function serve(settings: Record<string, string>, version: string, runtime: Runtime, recordingThread?: RecordingThread): Promise<void> {
  const config = loadConfig({ flags: settings });
  // The analytics API exposes every recorded call: never on a network without a token.
  if (!isLoopbackHost(config.server.host) && !config.adminToken) {
    throw new ConfigError(`refusing to listen on ${config.server.host} without LOUPE_ADMIN_TOKEN (it protects /api); set one, or listen on 127.0.0.1`);
  }
  const childExit = await runtime.prepareToServe();
  if (childExit !== undefined) process.exit(childExit);
  const priceBook = loadPriceBook(config.pricesFile);
  const state: GatewayState = { draining: false, inflight: 0, internalErrors: 0 };
  const onInternalError = (message: string) => {
    state.internalErrors++;
    log(config, message);
  };

  const onDisk = config.db !== ":memory:";
  const journalDir = onDisk ? journalPath(config.db) : `${process.env.TMPDIR ?? "/tmp"}/loupe-memory-${process.pid}.journal`;
  // An in-memory database's records die with the process: syncing its journal would buy nothing.
  const fsync = onDisk ? config.journalFsync : "never";
  // Telemetry failures are counted and logged once a minute at most, never thrown.
  let lastTelemetryLog = 0;
  // Records DuckDB refused and the sink kept aside (duckdb-sink.ts), for /livez.
  let rejected = 0;
  // The dashboard's live tail: records the worker stores, sent only while a browser listens.
  let liveTail: (on: boolean) => void = () => {};
  const feed = createRecordFeed((on) => liveTail(on));
  // The recorder, the sinks and DuckDB's file live in the recording worker; it
  // first records what a previous run left in the journal (with that run's prices).
  const store = await startRecordingWorker(
    {
      db: config.db,
      journalDir,
      backgroundPriority: config.storagePriority === "background",
      durable: fsync !== "never",
      pricesFile: config.pricesFile,
      providers: config.providers,
      telemetry: config.telemetry && { config: config.telemetry, version },
      clickhouse: config.clickhouse,
    },
    {
      onProblem: onInternalError,
      onRecords: (records) => feed.publish(records),
      onNotice: (message) => log(config, message),
      onRejected(count, message) {
        rejected += count;
        log(config, message);
      },
      onLog(message) {
        if (Date.now() - lastTelemetryLog < 60_000) return;
        lastTelemetryLog = Date.now();
        log(config, message);
      },
    },
    recordingThread,
  );
  liveTail = (on) => void store.liveTail(on).catch(() => {});
  // Keys, provider keys and limits, from the database file (or Redis): a wrong LOUPE_SECRET stops the start here, before anything is served.
  const access = await openAccess({ store: store.access, secret: config.access.secret, redisUrl: config.access.redisUrl, serving: true, log: (message) => log(config, message) }).catch(
    async (error: unknown) => {
      await store.close().catch(() => {});
      throw error;
    },
  );
  if (store.recovered > 0) log(config, `journal: ${store.recovered} record(s) recovered from a previous run`);
  const clickhouse = await store.clickhouseStats();
  if (clickhouse?.connected) log(config, `ClickHouse: records → ${clickhouse.url} database ${clickhouse.database} (ClickHouse ${clickhouse.version})`);
  else if (clickhouse) {
    // Loud, and on stderr even when quiet: the shared log is not being written until this is fixed.
    console.error(
      `loupe: WARNING: ClickHouse unreachable: ${clickhouse.last_error}\n` +
        `loupe: WARNING: serving anyway; records wait in the journal and go to ClickHouse when it answers (LOUPE_CLICKHOUSE_REQUIRED=true refuses to start instead)`,
    );
  }
  const journal = openJournal(journalDir, {
    mapping: await runtime.loadFileMapping(),
    onError: (message) => log(config, message),
    syncing: fsync !== "never",
  });
  const writer = createRecordWriter({
    journal,
    sink: store,
    intervalMs: config.flush.intervalMs,
    batchRows: config.flush.batchRows,
    fsync,
    onError: onInternalError,
    onWarning: (message) => log(config, message),
  });
  const localKey = randomBytes(24).toString("base64url");
  const tracer = config.telemetry && createCallTracer(config.telemetry);
  if (config.telemetry) {
    const { traces, metrics } = config.telemetry;
    log(config, `OpenTelemetry: traces ${traces ? `→ ${urlWithoutCredentials(traces.url)} (${traces.protocol})` : "off"}, metrics ${metrics ? `→ ${urlWithoutCredentials(metrics.url)}` : "off"}`);
  }

  // Part 7: the gate reads the access book; limits are counted in process, or in Redis when
  // LOUPE_REDIS_URL is set (shared by every gateway using it), and follow every change of definitions.
  const book = access.book;
  const limiter = await createLimiter({ redisUrl: config.access.redisUrl, failOpen: config.access.redisFailOpen, limits: book.definitions.limits, log: (message) => log(config, message) });
  book.onReplace((definitions) => limiter.use(definitions.limits));
  const gate = createGate(config, book, limiter, { log: (message) => log(config, message) });

  const gateway = createApp({
    config,
    priceBook,
    state,
    onInternalError,
    writeEvent: writer.write,
    writeEventWithBody: writer.writeWithBody,
    writerStats: () => ({ ...writer.stats(), rejected }),
    flushRecords: writer.flush,
    localKey,
    version,
    tracer,
    telemetryStats: config.telemetry && store.telemetryStats,
    clickhouseStats: config.clickhouse && store.clickhouseStats,
    // Reads first store every finished call, so the API answers with all of them.
    analytics: flushedBefore(store.analytics, writer.flush),
    exportParquet: (dir, since) => store.exportParquet(dir, since),
    feed,
    dashboard: { indexHtml, assets },
    gate,
    limiterStats: () => limiter.stats(),
    limitUsage: (limit) => limiter.usage(limit),
    accessAdmin: access.admin,
    audit: (entry) => store.access.audit(entry),
    async apiSql(query, maxRows) {
      await writer.flush();
      const result = await store.queryReadOnly(query, { maxRows, timeoutMs: 10_000 });
      return { columns: result.columns, rows: result.rows, truncated: result.truncated ?? false };
    },
  });

  const server = runtime.serve({
    hostname: config.server.host,
    port: config.server.port,
    fetch: gateway.fetch,
  });
  if (onDisk) writeDiscovery(config.db, { pid: process.pid, url: server.url, key: localKey });
  log(config, `listening on ${server.url} — records in ${config.db} (${runtime.describe()})`);

  // Retention: once at start, then hourly, off the request path; failures are logged, never thrown.
  let retention: ReturnType<typeof setInterval> | undefined;
  if (config.retentionDays) {
    const days = config.retentionDays;
    const prune = () =>
      store.prune(days).then(
        (n) => n > 0 && log(config, `retention: deleted ${n} record(s) older than ${days} day(s)`),
        (error: Error) => onInternalError(`retention failed: ${error.message}`),
      );
    void prune();
    retention = setInterval(prune, 3_600_000);
    retention.unref();
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    state.draining = true;
    // The listener stays open while calls finish: /health answers 503 draining (load balancers
    // take the instance out), new proxied calls get 503 in their route's dialect (server.ts).
    log(config, `${signal}: draining ${state.inflight} in-flight call(s)`);
    clearInterval(retention);
    const deadline = Date.now() + config.limits.drainTimeoutMs;
    while (state.inflight > 0 && Date.now() < deadline) await sleep(20);
    if (state.inflight > 0) log(config, `drain timeout: ${state.inflight} call(s) still open`);
    await writer.flush();
    await writer.synced(); // LOUPE_JOURNAL_FSYNC=always: the last calls' held bytes go out before the journal closes
    await store.shutdownTelemetry(); // exports pending spans and metrics
    await access.close(); // last_used_at of the keys used since the last flush
    const stats = writer.stats();
    if (stats.queued === 0) journal.close();
    await store.close();
    await limiter.close().catch(() => {});
    if (onDisk) removeDiscovery(config.db);
    // An in-memory database's records die with the process: so does its journal folder.
    else rmSync(journalDir, { recursive: true, force: true });
    log(config, `stopped: ${stats.stored} record(s) stored this run${stats.queued ? `, ${stats.queued} left in the journal` : ""}`);
    await server.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}
