#!/usr/bin/env bun
/**
 * ClickHouse down under load (issue 16, part 9): Loupe with
 * LOUPE_CLICKHOUSE_URL takes plain OpenAI chat calls at 50 connections while
 * ClickHouse is up, then for BENCH_OUTAGE_S (60) seconds while it is down,
 * then again after it is back. Goal: proxied calls unaffected (req/s while
 * down within 10% of up, same run), the journal grows meanwhile (/livez
 * shows the backlog), and every record arrives after ClickHouse returns,
 * each once. `bun bench/clickhouse-outage.ts`.
 *
 * Layout: Loupe pinned to core 0; the mock upstream, autocannon and
 * clickhouse-server (Debian's 18.16, started here) on core 1.
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { startClickHouse } from "../tests/support/clickhouse.ts";
import { BenchRun, autocannon, fmt, livezOf, loupeSql, num, table, verdict, waitLoupeIdle, type LoadRun } from "./harness.ts";

const OPT = {
  phaseS: num("BENCH_DURATION_S", 20),
  outageS: num("BENCH_OUTAGE_S", 60),
  connections: num("BENCH_CONNECTIONS", 50),
};
const bench = new BenchRun("clickhouse-outage", "loupe-ch-outage-bench-");
const log = bench.log;
const BODY = JSON.stringify({ model: "gpt-5.4", messages: [{ role: "user", content: "What is in this picture? Answer in two or three sentences." }], max_completion_tokens: 300 });

async function main() {
  log(`options ${JSON.stringify(OPT)}; load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  const clickhouse = await startClickHouse({ core: 1 });
  const { url: mockUrl } = await bench.startMock(1);
  const db = join(bench.dir, "loupe.duckdb");
  const loupe = await bench.startLoupe("loupe", db, {
    LOUPE_OPENAI_BASE_URL: mockUrl,
    LOUPE_CLICKHOUSE_URL: clickhouse.url,
    LOUPE_CLICKHOUSE_USER: clickhouse.user,
    LOUPE_CLICKHOUSE_PASSWORD: clickhouse.password,
  });
  const target = { url: `${loupe.url}/openai/v1/chat/completions`, headers: { "content-type": "application/json", authorization: "Bearer sk-bench-0000" }, body: BODY, connections: OPT.connections, pid: loupe.pid };

  await autocannon({ ...target, seconds: 2 });
  await waitLoupeIdle(loupe.url, 10_000);
  const phases: { name: string; run: LoadRun; backlog?: number }[] = [];
  const up = await autocannon({ ...target, seconds: OPT.phaseS });
  phases.push({ name: "ClickHouse up", run: up });
  log(`up: ${up.rps.toFixed(0)} req/s`);

  await clickhouse.stop();
  const down = await autocannon({ ...target, seconds: OPT.outageS });
  await waitLoupeIdle(loupe.url, 10_000);
  const whileDown = (await livezOf(loupe.url))?.clickhouse;
  phases.push({ name: `ClickHouse down (${OPT.outageS} s)`, run: down, backlog: whileDown?.backlog_segments });
  log(`down: ${down.rps.toFixed(0)} req/s; /livez clickhouse ${JSON.stringify(whileDown)}`);

  await clickhouse.start();
  const returned = Date.now();
  const after = await autocannon({ ...target, seconds: OPT.phaseS });
  phases.push({ name: "ClickHouse back", run: after, backlog: (await livezOf(loupe.url))?.clickhouse?.backlog_segments });
  log(`after: ${after.rps.toFixed(0)} req/s`);

  // Every record made, in ClickHouse once: wait for the backlog to empty (the sink's back-off is at most a minute).
  await waitLoupeIdle(loupe.url, 10_000);
  let caughtUpS = NaN;
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const state = (await livezOf(loupe.url))?.clickhouse;
    if (state?.backlog_segments === 0 && state.connected) {
      caughtUpS = (Date.now() - returned) / 1000;
      break;
    }
    await Bun.sleep(250);
  }
  await bench.stop(loupe.child, 30_000);
  // The gateway is stopped: `loupe sql` reads its DuckDB file itself.
  const local = Number(loupeSql(db, "SELECT count(*) AS n FROM requests")[0]!.n);
  const [shared] = await clickhouse.rows<{ n: string; ids: string }>("SELECT count() AS n, uniqExact(id) AS ids FROM loupe.requests");
  await clickhouse.dispose();

  console.log(
    table(
      ["phase", "req/s", "p50 ms", "p99 ms", "failed", "ClickHouse backlog (segments)"],
      phases.map(({ name, run, backlog }) => [name, run.rps.toFixed(0), String(run.latP50), String(run.latP99), String(run.failed), backlog === undefined ? "—" : String(backlog)]),
    ),
  );
  const ratio = down.rps / up.rps;
  console.log(`down / up: ${fmt(ratio, 3)} (goal ≥ 0.90: ${verdict(ratio >= 0.9)}); back / up: ${fmt(after.rps / up.rps, 3)}`);
  console.log(`records: DuckDB ${local}, ClickHouse ${shared!.n} rows, ${shared!.ids} distinct ids — ${verdict(Number(shared!.n) === local && Number(shared!.ids) === local)}`);
  console.log(`backlog delivered ${fmt(caughtUpS, 1)} s after ClickHouse returned; load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
}

await bench.run(main);
