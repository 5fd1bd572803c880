import { useEffect, useRef, useState } from "preact/hooks";
import { get, type Filter, type RequestItem } from "../api.ts";
import { Cost } from "../components/cost.tsx";
import { DataTable, type Column } from "../components/data-table.tsx";
import { Async } from "../components/states.tsx";
import { count, ms, shortId, time, usd } from "../format.ts";
import { link, useQuery, withRange } from "../nav.ts";
import { rangeParams } from "../range.ts";
import { useLoad } from "../use-load.ts";
import { RequestDrawer } from "./request-drawer.tsx";

/** The API's filters, as the form shows them; all live in the URL. */
const FILTERS = [
  { key: "provider", label: "Provider" },
  { key: "model", label: "Model" },
  { key: "status", label: "Status", placeholder: "ok, error or 429" },
  { key: "session", label: "Session" },
  { key: "user", label: "User" },
  { key: "project", label: "Project" },
  { key: "tag", label: "Tag" },
  { key: "min_cost", label: "Min cost (USD)", placeholder: "0.01" },
] as const;
const CHOICES = [
  { key: "streamed", label: "Streamed", options: ["", "true", "false"] },
  { key: "unpriced", label: "Unpriced", options: ["", "true", "false"] },
] as const;
const PAGE = 50;

export function Requests({ id }: { id?: string }) {
  const { range, query, setQuery } = useQuery();
  const filter: Filter = { from: range.from, to: range.to };
  for (const { key } of [...FILTERS, ...CHOICES]) if (query[key]) filter[key] = query[key];
  const sort = query.sort ?? "started_at";
  const order = query.order === "asc" ? "asc" : "desc";
  const cursor = query.cursor;
  const key = JSON.stringify([filter, sort, order, cursor]);
  const page = useLoad((signal) => get("/api/requests", { ...filter, sort, order, limit: String(PAGE), ...(cursor ? { cursor } : {}) }, signal), key);
  // The cursors of earlier pages, to go back (the API pages forward only).
  const [history, setHistory] = useState<string[]>([]);
  const filterKey = JSON.stringify([filter, sort, order]);
  const lastFilter = useRef(filterKey);
  useEffect(() => {
    if (lastFilter.current !== filterKey) setHistory([]);
    lastFilter.current = filterKey;
  }, [filterKey]);

  const listQuery = (extra: Record<string, string | undefined> = {}) => {
    const q: Record<string, string | undefined> = { ...rangeParams(range) };
    for (const { key } of [...FILTERS, ...CHOICES]) q[key] = query[key];
    if (query.sort) q.sort = query.sort;
    if (query.order) q.order = query.order;
    if (cursor) q.cursor = cursor;
    return { ...q, ...extra };
  };

  const columns: Column<RequestItem>[] = [
    { key: "started_at", label: "Time (UTC)", sortKey: "started_at", cell: (r) => time(r.started_at) },
    { key: "provider", label: "Provider", cell: (r) => r.provider },
    { key: "model", label: "Model", cell: (r) => r.response_model ?? r.model ?? "—" },
    { key: "status", label: "Status", numeric: true, cell: (r) => <span class={r.status >= 400 ? "bad" : undefined}>{r.status}</span> },
    { key: "input_tokens", label: "Input", numeric: true, cell: (r) => count(r.input_tokens) },
    { key: "output_tokens", label: "Output", numeric: true, sortKey: "output_tokens", cell: (r) => count(r.output_tokens) },
    { key: "cost_usd", label: "Cost", numeric: true, sortKey: "cost_usd", cell: (r) => <Cost record={r} /> },
    { key: "duration_ms", label: "Duration", numeric: true, sortKey: "duration_ms", cell: (r) => ms(r.duration_ms) },
    { key: "session_id", label: "Session", cell: (r) => (r.session_id ? shortId(r.session_id, 12) : "—") },
  ];

  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Requests</h1>
      <form
        class="filters"
        aria-label="Filters"
        onSubmit={(event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          const next: Record<string, string | undefined> = { cursor: undefined };
          for (const { key } of [...FILTERS, ...CHOICES]) next[key] = String(form.get(key) ?? "").trim() || undefined;
          setQuery(next);
        }}
      >
        {FILTERS.map((f) => (
          <label key={f.key}>
            {f.label}
            <input name={f.key} defaultValue={query[f.key] ?? ""} placeholder={"placeholder" in f ? f.placeholder : ""} autocomplete="off" />
          </label>
        ))}
        {CHOICES.map((c) => (
          <label key={c.key}>
            {c.label}
            <select name={c.key} value={query[c.key] ?? ""}>
              {c.options.map((o) => (
                <option value={o}>{o === "" ? "any" : o === "true" ? "yes" : "no"}</option>
              ))}
            </select>
          </label>
        ))}
        <div class="filter-actions">
          <button type="submit">Apply</button>
          <a href={withRange("/requests", range)}>Clear</a>
        </div>
      </form>
      <Async loaded={page}>
        {(data) => (
          <>
            <DataTable
              caption="Recorded calls"
              columns={columns}
              rows={data.items}
              rowKey={(r) => r.id}
              href={(r) => link(`/requests/${encodeURIComponent(r.id)}`, listQuery())}
              sort={{
                key: sort,
                order,
                onSort: (field) => setQuery({ sort: field, order: field === sort && order === "desc" ? "asc" : "desc", cursor: undefined }),
              }}
              empty="No calls match these filters in this range."
            />
            <nav class="pager" aria-label="Pages">
              <button
                type="button"
                disabled={!cursor}
                onClick={() => {
                  const previous = history.slice(0, -1);
                  setHistory(previous);
                  setQuery({ cursor: history[history.length - 1] || undefined });
                }}
              >
                Previous page
              </button>
              <span class="muted">{data.items.length} shown</span>
              <button
                type="button"
                disabled={!data.next_cursor}
                onClick={() => {
                  setHistory([...history, cursor ?? ""]);
                  setQuery({ cursor: data.next_cursor ?? undefined });
                }}
              >
                Next page
              </button>
            </nav>
          </>
        )}
      </Async>
      {id && <RequestDrawer id={id} closeHref={link("/requests", listQuery())} />}
    </section>
  );
}
