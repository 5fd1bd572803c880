#!/usr/bin/env bun
/**
 * What gateway keys and limits cost in throughput (issue 14, part 7): plain
 * non-streamed OpenAI chat calls at 50 connections through
 *   loupe            Loupe with no keys configured (the baseline),
 *   loupe+key        Loupe with LOUPE_SECRET, one gateway key, a stored OpenAI key and a
 *                    requests limit on the key's project (never reached); clients send
 *                    `Authorization: Bearer <gateway key>`,
 *   loupe+key+redis  the same with LOUPE_REDIS_URL (a redis-server started here),
 *   before           (BENCH_LOUPE_MAIN=<old checkout>/main.ts) the older code, no keys,
 *   bare             the bare Bun pass-through proxy, for context,
 * in one run, rounds interleaved. `bun bench/keys.ts`; bench/README.md.
 *
 * Layout (all loopback): every proxy is pinned to core 0 (one under load at a
 * time); the mock upstream, autocannon and redis-server share core 1.
 */
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import {
  BenchRun,
  ROOT,
  autocannon,
  backgroundCpu,
  canPin,
  fetchJson,
  fmt,
  hasTaskset,
  livezOf,
  loupeCli,
  mean,
  num,
  table,
  verdict,
  waitLoupeIdle,
  type LoadRun,
  type LoupeProcess,
} from "./harness.ts";

const OPT = {
  durationS: num("BENCH_DURATION_S", 5),
  warmupS: num("BENCH_WARMUP_S", 2),
  rounds: Math.max(1, num("BENCH_ROUNDS", 3)),
  connections: num("BENCH_CONNECTIONS", 50),
};
const LOUPE_FLAGS = (process.env.BENCH_LOUPE_BUN_FLAGS ?? "").split(/\s+/).filter(Boolean);
/** This checkout's Loupe: a, b and c always run it; BENCH_LOUPE_MAIN adds `before`, it does not replace them. */
const MAIN = join(ROOT, "main.ts");
const BEFORE_MAIN = process.env.BENCH_LOUPE_MAIN;

type TargetName = "loupe" | "loupe+key" | "loupe+key+redis" | "before" | "bare";
const ALL: TargetName[] = ["loupe", "loupe+key", "loupe+key+redis", "before", "bare"];
const WANTED = new Set((process.env.BENCH_TARGETS ?? "loupe,loupe+key,loupe+key+redis,bare").split(",").map((t) => t.trim()).filter(Boolean));
if (BEFORE_MAIN) WANTED.add("before");
for (const t of WANTED) if (!ALL.includes(t as TargetName)) throw new Error(`BENCH_TARGETS: unknown target "${t}" (known: ${ALL.join(", ")})`);
if (WANTED.has("before") && !BEFORE_MAIN) throw new Error("the target before needs BENCH_LOUPE_MAIN=<older checkout>/main.ts");
WANTED.add("loupe"); // every ratio is to it
const NAMES = ALL.filter((n) => WANTED.has(n));
const KEYED = new Set<TargetName>(["loupe+key", "loupe+key+redis"]);

const bench = new BenchRun("keys", "loupe-keys-bench-");
const log = bench.log;

// ── what the clients send ────────────────────────────────────────────────────
const CHAT_BODY = JSON.stringify({
  model: "gpt-5.4",
  messages: [
    { role: "system", content: "You are a helpful assistant that describes images briefly." },
    { role: "user", content: "What is in this picture? Answer in two or three sentences." },
  ],
  max_completion_tokens: 300,
});
/** What a pass-through client sends (targets without a key). */
const CLIENT_OPENAI_KEY = "sk-bench-0000000000000000";
/** What `loupe provider-keys set openai` stores; the mock must see it, never the gateway key, on keyed targets. */
const STORED_OPENAI_KEY = "sk-proj-BenchStoredProviderKey0123456789abcdef";
const SECRET = "keys-bench-secret-0123456789abcdef";
const PROJECT = "bench";
const LIMIT = 100_000_000;

interface Target {
  name: TargetName;
  url: string;
  headers: Record<string, string>;
  pid: number;
  loupe?: LoupeProcess;
  /** The CLI's environment for this Loupe (its secret). */
  cliEnv?: Record<string, string>;
}

interface Run extends LoadRun {
  /**
   * Keyed targets: how far the limit's count (X-RateLimit-Limit − Remaining) moved during the run. Not
   * the run's calls exactly: earlier runs' calls leave the sliding minute meanwhile.
   */
  counted?: number;
}

/** One call from here: status and the headers the keyed path must add. */
async function probe(t: Target): Promise<{ status: number; limit: string | null; remaining: string | null; scope: string | null; body: string }> {
  const res = await fetch(t.url, { method: "POST", headers: { ...t.headers, "x-bench-target": `${t.name}:probe` }, body: CHAT_BODY });
  return { status: res.status, limit: res.headers.get("x-ratelimit-limit"), remaining: res.headers.get("x-ratelimit-remaining"), scope: res.headers.get("x-loupe-ratelimit-scope"), body: await res.text() };
}

/** Calls counted so far in the limit's window, read off a probe call (which counts itself). */
async function countedNow(t: Target): Promise<number> {
  const p = await probe(t);
  if (p.status !== 200 || p.limit === null || p.remaining === null) throw new Error(`${t.name}: a probe call got ${p.status} without X-RateLimit-* (${p.body.slice(0, 300)})`);
  return Number(p.limit) - Number(p.remaining);
}

async function main() {
  const started = performance.now();
  const load0 = loadavg();
  if (!canPin) log(`WARNING: not pinning (${hasTaskset ? `${availableParallelism()} core(s)` : "taskset unavailable or BENCH_NO_PIN=1"}): numbers are noisier`);
  log(`options ${JSON.stringify(OPT)}; targets ${NAMES.join(",")}; load average ${load0.map((x) => x.toFixed(2)).join(" ")}`);
  const background = await backgroundCpu(log);

  const { child: mock, url: mockUrl } = await bench.startMock(1);
  const targets = new Map<TargetName, Target>();
  const chat = (base: string) => `${base}/openai/v1/chat/completions`;
  const passThrough = { "content-type": "application/json", authorization: `Bearer ${CLIENT_OPENAI_KEY}`, "user-agent": "loupe-bench/1" };
  const mockEnv = { LOUPE_OPENAI_BASE_URL: mockUrl };

  for (const name of NAMES) {
    const db = join(bench.dir, `${name.replace(/\+/g, "-")}.duckdb`);
    if (name === "bare") {
      const { child, url } = await bench.startBare(mockUrl);
      targets.set(name, { name, url: `${url}/v1/chat/completions`, headers: passThrough, pid: child.proc.pid });
    } else if (name === "loupe" || name === "before") {
      const l = await bench.startLoupe(name, db, mockEnv, LOUPE_FLAGS, name === "before" ? BEFORE_MAIN : MAIN);
      targets.set(name, { name, url: chat(l.url), headers: passThrough, pid: l.pid, loupe: l });
    } else {
      const redis = name === "loupe+key+redis" ? await bench.startRedis(1) : undefined;
      if (redis) log(`redis-server ${redis.url} (pid ${redis.child.proc.pid}, core 1)`);
      const env: Record<string, string> = { ...mockEnv, LOUPE_SECRET: SECRET, ...(redis ? { LOUPE_REDIS_URL: redis.url } : {}) };
      const l = await bench.startLoupe(name, db, env, LOUPE_FLAGS, MAIN);
      // The commands go through the running gateway (its discovery file beside the DuckDB file).
      const cliEnv = { LOUPE_SECRET: SECRET, ...(redis ? { LOUPE_REDIS_URL: redis.url } : {}) };
      const cli = (args: string[], stdin?: string) => loupeCli(db, args, { env: cliEnv, stdin, main: MAIN });
      cli(["provider-keys", "set", "openai"], `${STORED_OPENAI_KEY}\n`);
      const { key } = JSON.parse(cli(["keys", "create", "--project", PROJECT, "--name", "bench", "--json"]).trim().split("\n").pop()!) as { key: string };
      cli(["limits", "set", "project", PROJECT, "--requests", `${LIMIT}/1m`]);
      targets.set(name, { name, url: chat(l.url), headers: { "content-type": "application/json", authorization: `Bearer ${key}`, "user-agent": "loupe-bench/1" }, pid: l.pid, loupe: l, cliEnv });
    }
  }
  const T = (n: TargetName) => targets.get(n)!;
  log(`mock ${mockUrl} (pid ${mock.proc.pid}); ${NAMES.map((n) => `${n} pid ${T(n).pid}`).join(", ")}; dir ${bench.dir}`);

  // Sanity: each target answers 200; a keyed one with X-RateLimit-* of the project's limit, and it refuses a wrong key.
  for (const n of NAMES) {
    const t = T(n);
    const p = await probe(t);
    if (p.status !== 200) throw new Error(`${n} answered ${p.status}: ${p.body.slice(0, 300)}`);
    if (KEYED.has(n)) {
      if (p.limit !== String(LIMIT) || p.scope !== "project") throw new Error(`${n}: no X-RateLimit-Limit ${LIMIT} / scope project on a 200 (got ${p.limit}, ${p.scope}): the call did not go through the limiter`);
      const wrong = await fetch(t.url, { method: "POST", headers: { ...t.headers, authorization: `Bearer lp_live_${"0".repeat(40)}`, "x-bench-target": `${n}:probe` }, body: CHAT_BODY });
      await wrong.arrayBuffer();
      if (wrong.status !== 401) throw new Error(`${n}: an unknown gateway key got ${wrong.status}, not 401: the key path is not on`);
    } else if (n !== "bare" && p.limit !== null) throw new Error(`${n}: X-RateLimit-Limit on a call without keys`);
  }
  const probeAuth = await fetchJson<Record<string, Record<string, number>>>(`${mockUrl}/_auth`);
  for (const n of KEYED) {
    if (!targets.has(n)) continue;
    const seen = Object.keys(probeAuth[`${n}:probe`] ?? {});
    if (seen.length !== 1 || seen[0] !== `Bearer ${STORED_OPENAI_KEY}`) throw new Error(`${n}: the upstream saw Authorization ${JSON.stringify(seen)}, not the stored provider key`);
  }

  const drain = async (t: Target) => {
    if (t.loupe) await waitLoupeIdle(t.loupe.url, 10_000);
    await Bun.sleep(200);
  };
  const once = async (t: Target, seconds: number): Promise<Run> => {
    const before = KEYED.has(t.name) ? await countedNow(t) : 0;
    const run: Run = await autocannon({ url: t.url, headers: { ...t.headers, "x-bench-target": t.name }, body: CHAT_BODY, connections: OPT.connections, seconds, pid: t.pid });
    if (KEYED.has(t.name)) run.counted = (await countedNow(t)) - before - 1;
    return run;
  };

  log(`throughput: warm-up ${OPT.warmupS}s each, then ${OPT.rounds} round(s) × ${OPT.durationS}s per target at ${OPT.connections} connections`);
  for (const n of NAMES) {
    if (OPT.warmupS > 0) await once(T(n), OPT.warmupS);
    await drain(T(n));
  }
  const runs = new Map<TargetName, Run[]>(NAMES.map((n) => [n, []]));
  const loads: number[][] = [];
  for (let round = 0; round < OPT.rounds; round++) {
    // a, b, c, …, then the other way round: each target is as often first as last.
    const order = round % 2 === 0 ? NAMES : [...NAMES].reverse();
    for (const n of order) {
      const run = await once(T(n), OPT.durationS);
      runs.get(n)!.push(run);
      log(
        `  round ${round + 1} ${n.padEnd(16)} ${run.rps.toFixed(0)} req/s, p50 ${run.latP50} ms, p99 ${run.latP99} ms (proxy cpu ${fmt(run.proxyCpuPct, 0)}%, core0 ${run.core0Pct.toFixed(0)}%, core1 ${run.core1Pct.toFixed(0)}%)` +
          (run.counted !== undefined ? `, limiter counted ${run.counted}` : "") +
          (run.failed ? `, ${run.failed} FAILED` : ""),
      );
      await drain(T(n));
    }
    loads.push(loadavg());
  }

  // Checks: the keyed runs went through the key path, every call of them.
  const problems: string[] = [];
  const auth = await fetchJson<Record<string, Record<string, number>>>(`${mockUrl}/_auth`);
  for (const n of NAMES) {
    const failed = runs.get(n)!.reduce((a, r) => a + r.failed, 0);
    if (failed) problems.push(`${n}: ${failed} calls failed (non-2xx or errors)`);
    if (!KEYED.has(n)) continue;
    const seen = auth[n] ?? {};
    const other = Object.entries(seen).filter(([a]) => a !== `Bearer ${STORED_OPENAI_KEY}`);
    if (other.length) problems.push(`${n}: the upstream saw other credentials: ${other.map(([a, c]) => `${a.slice(0, 20)}… ×${c}`).join(", ")}`);
    // The window slides (1 min, 1 s sub-buckets): calls of earlier runs leave it meanwhile, so this is no exact count.
    for (const [i, r] of runs.get(n)!.entries()) if (!((r.counted ?? 0) > 0)) problems.push(`${n} round ${i + 1}: X-RateLimit-Remaining did not move (${r.counted}) over ${r.ok} calls`);
  }
  const livez: Partial<Record<TargetName, any>> = {};
  const records: Partial<Record<TargetName, Record<string, unknown>[]>> = {};
  for (const n of NAMES) {
    const t = T(n);
    if (!t.loupe) continue;
    livez[n] = await livezOf(t.loupe.url);
    if (KEYED.has(n)) {
      const lim = livez[n]?.limits;
      const want = n === "loupe+key+redis" ? "redis" : "memory";
      if (lim?.backend !== want || lim.redisFailures || lim.failOpenAdmits) problems.push(`${n}: limiter ${JSON.stringify(lim)} (expected ${want}, no failures)`);
    }
    await bench.stop(t.loupe.child, 60_000);
    if (n === "before") continue;
    const sql = (q: string) => JSON.parse(loupeCli(t.loupe!.db, ["sql", "--json", q], { env: t.cliEnv, main: MAIN })) as Record<string, unknown>[];
    records[n] = sql("select status, coalesce(key_id, '-') as key_id, coalesce(limit_hit, '-') as limit_hit, count(*)::int as n from requests group by all order by all");
    if (KEYED.has(n) && records[n]!.some((r) => r.status === 200 && r.key_id === "-")) problems.push(`${n}: 200s recorded without key_id`);
  }

  // ── report ──
  const rps = (n: TargetName) => mean(runs.get(n)!.map((r) => r.rps));
  const perRound = (n: TargetName) => runs.get(n)!.map((r, i) => r.rps / runs.get("loupe")![i]!.rps);
  const load1 = loadavg();
  let out = "\n";
  out += `Loupe keys bench — bun ${Bun.version}, ${availableParallelism()} cores, ${canPin ? "proxies pinned to core 0; mock, autocannon and redis-server on core 1" : "NOT pinned"}\n`;
  out += `load average (1/5/15 min): before ${load0.map((x) => x.toFixed(2)).join(" ")}, after each round ${loads.map((l) => l[0]!.toFixed(2)).join(" / ")}, at the end ${load1.map((x) => x.toFixed(2)).join(" ")}\n`;
  out += `background CPU before the run: core0 ${fmt(background.core0, 0)}%, core1 ${fmt(background.core1, 0)}%\n`;
  out += `(${OPT.rounds} round(s) × ${OPT.durationS}s per target at ${OPT.connections} connections, plain OpenAI chat calls, 990 B answers; took ${((performance.now() - started) / 1000).toFixed(0)}s)\n\n`;
  out += table(
    ["target", "req/s", "per round", "p50 ms", "p99 ms", "/ loupe", "proxy CPU µs/req", "core0 %", "core1 %", "failed"],
    NAMES.map((n) => {
      const rs = runs.get(n)!;
      return [
        n,
        fmt(rps(n), 0),
        rs.map((r) => r.rps.toFixed(0)).join(" / "),
        fmt(mean(rs.map((r) => r.latP50)), 1),
        fmt(mean(rs.map((r) => r.latP99)), 1),
        fmt(rps(n) / rps("loupe"), 3),
        fmt(mean(rs.map((r) => r.cpuUsPerReq)), 0),
        fmt(mean(rs.map((r) => r.core0Pct)), 0),
        fmt(mean(rs.map((r) => r.core1Pct)), 0),
        String(rs.reduce((a, r) => a + r.failed, 0)),
      ];
    }),
  );
  const ratioLine = (n: TargetName, label: string, target?: number) => {
    if (!targets.has(n)) return "";
    const ratio = rps(n) / rps("loupe");
    return `  ${label} = ${fmt(ratio, 3)}${target !== undefined ? `   (target ≥ ${target.toFixed(2)}: ${verdict(ratio >= target)})` : ""};  per round: ${perRound(n).map((x) => fmt(x, 3)).join(" / ")}\n`;
  };
  out += ratioLine("loupe+key", "b/a  key + limit in process / no keys", 0.9);
  out += ratioLine("loupe+key+redis", "c/a  key + limit in Redis / no keys", 0.8);
  // What a busy machine distorts least: the proxy's own CPU per call (all its threads).
  const cpu = (n: TargetName) => mean(runs.get(n)!.map((r) => r.cpuUsPerReq));
  const cpuRatios = (["loupe+key", "loupe+key+redis", "before"] as const).filter((n) => targets.has(n)).map((n) => `a/${n} ${fmt(cpu("loupe") / cpu(n), 3)} (${n} ${cpu(n) - cpu("loupe") >= 0 ? "+" : "−"}${fmt(Math.abs(cpu(n) - cpu("loupe")), 0)} µs)`);
  out += `  CPU per call, no keys / …: ${cpuRatios.join(", ")} — the throughput ratios if core 0 were all that limits\n`;
  if (targets.has("before")) {
    const ratio = rps("loupe") / rps("before");
    const rounds = runs.get("loupe")!.map((r, i) => r.rps / runs.get("before")![i]!.rps);
    out += `  a/before  no keys, this code / ${BEFORE_MAIN} = ${fmt(ratio, 3)} (no regression: about 1; per round ${rounds.map((x) => fmt(x, 3)).join(" / ")})\n`;
  }
  if (targets.has("bare")) out += ratioLine("bare", "bare/a  (context: the bare pass-through proxy)");
  out += `  (autocannon latency has 1 ms resolution; "proxy CPU" is the proxy process, all threads)\n\n`;

  out += "Key path checks\n";
  for (const n of KEYED) {
    if (!targets.has(n)) continue;
    const seen = auth[n] ?? {};
    out += `  ${n}: upstream saw ${Object.entries(seen).map(([a, c]) => `${a === `Bearer ${STORED_OPENAI_KEY}` ? "the stored provider key" : a.slice(0, 24) + "…"} ×${c}`).join(", ")}; limit count moved by ${runs.get(n)!.map((r) => r.counted).join(" / ")} per run (${runs.get(n)!.map((r) => r.ok).join(" / ")} completed; earlier runs leave the sliding minute meanwhile); /livez limits ${JSON.stringify(livez[n]?.limits)}\n`;
  }
  for (const [n, rows] of Object.entries(records)) out += `  ${n} records: ${rows.map((r) => `${r.status} key ${r.key_id} limit ${r.limit_hit} ×${r.n}`).join("; ")}\n`;
  out += problems.length ? `  PROBLEMS:\n${problems.map((p) => `    - ${p}`).join("\n")}\n` : "  every keyed call carried the stored provider key upstream and was recorded with its key_id; the limit's count moved in every run\n";
  process.stdout.write(out + "\n");

  bench.saveResults("keys", { options: OPT, targets: NAMES, before: BEFORE_MAIN, pinned: canPin, background, loadavg: { before: load0, rounds: loads, after: load1 }, runs: Object.fromEntries(runs), auth, livez, records, problems });
  if (problems.length) throw new Error(`${problems.length} check(s) failed`);
}

await bench.run(main);
