import { useState } from "preact/hooks";
import { get, type SessionDetail as Detail } from "../api.ts";
import { DataTable } from "../components/data-table.tsx";
import { Async } from "../components/states.tsx";
import { Stat } from "../components/stat.tsx";
import { Cost } from "../components/cost.tsx";
import { count, duration, groupCost, ms, parseTime, percent, shortId, time, usd } from "../format.ts";
import { useQuery, withRange } from "../nav.ts";
import { useLoad } from "../use-load.ts";

type Call = Detail["calls"][number];
type Agent = Detail["agents"][number];

/** One session: its figures, first prompt, each agent's cost, and its calls on a timeline, one lane per agent. */
export function SessionDetail({ id }: { id: string }) {
  const { range } = useQuery();
  const session = useLoad((signal) => get("/api/sessions/{id}", { id }, signal), id);
  return (
    <section aria-labelledby="page-title">
      <p>
        <a href={withRange("/sessions", range)}>← Sessions</a>
      </p>
      <h1 id="page-title">Session {shortId(id, 36)}</h1>
      <Async loaded={session}>
        {(data) => (
          <>
            <dl class="stats">
              <Stat name="Cost" value={groupCost(data.session)} />
              <Stat name="Calls" value={count(data.session.requests)} />
              <Stat name="Errors" value={count(data.session.errors)} />
              <Stat name="Cache hit ratio" value={percent(data.session.cache_hit_ratio)} />
              <Stat name="Unpriced calls" value={count(data.session.unpriced_requests)} />
            </dl>
            <p class="meta">
              Project <strong>{data.session.project ?? "—"}</strong> · user <strong>{data.session.user_id ?? "—"}</strong> · from {time(data.session.first_at)} to {time(data.session.last_at)} UTC (
              {duration(parseTime(data.session.last_at).getTime() - parseTime(data.session.first_at).getTime())})
            </p>
            {data.session.first_prompt && (
              <div class="panel">
                <h2>First prompt</h2>
                <blockquote class="prompt">{data.session.first_prompt}</blockquote>
              </div>
            )}
            <div class="panel">
              <h2>Agents</h2>
              <DataTable
                caption="Cost per agent"
                columns={[
                  { key: "agent", label: "Agent", cell: (a: Agent) => agentName(a.agent_id) },
                  { key: "type", label: "Type", cell: (a: Agent) => a.agent_type ?? "—" },
                  { key: "requests", label: "Calls", numeric: true, cell: (a: Agent) => count(a.requests) },
                  { key: "cost", label: "Cost", numeric: true, cell: (a: Agent) => groupCost(a) },
                  { key: "cache", label: "Cache hit", numeric: true, cell: (a: Agent) => percent(a.cache_hit_ratio) },
                ]}
                rows={data.agents}
                rowKey={(a) => a.agent_id ?? "main"}
              />
            </div>
            <div class="panel">
              <h2>Timeline</h2>
              <Timeline calls={data.calls} />
            </div>
            <Calls calls={data.calls} />
          </>
        )}
      </Async>
    </section>
  );
}

const SHOWN = 200;

/** The session's calls in order, 200 at a time (a long agent run has thousands). */
function Calls({ calls }: { calls: Call[] }) {
  const [shown, setShown] = useState(SHOWN);
  return (
    <div class="panel">
      <h2>Calls</h2>
      <DataTable
        caption="Calls of this session"
        columns={[
          { key: "started_at", label: "Time (UTC)", cell: (c: Call) => time(c.started_at) },
          { key: "agent", label: "Agent", cell: (c: Call) => agentName(c.agent_id) },
          { key: "model", label: "Model", cell: (c: Call) => c.response_model ?? c.model ?? "—" },
          { key: "status", label: "Status", numeric: true, cell: (c: Call) => c.status },
          { key: "output", label: "Output", numeric: true, cell: (c: Call) => count(c.output_tokens) },
          { key: "cost", label: "Cost", numeric: true, cell: (c: Call) => <Cost record={c} /> },
          { key: "duration", label: "Duration", numeric: true, cell: (c: Call) => ms(c.duration_ms) },
        ]}
        rows={calls.slice(0, shown)}
        rowKey={(c) => c.id}
        href={(c) => `/requests/${encodeURIComponent(c.id)}`}
      />
      {calls.length > shown && (
        <nav class="pager" aria-label="More calls">
          <span class="muted">
            {count(shown)} of {count(calls.length)} shown
          </span>
          <button type="button" onClick={() => setShown(shown + SHOWN * 5)}>
            Show more
          </button>
        </nav>
      )}
    </div>
  );
}

const agentName = (agentId: string | null) => (agentId ? `subagent ${agentId}` : "main agent");

/** Calls as bars on a shared time axis, one lane per agent (the main agent first). */
function Timeline({ calls }: { calls: Call[] }) {
  if (calls.length === 0) return <p class="state state-empty">No calls.</p>;
  const starts = calls.map((c) => parseTime(c.started_at).getTime());
  const t0 = Math.min(...starts);
  const t1 = Math.max(...calls.map((c, i) => starts[i]! + c.duration_ms));
  const span = Math.max(1, t1 - t0);
  const lanes = [...new Set(calls.map((c) => c.agent_id ?? ""))].sort((a, b) => (a === "" ? -1 : b === "" ? 1 : 0));
  return (
    <div class="timeline" role="list" aria-label="Calls over time, by agent">
      {lanes.map((lane) => (
        <div class="lane" role="listitem" key={lane}>
          <span class="lane-label" title={agentName(lane || null)}>
            {agentName(lane || null)}
          </span>
          <div class="lane-track">
            {calls.map((c, i) =>
              (c.agent_id ?? "") !== lane ? null : (
                <a
                  key={c.id}
                  class={`bar${c.status >= 400 ? " bar-error" : ""}`}
                  href={`/requests/${encodeURIComponent(c.id)}`}
                  title={`${time(c.started_at)} · ${c.response_model ?? c.model ?? ""} · ${ms(c.duration_ms)} · ${usd(c.cost_usd)}`}
                  aria-label={`call at ${time(c.started_at)}, ${ms(c.duration_ms)}`}
                  style={{ left: `${((starts[i]! - t0) / span) * 100}%`, width: `max(3px, ${(c.duration_ms / span) * 100}%)` }}
                />
              ),
            )}
          </div>
        </div>
      ))}
      <div class="timeline-axis muted">
        <span>{time(new Date(t0).toISOString())}</span>
        <span>{duration(span)}</span>
        <span>{time(new Date(t1).toISOString())}</span>
      </div>
    </div>
  );
}
