import { get, type Routes } from "../api.ts";
import { DataTable, type Column } from "../components/data-table.tsx";
import { Async } from "../components/states.tsx";
import { count, groupCost, percent, shortId, time, usd } from "../format.ts";
import { useQuery, withRange } from "../nav.ts";
import { useLoad } from "../use-load.ts";

type SessionRow = Routes["/api/sessions"]["response"]["items"][number];

/** Sessions of the range, most recent activity first, grouped by project (Claude Code sends one per conversation). */
export function Sessions() {
  const { range, query, setQuery } = useQuery();
  const cursor = query.cursor;
  const page = useLoad(
    (signal) => get("/api/sessions", { from: range.from, to: range.to, limit: "50", ...(cursor ? { cursor } : {}), ...(query.project ? { project: query.project } : {}) }, signal),
    `${range.from}|${range.to}|${cursor}|${query.project}`,
  );
  const columns: Column<SessionRow>[] = [
    { key: "session_id", label: "Session", cell: (r) => shortId(r.session_id, 24) },
    { key: "last_at", label: "Last call (UTC)", cell: (r) => time(r.last_at) },
    { key: "requests", label: "Calls", numeric: true, cell: (r) => count(r.requests) },
    { key: "cost_usd", label: "Cost", numeric: true, cell: (r) => groupCost(r) },
    { key: "cache_hit_ratio", label: "Cache hit", numeric: true, cell: (r) => percent(r.cache_hit_ratio) },
    { key: "models", label: "Models", cell: (r) => (r.models ?? []).join(", ") },
    { key: "user_id", label: "User", cell: (r) => r.user_id ?? "—" },
  ];
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Sessions</h1>
      {query.project && (
        <p>
          Project <strong>{query.project}</strong> · <a href={withRange("/sessions", range)}>all projects</a>
        </p>
      )}
      <Async loaded={page}>
        {(data) => {
          const groups = new Map<string, SessionRow[]>();
          for (const row of data.items) {
            const project = row.project ?? "(no project)";
            groups.set(project, [...(groups.get(project) ?? []), row]);
          }
          if (data.items.length === 0) return <p class="state state-empty">No sessions in this range.</p>;
          return (
            <>
              {[...groups].map(([project, rows]) => (
                <div class="panel" key={project} data-project={project}>
                  <h2>{project}</h2>
                  <DataTable caption={`Sessions of ${project}`} columns={columns} rows={rows} rowKey={(r) => r.session_id} href={(r) => withRange(`/sessions/${encodeURIComponent(r.session_id)}`, range)} />
                </div>
              ))}
              <nav class="pager" aria-label="Pages">
                {cursor && <a href={withRange("/sessions", range, { project: query.project })}>First page</a>}
                <button type="button" disabled={!data.next_cursor} onClick={() => setQuery({ cursor: data.next_cursor ?? undefined })}>
                  Next page
                </button>
              </nav>
            </>
          );
        }}
      </Async>
    </section>
  );
}
