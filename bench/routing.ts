#!/usr/bin/env bun
/**
 * What routing rules cost in throughput (issue 15, part 8: "calls with no rule
 * matching show no regression in the same run; with one routing rule, ≥ 95%
 * of that"): plain non-streamed OpenAI chat calls (model gpt-4o-mini) at 50
 * connections through
 *   loupe            Loupe with no config file (the baseline),
 *   loupe+rules      a config file (LOUPE_CONFIG) with 5 routing rules, none matching these calls,
 *   loupe+route      one rule matching every call: openai gpt-4o-mini → openai gpt-4o (a model rewrite),
 *   loupe+anthropic  one rule translating every call to Anthropic Messages (claude-sonnet-4-5),
 *                    with a stored Anthropic key (LOUPE_SECRET), for context,
 *   before           (BENCH_LOUPE_MAIN=<old checkout>/main.ts) the older code, no config,
 *   bare             the bare Bun pass-through proxy, for context,
 * in one run, rounds interleaved. `bun bench/routing.ts`; bench/README.md.
 *
 * Layout as bench/keys.ts: every proxy pinned to core 0 (one under load at a
 * time); the mock upstream and autocannon share core 1.
 */
import { writeFileSync } from "node:fs";
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
/** This checkout's Loupe: every routing target runs it; BENCH_LOUPE_MAIN adds `before`, it does not replace them. */
const MAIN = join(ROOT, "main.ts");
const BEFORE_MAIN = process.env.BENCH_LOUPE_MAIN;

type TargetName = "loupe" | "loupe+rules" | "loupe+route" | "loupe+anthropic" | "before" | "bare";
const ALL: TargetName[] = ["loupe", "loupe+rules", "loupe+route", "loupe+anthropic", "before", "bare"];
const WANTED = new Set((process.env.BENCH_TARGETS ?? "loupe,loupe+rules,loupe+route,loupe+anthropic,bare").split(",").map((t) => t.trim()).filter(Boolean));
if (BEFORE_MAIN) WANTED.add("before");
for (const t of WANTED) if (!ALL.includes(t as TargetName)) throw new Error(`BENCH_TARGETS: unknown target "${t}" (known: ${ALL.join(", ")})`);
if (WANTED.has("before") && !BEFORE_MAIN) throw new Error("the target before needs BENCH_LOUPE_MAIN=<older checkout>/main.ts");
WANTED.add("loupe"); // every ratio is to it
const NAMES = ALL.filter((n) => WANTED.has(n));

const bench = new BenchRun("routing", "loupe-routing-bench-");
const log = bench.log;

// ── what the clients send, and the rules ─────────────────────────────────────
const MODEL = "gpt-4o-mini";
const ROUTED_MODEL = "gpt-4o";
const ANTHROPIC_MODEL = "claude-sonnet-4-5";
const CHAT_BODY = JSON.stringify({
  model: MODEL,
  messages: [
    { role: "system", content: "You are a helpful assistant that describes images briefly." },
    { role: "user", content: "What is in this picture? Answer in two or three sentences." },
  ],
  max_completion_tokens: 300,
});
const CLIENT_OPENAI_KEY = "sk-bench-0000000000000000";
const SECRET = "routing-bench-secret-0123456789abcdef";
const STORED_ANTHROPIC_KEY = "sk-ant-api03-BenchStoredAnthropicKey0123456789";

/** Five rules, none of which matches the bench's calls (provider openai, model gpt-4o-mini, no project, no x-route header). */
const UNMATCHED_RULES = [
  { match: { provider: "anthropic", model: "claude-3-*" }, to: { provider: "anthropic", model: "claude-sonnet-4-5" } },
  { match: { provider: "openai", model: "gpt-3.5-*" }, to: { provider: "openai", model: "gpt-4o-mini" } },
  { match: { provider: "openai", model: "/^o[134](-mini)?$/" }, to: { provider: "openai", model: "gpt-4o" } },
  { match: { header: "x-route-to=claude" }, to: { provider: "anthropic", model: "claude-haiku-4-5" } },
  { match: { provider: "openai", project: "eval" }, to: [{ provider: "openai", model: "gpt-4.1", weight: 1 }, { provider: "openai", model: "gpt-4.1-mini", weight: 1 }] },
];
const CONFIGS: Partial<Record<TargetName, unknown>> = {
  "loupe+rules": { routing: UNMATCHED_RULES },
  "loupe+route": { routing: [{ match: { provider: "openai", model: MODEL }, to: { provider: "openai", model: ROUTED_MODEL } }] },
  "loupe+anthropic": { routing: [{ match: { provider: "openai", model: MODEL }, to: { provider: "anthropic", model: ANTHROPIC_MODEL } }] },
};
/** Per target, what the mock must see (`<path> <model>`), and nothing else. */
const UPSTREAM_SEES: Record<TargetName, string> = {
  loupe: `/v1/chat/completions ${MODEL}`,
  "loupe+rules": `/v1/chat/completions ${MODEL}`,
  "loupe+route": `/v1/chat/completions ${ROUTED_MODEL}`,
  "loupe+anthropic": `/v1/messages ${ANTHROPIC_MODEL}`,
  before: `/v1/chat/completions ${MODEL}`,
  bare: `/v1/chat/completions ${MODEL}`,
};

interface Target {
  name: TargetName;
  url: string;
  pid: number;
  loupe?: LoupeProcess;
  cliEnv?: Record<string, string> | undefined;
}

const HEADERS = { "content-type": "application/json", authorization: `Bearer ${CLIENT_OPENAI_KEY}`, "user-agent": "loupe-bench/1" };

async function main() {
  const started = performance.now();
  const load0 = loadavg();
  if (!canPin) log(`WARNING: not pinning (${hasTaskset ? `${availableParallelism()} core(s)` : "taskset unavailable or BENCH_NO_PIN=1"}): numbers are noisier`);
  log(`options ${JSON.stringify(OPT)}; targets ${NAMES.join(",")}; load average ${load0.map((x) => x.toFixed(2)).join(" ")}`);
  const background = await backgroundCpu(log);

  const { child: mock, url: mockUrl } = await bench.startMock(1, { BENCH_MOCK_MODELS: "1" });
  const targets = new Map<TargetName, Target>();
  const mockEnv = { LOUPE_OPENAI_BASE_URL: mockUrl, LOUPE_ANTHROPIC_BASE_URL: mockUrl };
  for (const name of NAMES) {
    const file = name.replace(/\+/g, "-");
    const db = join(bench.dir, `${file}.duckdb`);
    if (name === "bare") {
      const { child, url } = await bench.startBare(mockUrl);
      targets.set(name, { name, url: `${url}/v1/chat/completions`, pid: child.proc.pid });
      continue;
    }
    const env: Record<string, string> = { ...mockEnv };
    const config = CONFIGS[name];
    if (config !== undefined) {
      env.LOUPE_CONFIG = join(bench.dir, `${file}.json`);
      writeFileSync(env.LOUPE_CONFIG, JSON.stringify(config, null, 2));
    }
    // Another provider's calls carry its stored key, not the client's.
    const cliEnv = name === "loupe+anthropic" ? { LOUPE_SECRET: SECRET } : undefined;
    const l = await bench.startLoupe(name, db, { ...env, ...cliEnv }, LOUPE_FLAGS, name === "before" ? BEFORE_MAIN : MAIN);
    if (cliEnv) loupeCli(db, ["provider-keys", "set", "anthropic"], { env: cliEnv, stdin: `${STORED_ANTHROPIC_KEY}\n`, main: MAIN });
    targets.set(name, { name, url: `${l.url}/openai/v1/chat/completions`, pid: l.pid, loupe: l, cliEnv });
  }
  const T = (n: TargetName) => targets.get(n)!;
  log(`mock ${mockUrl} (pid ${mock.proc.pid}); ${NAMES.map((n) => `${n} pid ${T(n).pid}`).join(", ")}; dir ${bench.dir}`);

  // Sanity: each target answers 200 with an OpenAI chat completion (a translated one too), and the upstream saw the model it should.
  for (const n of NAMES) {
    const res = await fetch(T(n).url, { method: "POST", headers: { ...HEADERS, "x-bench-target": `${n}:probe` }, body: CHAT_BODY });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${n} answered ${res.status}: ${text.slice(0, 300)}`);
    const answer = JSON.parse(text) as { object?: string; choices?: unknown[] };
    if (answer.object !== "chat.completion" || !answer.choices?.length) throw new Error(`${n}: not a chat completion: ${text.slice(0, 300)}`);
  }
  const probeModels = await fetchJson<Record<string, Record<string, number>>>(`${mockUrl}/_models`);
  for (const n of NAMES) {
    const seen = Object.keys(probeModels[`${n}:probe`] ?? {});
    if (seen.length !== 1 || seen[0] !== UPSTREAM_SEES[n]) throw new Error(`${n}: the upstream saw ${JSON.stringify(seen)}, not "${UPSTREAM_SEES[n]}"`);
  }

  const drain = async (t: Target) => {
    if (t.loupe) await waitLoupeIdle(t.loupe.url, 10_000);
    await Bun.sleep(200);
  };
  const once = (t: Target, seconds: number): Promise<LoadRun> =>
    autocannon({ url: t.url, headers: { ...HEADERS, "x-bench-target": t.name }, body: CHAT_BODY, connections: OPT.connections, seconds, pid: t.pid });

  log(`throughput: warm-up ${OPT.warmupS}s each, then ${OPT.rounds} round(s) × ${OPT.durationS}s per target at ${OPT.connections} connections`);
  for (const n of NAMES) {
    if (OPT.warmupS > 0) await once(T(n), OPT.warmupS);
    await drain(T(n));
  }
  const runs = new Map<TargetName, LoadRun[]>(NAMES.map((n) => [n, []]));
  const loads: number[][] = [];
  for (let round = 0; round < OPT.rounds; round++) {
    // a, b, c, …, then the other way round: each target is as often first as last.
    const order = round % 2 === 0 ? NAMES : [...NAMES].reverse();
    for (const n of order) {
      const run = await once(T(n), OPT.durationS);
      runs.get(n)!.push(run);
      log(
        `  round ${round + 1} ${n.padEnd(16)} ${run.rps.toFixed(0)} req/s, p50 ${run.latP50} ms, p99 ${run.latP99} ms (proxy cpu ${fmt(run.proxyCpuPct, 0)}%, core0 ${run.core0Pct.toFixed(0)}%, core1 ${run.core1Pct.toFixed(0)}%)` +
          (run.failed ? `, ${run.failed} FAILED` : ""),
      );
      await drain(T(n));
    }
    loads.push(loadavg());
  }

  // Checks: every call reached the upstream with the model its target must send (c and d cannot silently pass through).
  const problems: string[] = [];
  const models = await fetchJson<Record<string, Record<string, number>>>(`${mockUrl}/_models`);
  for (const n of NAMES) {
    const rs = runs.get(n)!;
    const failed = rs.reduce((a, r) => a + r.failed, 0);
    if (failed) problems.push(`${n}: ${failed} calls failed (non-2xx or errors)`);
    const seen = models[n] ?? {};
    const other = Object.entries(seen).filter(([k]) => k !== UPSTREAM_SEES[n]);
    if (other.length) problems.push(`${n}: the upstream also saw ${other.map(([k, c]) => `${k} ×${c}`).join(", ")}`);
    const ok = rs.reduce((a, r) => a + r.ok, 0);
    if ((seen[UPSTREAM_SEES[n]] ?? 0) < ok) problems.push(`${n}: the upstream saw "${UPSTREAM_SEES[n]}" ${seen[UPSTREAM_SEES[n]] ?? 0} times, fewer than the ${ok} completed calls`);
  }
  const records: Partial<Record<TargetName, Record<string, unknown>[]>> = {};
  for (const n of NAMES) {
    const t = T(n);
    if (!t.loupe) continue;
    await bench.stop(t.loupe.child, 60_000);
    if (n === "before") continue;
    const rows = JSON.parse(
      loupeCli(t.loupe.db, ["sql", "--json", "select status, provider, model, coalesce(routed_provider, '-') as routed_provider, coalesce(routed_model, '-') as routed_model, count(*)::int as n from requests group by all order by all"], { env: t.cliEnv, main: MAIN }),
    ) as Record<string, unknown>[];
    records[n] = rows;
    const routedTo = n === "loupe+route" ? `openai ${ROUTED_MODEL}` : n === "loupe+anthropic" ? `anthropic ${ANTHROPIC_MODEL}` : "- -";
    const wrong = rows.filter((r) => r.status === 200 && `${r.routed_provider} ${r.routed_model}` !== routedTo);
    if (wrong.length) problems.push(`${n}: 200s recorded as routed to ${wrong.map((r) => `${r.routed_provider} ${r.routed_model} ×${r.n}`).join(", ")}, not ${routedTo}`);
  }

  // ── report ──
  const rps = (n: TargetName) => mean(runs.get(n)!.map((r) => r.rps));
  const cpu = (n: TargetName) => mean(runs.get(n)!.map((r) => r.cpuUsPerReq));
  /** The request path's own threads: the JS event loop and Bun's fetch thread (the recording worker fills idle time at background priority). */
  const mainCpu = (n: TargetName) => mean(runs.get(n)!.map((r) => (r.threads.main ?? 0) + (r.threads["HTTP Client"] ?? 0)));
  const perRound = (n: TargetName) => runs.get(n)!.map((r, i) => r.rps / runs.get("loupe")![i]!.rps);
  const load1 = loadavg();
  let out = "\n";
  out += `Loupe routing bench — bun ${Bun.version}, ${availableParallelism()} cores, ${canPin ? "proxies pinned to core 0; mock and autocannon on core 1" : "NOT pinned"}\n`;
  out += `load average (1/5/15 min): before ${load0.map((x) => x.toFixed(2)).join(" ")}, after each round ${loads.map((l) => l[0]!.toFixed(2)).join(" / ")}, at the end ${load1.map((x) => x.toFixed(2)).join(" ")}\n`;
  out += `background CPU before the run: core0 ${fmt(background.core0, 0)}%, core1 ${fmt(background.core1, 0)}%\n`;
  out += `(${OPT.rounds} round(s) × ${OPT.durationS}s per target at ${OPT.connections} connections, plain OpenAI chat calls (${MODEL}), 990 B answers; took ${((performance.now() - started) / 1000).toFixed(0)}s)\n\n`;
  out += table(
    ["target", "req/s", "per round", "p50 ms", "p99 ms", "/ loupe", "proxy CPU µs/req", "main µs/req", "core0 %", "core1 %", "failed"],
    NAMES.map((n) => {
      const rs = runs.get(n)!;
      return [
        n,
        fmt(rps(n), 0),
        rs.map((r) => r.rps.toFixed(0)).join(" / "),
        fmt(mean(rs.map((r) => r.latP50)), 1),
        fmt(mean(rs.map((r) => r.latP99)), 1),
        fmt(rps(n) / rps("loupe"), 3),
        fmt(cpu(n), 0),
        fmt(mainCpu(n), 1),
        fmt(mean(rs.map((r) => r.core0Pct)), 0),
        fmt(mean(rs.map((r) => r.core1Pct)), 0),
        String(rs.reduce((a, r) => a + r.failed, 0)),
      ];
    }),
  );
  const ratioLine = (n: TargetName, label: string, target?: number) => {
    if (!targets.has(n)) return "";
    const ratio = rps(n) / rps("loupe");
    const byCpu = mainCpu("loupe") / mainCpu(n);
    const dCpu = mainCpu(n) - mainCpu("loupe");
    return (
      `  ${label} = ${fmt(ratio, 3)}${target !== undefined ? `   (target ≥ ${target.toFixed(2)}: ${verdict(ratio >= target)})` : ""};  per round: ${perRound(n).map((x) => fmt(x, 3)).join(" / ")}` +
      (n === "bare" ? "\n" : `;  by main µs per call ${fmt(byCpu, 3)} (${dCpu >= 0 ? "+" : "−"}${fmt(Math.abs(dCpu), 1)} µs)\n`)
    );
  };
  out += ratioLine("loupe+rules", "b/a  5 rules, none matching / no config", 0.98);
  out += ratioLine("loupe+route", "c/a  one rule rewriting the model / no config", 0.95);
  out += ratioLine("loupe+anthropic", "d/a  one rule translating to Anthropic / no config (context)");
  if (targets.has("before")) {
    const ratio = rps("loupe") / rps("before");
    const rounds = runs.get("loupe")!.map((r, i) => r.rps / runs.get("before")![i]!.rps);
    out += `  a/before  no config, this code / ${BEFORE_MAIN} = ${fmt(ratio, 3)} (no regression: about 1; per round ${rounds.map((x) => fmt(x, 3)).join(" / ")}; by main µs per call ${fmt(mainCpu("before") / mainCpu("loupe"), 3)})\n`;
  }
  out += ratioLine("bare", "bare/a  (context: the bare pass-through proxy)");
  out += `  ("main µs/req": CPU of the proxy's event loop and fetch threads per call, the figure a busy machine distorts least; "proxy CPU" adds the\n`;
  out += `   recording worker and Bun's pool, which run at background priority and fill whatever the load leaves idle. autocannon latency: 1 ms resolution)\n\n`;

  out += "Routing checks (what the upstream saw, by path and model; the records)\n";
  for (const n of NAMES) out += `  ${n}: ${Object.entries(models[n] ?? {}).map(([k, c]) => `${k} ×${c}`).join(", ")}\n`;
  for (const [n, rows] of Object.entries(records)) out += `  ${n} records: ${rows.map((r) => `${r.status} ${r.provider}/${r.model} → ${r.routed_provider}/${r.routed_model} ×${r.n}`).join("; ")}\n`;
  out += problems.length ? `  PROBLEMS:\n${problems.map((p) => `    - ${p}`).join("\n")}\n` : "  every call reached the upstream with its target's model, and was recorded as routed (or not) accordingly\n";
  process.stdout.write(out + "\n");

  bench.saveResults("routing", { options: OPT, targets: NAMES, before: BEFORE_MAIN, configs: CONFIGS, pinned: canPin, background, loadavg: { before: load0, rounds: loads, after: load1 }, runs: Object.fromEntries(runs), models, records, problems });
  if (problems.length) throw new Error(`${problems.length} check(s) failed`);
}

await bench.run(main);
