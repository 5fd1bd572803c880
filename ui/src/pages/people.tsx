import { get, type Routes } from "../api.ts";
import { DataTable } from "../components/data-table.tsx";
import { Async } from "../components/states.tsx";
import { count, groupCost, percent, time, usd } from "../format.ts";
import { useQuery, withRange } from "../nav.ts";
import { useLoad } from "../use-load.ts";

type UserRow = Routes["/api/users"]["response"]["items"][number];
type ProjectRow = Routes["/api/projects"]["response"]["items"][number];

const usage = <T extends { requests: number; unpriced_requests: number; errors: number; input_tokens: number; output_tokens: number; cost_usd: string; cache_hit_ratio: number | null; last_at: string; sessions: number }>() => [
  { key: "requests", label: "Calls", numeric: true, cell: (r: T) => count(r.requests) },
  { key: "errors", label: "Errors", numeric: true, cell: (r: T) => count(r.errors) },
  { key: "sessions", label: "Sessions", numeric: true, cell: (r: T) => count(r.sessions) },
  { key: "input", label: "Input tokens", numeric: true, cell: (r: T) => count(r.input_tokens) },
  { key: "output", label: "Output tokens", numeric: true, cell: (r: T) => count(r.output_tokens) },
  { key: "cache", label: "Cache hit", numeric: true, cell: (r: T) => percent(r.cache_hit_ratio) },
  { key: "cost", label: "Cost", numeric: true, cell: (r: T) => groupCost(r) },
  { key: "last", label: "Last call (UTC)", cell: (r: T) => time(r.last_at) },
];

/** Usage and cost per end user (`x-loupe-user`, or OpenAI's `user`) over the range. */
export function Users() {
  const { range } = useQuery();
  const users = useLoad((signal) => get("/api/users", { from: range.from, to: range.to }, signal), `${range.from}|${range.to}`);
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Users</h1>
      <Async loaded={users}>
        {(data) => (
          <DataTable
            caption="Usage per user"
            columns={[{ key: "user_id", label: "User", cell: (r: UserRow) => r.user_id }, ...usage<UserRow>()]}
            rows={data.items}
            rowKey={(r) => r.user_id}
            href={(r) => withRange("/requests", range, { user: r.user_id })}
            empty="No calls tagged with a user in this range (send x-loupe-user)."
          />
        )}
      </Async>
    </section>
  );
}

/** Usage and cost per project (`x-loupe-project`) over the range. */
export function Projects() {
  const { range } = useQuery();
  const projects = useLoad((signal) => get("/api/projects", { from: range.from, to: range.to }, signal), `${range.from}|${range.to}`);
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Projects</h1>
      <Async loaded={projects}>
        {(data) => (
          <DataTable
            caption="Usage per project"
            columns={[
              { key: "project", label: "Project", cell: (r: ProjectRow) => r.project },
              { key: "users", label: "Users", numeric: true, cell: (r: ProjectRow) => count(r.users) },
              ...usage<ProjectRow>(),
            ]}
            rows={data.items}
            rowKey={(r) => r.project}
            href={(r) => withRange("/sessions", range, { project: r.project })}
            empty="No calls tagged with a project in this range (send x-loupe-project)."
          />
        )}
      </Async>
    </section>
  );
}
