import { useEffect, useRef, useState } from "preact/hooks";
import { ROUTE_STREAM, type RequestItem } from "../api.ts";
import { Cost } from "../components/cost.tsx";
import { DataTable } from "../components/data-table.tsx";
import { count, ms, time, usd } from "../format.ts";

const KEEP = 500;

/**
 * New calls as they are recorded, from the gateway's Server-Sent Events
 * (`/api/stream`). Pausing freezes the list; what arrives meanwhile waits and
 * is shown on resume.
 */
export function Live() {
  const [rows, setRows] = useState<RequestItem[]>([]);
  const [paused, setPaused] = useState(false);
  const [status, setStatus] = useState<"connecting" | "live" | "reconnecting">("connecting");
  const waiting = useRef<RequestItem[]>([]);
  const [held, setHeld] = useState(0);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    const source = new EventSource(ROUTE_STREAM);
    source.onopen = () => setStatus("live");
    source.onerror = () => setStatus("reconnecting");
    source.addEventListener("record", (event) => {
      const record = JSON.parse((event as MessageEvent<string>).data) as RequestItem;
      if (pausedRef.current) {
        waiting.current.push(record);
        setHeld(waiting.current.length);
      }
      else setRows((previous) => [record, ...previous].slice(0, KEEP));
    });
    return () => source.close();
  }, []);

  const resume = () => {
    const held = waiting.current.reverse();
    waiting.current = [];
    setHeld(0);
    setRows((previous) => [...held, ...previous].slice(0, KEEP));
    setPaused(false);
  };

  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Live</h1>
      <div class="toolbar">
        <span class={`live-status live-${status}`} role="status">
          {status === "live" ? (paused ? "Paused" : "Live") : status === "connecting" ? "Connecting…" : "Reconnecting…"}
        </span>
        <button type="button" onClick={() => (paused ? resume() : setPaused(true))} aria-pressed={paused}>
          {paused ? `Resume${held ? ` (${held} new)` : ""}` : "Pause"}
        </button>
        <span class="muted">{count(rows.length)} shown (the latest {KEEP})</span>
      </div>
      <DataTable
        caption="Calls as they finish"
        columns={[
          { key: "started_at", label: "Time (UTC)", cell: (r: RequestItem) => time(r.started_at) },
          { key: "provider", label: "Provider", cell: (r: RequestItem) => r.provider },
          { key: "model", label: "Model", cell: (r: RequestItem) => r.response_model ?? r.model ?? "—" },
          { key: "status", label: "Status", numeric: true, cell: (r: RequestItem) => r.status },
          { key: "output", label: "Output", numeric: true, cell: (r: RequestItem) => count(r.output_tokens) },
          { key: "cost", label: "Cost", numeric: true, cell: (r: RequestItem) => <Cost record={r} /> },
          { key: "duration", label: "Duration", numeric: true, cell: (r: RequestItem) => ms(r.duration_ms) },
        ]}
        rows={rows}
        rowKey={(r) => r.id}
        href={(r) => `/requests/${encodeURIComponent(r.id)}`}
        empty="Waiting for calls… Send one through the gateway and it appears here."
      />
    </section>
  );
}
