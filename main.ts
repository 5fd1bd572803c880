#!/usr/bin/env bun
/**
 * Loupe's only composition root: parses the command line, loads config,
 * wires the parts together, serves, and shuts down cleanly.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "./src/cli/args.ts";
import { journalPath, removeDiscovery, writeDiscovery } from "./src/cli/discovery.ts";
import { formatCsv, formatJson, formatTable } from "./src/cli/format-table.ts";
import { runExport, runSql } from "./src/cli/db-commands.ts";
import { join, resolve } from "node:path";
import { ConfigError, describeSettings, loadConfig, type Config } from "./src/config.ts";
import { loadPriceBook } from "./src/pricing/load-prices.ts";
import { createApp, type GatewayState } from "./src/server.ts";
import { openJournal } from "./src/recording/journal.ts";
import { loadFileMapping } from "./src/runtime/file-mapping.ts";
import { createRecordWriter } from "./src/recording/journal-writer.ts";
import { startRecordingWorker } from "./src/recording/worker-client.ts";
import { ensureFetchConcurrency } from "./src/runtime/fetch-concurrency.ts";
import { createCallTracer } from "./src/telemetry/create-call-tracer.ts";
import manifest from "./package.json" with { type: "json" };

const HELP = `loupe ${manifest.version} — a self-hosted LLM API gateway that records every call

Usage:
  loupe [serve] [--flags]                 run the gateway
  loupe sql "<query>" [--json|--csv]      query the records (read-only)
  loupe prices [model] [--provider ID]    show the prices Loupe applies
  loupe export --parquet DIR [--since D]  write the records as date-partitioned Parquet
  loupe version
  loupe --help

Point an SDK at it by its base URL:
  ANTHROPIC_BASE_URL=http://127.0.0.1:8787/anthropic
  OPENAI_BASE_URL=http://127.0.0.1:8787/openai/v1
  Gemini: http://127.0.0.1:8787/gemini

Settings (flag / environment variable; flags win, then env, then --config FILE):
${describeSettings()
  .map(({ flag, env }) => `  ${flag.padEnd(26)} ${env}`)
  .join("\n")}
`;

function flushedBefore<T extends object>(target: T, flush: () => Promise<void>): T {
  return Object.fromEntries(
    Object.entries(target).map(([name, fn]) => [name, async (...args: unknown[]) => (await flush(), (fn as (...a: unknown[]) => unknown)(...args))]),
  ) as T;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\./.test(host);
}

function log(config: Pick<Config, "quiet"> | undefined, message: string) {
  if (!config?.quiet) console.error(`[loupe] ${message}`);
}

async function serve(flags: Record<string, string>): Promise<void> {
  const config = loadConfig({ flags });
  // The analytics API exposes every recorded call: never on a network without a token.
  if (!isLoopback(config.server.host) && !config.adminToken) {
    throw new ConfigError(`refusing to listen on ${config.server.host} without LOUPE_ADMIN_TOKEN (it protects /api); set one, or listen on 127.0.0.1`);
  }
  // Bun queues outgoing fetches past 256 at once unless told otherwise at start-up.
  const childExit = await ensureFetchConcurrency();
  if (childExit !== undefined) process.exit(childExit);
  const priceBook = loadPriceBook(config.pricesFile);
  const state: GatewayState = { draining: false, inflight: 0, internalErrors: 0 };
  const onInternalError = (message: string) => {
    state.internalErrors++;
    log(config, message);
  };

  const onDisk = config.db !== ":memory:";
  const journalDir = onDisk ? journalPath(config.db) : `${process.env.TMPDIR ?? "/tmp"}/loupe-memory-${process.pid}.journal`;
  // Telemetry failures are counted and logged once a minute at most, never thrown.
  let lastTelemetryLog = 0;
  // The recorder, the sinks and DuckDB's file live in the recording worker; it
  // first records what a previous run left in the journal (with that run's prices).
  const store = await startRecordingWorker(
    {
      db: config.db,
      journalDir,
      backgroundPriority: config.storagePriority === "background",
      pricesFile: config.pricesFile,
      telemetry: config.telemetry && { config: config.telemetry, version: manifest.version },
    },
    {
      onProblem: onInternalError,
      onLog(message) {
        if (Date.now() - lastTelemetryLog < 60_000) return;
        lastTelemetryLog = Date.now();
        log(config, message);
      },
    },
  );
  if (store.recovered > 0) log(config, `journal: ${store.recovered} record(s) recovered from a previous run`);
  const journal = openJournal(journalDir, {
    mapping: await loadFileMapping(),
    onError: (message) => log(config, message),
  });
  const writer = createRecordWriter({
    journal,
    sink: store,
    intervalMs: config.flush.intervalMs,
    batchRows: config.flush.batchRows,
    onError: onInternalError,
    onWarning: (message) => log(config, message),
  });
  const localKey = randomBytes(24).toString("base64url");
  const tracer = config.telemetry && createCallTracer(config.telemetry);
  if (config.telemetry) {
    const { traces, metrics } = config.telemetry;
    log(config, `OpenTelemetry: traces ${traces ? `→ ${traces.url} (${traces.protocol})` : "off"}, metrics ${metrics ? `→ ${metrics.url}` : "off"}`);
  }

  const gateway = createApp({
    config,
    priceBook,
    state,
    onInternalError,
    writeEvent: writer.write,
    writeEventWithBody: writer.writeWithBody,
    writerStats: writer.stats,
    flushRecords: writer.flush,
    localKey,
    version: manifest.version,
    tracer,
    telemetryStats: config.telemetry && store.telemetryStats,
    // Reads first store every finished call, so the API answers with all of them.
    analytics: flushedBefore(store.analytics, writer.flush),
    exportParquet: (dir, since) => store.exportParquet(dir, since),
    async apiSql(query, maxRows) {
      await writer.flush();
      const result = await store.queryReadOnly(query, { maxRows, timeoutMs: 10_000 });
      return { columns: result.columns, rows: result.rows, truncated: result.truncated ?? false };
    },
  });

  const server = Bun.serve({
    hostname: config.server.host,
    port: config.server.port,
    fetch: gateway.fetch,
    // A model may think for minutes before its first byte: never cut a quiet connection.
    idleTimeout: 0,
    // Loupe checks the size itself, to answer 413 in the route's dialect.
    maxRequestBodySize: Math.max(config.limits.maxBodyBytes * 2, 1024 * 1024),
  });
  const url = `http://${server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname}:${server.port}`;
  if (onDisk) writeDiscovery(config.db, { pid: process.pid, url, key: localKey });
  log(config, `listening on ${url} — records in ${config.db}`);

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
    log(config, `${signal}: draining ${state.inflight} in-flight call(s)`);
    void server.stop(false); // stop accepting; in-flight calls run on
    clearInterval(retention);
    const deadline = Date.now() + config.limits.drainTimeoutMs;
    while (state.inflight > 0 && Date.now() < deadline) await Bun.sleep(20);
    if (state.inflight > 0) log(config, `drain timeout: ${state.inflight} call(s) still open`);
    await writer.flush();
    await store.shutdownTelemetry(); // exports pending spans and metrics
    const stats = writer.stats();
    if (stats.queued === 0) journal.close();
    await store.close();
    if (onDisk) removeDiscovery(config.db);
    log(config, `stopped: ${stats.stored} record(s) stored this run${stats.queued ? `, ${stats.queued} left in the journal` : ""}`);
    server.stop(true);
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

async function sql(args: string[]): Promise<void> {
  const { positionals, flags } = parseArgs(args, ["--json", "--csv"]);
  const format = flags["--json"] ? "json" : flags["--csv"] ? "csv" : "table";
  delete flags["--json"];
  delete flags["--csv"];
  const query = positionals.join(" ").trim();
  if (!query) throw new ConfigError('usage: loupe sql "<query>" [--json|--csv]');
  const config = loadConfig({ flags });
  const result = await runSql(query, config.db);
  const out = format === "json" ? formatJson(result) : format === "csv" ? formatCsv(result) : formatTable(result);
  process.stdout.write(out.endsWith("\n") ? out : `${out}\n`);
}

async function exportCommand(args: string[]): Promise<void> {
  const { positionals, flags } = parseArgs(args);
  const dir = flags["--parquet"];
  const since = flags["--since"];
  delete flags["--parquet"];
  delete flags["--since"];
  if (!dir || positionals.length > 0) throw new ConfigError("usage: loupe export --parquet DIR [--since YYYY-MM-DD]");
  if (since !== undefined && Number.isNaN(Date.parse(since))) throw new ConfigError(`--since: "${since}" is not a date (YYYY-MM-DD)`);
  const config = loadConfig({ flags });
  const result = await runExport(config.db, resolve(dir), since && new Date(since).toISOString());
  console.log(JSON.stringify(result));
}

async function prices(args: string[]): Promise<void> {
  const { positionals, flags } = parseArgs(args);
  const provider = flags["--provider"];
  delete flags["--provider"];
  const config = loadConfig({ flags });
  const book = loadPriceBook(config.pricesFile);
  const model = positionals[0];
  if (!model) {
    console.log(`price data: ${book.version}${config.pricesFile ? ` (overrides: ${config.pricesFile})` : ""}`);
    console.log("usage: loupe prices <model> [--provider anthropic|openai|google|…]");
    return;
  }
  const found = book.lookup(provider, model);
  if (!found) {
    console.log(`${model}: no price known — calls to it are recorded with cost_usd NULL (unpriced)`);
    process.exitCode = 1;
    return;
  }
  console.log(JSON.stringify({ model, matched: found.model, provider: found.provider, source: found.source, version: book.version, usd_per_million_tokens: found.prices }, null, 2));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") return void process.stdout.write(HELP);
  if (command === "version" || command === "--version") return void console.log(manifest.version);
  if (command === "sql") return sql(rest);
  if (command === "prices") return prices(rest);
  if (command === "export") return exportCommand(rest);
  if (command === undefined || command === "serve") return serve(parseArgs(rest).flags);
  if (command.startsWith("--")) return serve(parseArgs(argv).flags);
  throw new ConfigError(`unknown command "${command}" (see loupe --help)`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`loupe: ${message}`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
