import { change, get, type Routes } from "../api.ts";
import { Async, Empty } from "../components/states.tsx";
import { duration } from "../format.ts";
import { useLoad } from "../use-load.ts";
import { useAction } from "../use-action.ts";

type Limit = Routes["/api/limits"]["response"]["items"][number];
const SCOPES = ["key", "project", "user", "model"] as const;
const METRICS = ["requests", "tokens", "usd"] as const;
const PERIODS = ["day", "week", "month"] as const;
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `12.5` dollars → nano-USD digits, exactly (no float). */
function dollarsToNano(text: string): string | undefined {
  const match = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text.trim().replace(/^\$/, ""));
  return match ? (BigInt(match[1]!) * 1_000_000_000n + BigInt((match[2] ?? "").padEnd(9, "0"))).toString() : undefined;
}

function nanoToDollars(nano: string): string {
  const n = BigInt(nano);
  const frac = (n % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `$${n / 1_000_000_000n}${frac ? `.${frac}` : ""}`;
}

function windowOf(text: string): Limit["window"] | undefined {
  const t = text.trim();
  if ((PERIODS as readonly string[]).includes(t)) return { period: t as (typeof PERIODS)[number] };
  const match = /^(\d+)([smhdw])$/.exec(t);
  return match && Number(match[1]) > 0 ? { seconds: Number(match[1]) * UNITS[match[2]!]! } : undefined;
}

function describeWindow(window: Limit["window"]): string {
  if ("period" in window) return `per ${window.period} (UTC)`;
  for (const [unit, n] of [["w", 604_800], ["d", 86_400], ["h", 3600], ["m", 60]] as const) if (window.seconds % n === 0) return `per ${window.seconds / n}${unit}`;
  return `per ${window.seconds}s`;
}

const amountOf = (metric: string, amount: string) => (metric === "usd" ? nanoToDollars(amount) : `${BigInt(amount).toLocaleString("en-US")} ${metric}`);

/** Limits and budgets per key, project, user or model, with their current use. */
export function Limits() {
  const limits = useLoad((signal) => get("/api/limits", {}, signal), "limits");
  const { problem, setProblem, busy, act: run } = useAction(() => limits.reload());
  const act = async (work: () => Promise<unknown>) => (await run(work)) !== undefined;

  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Limits</h1>
      <p class="muted">
        Requests, tokens or USD per sliding window (<code>1m</code>, <code>1h</code>, <code>30d</code>) or calendar budget (<code>day</code>, <code>week</code>, <code>month</code>, UTC). Also:{" "}
        <code>loupe limits set SCOPE ID --requests 50/1m</code>.
      </p>
      <form
        class="panel admin-form"
        aria-labelledby="set-limit-title"
        onSubmit={async (event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          const field = (name: string) => String(form.get(name) ?? "").trim();
          const metric = field("metric") as (typeof METRICS)[number];
          const amount = metric === "usd" ? dollarsToNano(field("amount")) : /^\d+$/.test(field("amount")) ? field("amount") : undefined;
          const window = windowOf(field("window"));
          if (!amount) return setProblem(metric === "usd" ? "Amount: a dollar amount like 20 or 0.50" : "Amount: a whole number");
          if (!window) return setProblem("Window: like 1m, 1h, 30d, or day, week, month");
          const soft = field("soft") ? Number(field("soft")) : null;
          const done = await act(() => change("PUT /api/limits", {}, { scope: field("scope") as (typeof SCOPES)[number], subject: field("subject"), metric, amount, window, soft_pct: soft }));
          if (done) (event.target as HTMLFormElement).reset();
        }}
      >
        <h2 id="set-limit-title">Set a limit</h2>
        <div class="form-row">
          <label>
            Scope
            <select name="scope">
              {SCOPES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
          <label>
            Subject
            <input name="subject" required placeholder="key id, project, user or model" />
          </label>
          <label>
            Metric
            <select name="metric">
              {METRICS.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </label>
          <label>
            Amount
            <input name="amount" required inputMode="decimal" placeholder="50, or dollars for usd" />
          </label>
          <label>
            Window
            <input name="window" required placeholder="1m, 1h, 30d, day, month" />
          </label>
          <label>
            Warn at %
            <input name="soft" type="number" min="1" max="100" />
          </label>
        </div>
        <button type="submit" disabled={busy}>
          Set limit
        </button>
      </form>
      {problem && (
        <p class="bad" role="alert">
          {problem}
        </p>
      )}
      <Async loaded={limits}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>No limits: calls are not counted.</Empty>
          ) : (
            <table class="limits">
              <caption class="visually-hidden">Limits</caption>
              <thead>
                <tr>
                  <th scope="col">Scope</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Limit</th>
                  <th scope="col">Window</th>
                  <th scope="col" class="num">
                    Used
                  </th>
                  <th scope="col" class="num">
                    Resets in
                  </th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((l) => (
                  <tr key={`${l.scope}|${l.subject}|${l.metric}|${JSON.stringify(l.window)}`} data-limit={`${l.scope}:${l.subject}`}>
                    <td>{l.scope}</td>
                    <td>
                      <code>{l.subject}</code>
                    </td>
                    <td>
                      {amountOf(l.metric, l.amount)}
                      {l.soft_pct !== null && <span class="muted"> (warn at {l.soft_pct}%)</span>}
                    </td>
                    <td>{describeWindow(l.window)}</td>
                    <td class="num">{l.usage ? amountOf(l.metric, l.usage.used) : "—"}</td>
                    <td class="num">{l.usage ? (l.usage.reset_s > 0 ? duration(l.usage.reset_s * 1000) : "—") : "—"}</td>
                    <td class="actions">
                      <button
                        type="button"
                        disabled={busy}
                        aria-label={`Clear ${l.metric} limits of ${l.scope} ${l.subject}`}
                        onClick={() => void act(() => change("DELETE /api/limits", { scope: l.scope, subject: l.subject, metric: l.metric }))}
                      >
                        Clear
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
    </section>
  );
}
