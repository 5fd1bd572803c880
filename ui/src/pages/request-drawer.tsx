import { useEffect, useRef } from "preact/hooks";
import { useLocation } from "preact-iso";
import { get, type RequestDetail } from "../api.ts";
import { DataTable } from "../components/data-table.tsx";
import { Async } from "../components/states.tsx";
import { bytes, count, ms, time, usd } from "../format.ts";
import { traceUrl, useSettings } from "../settings-context.ts";
import { useLoad } from "../use-load.ts";

/**
 * One record, over the list it was opened from (`/requests/<id>`): every
 * column, the cost per token kind, usage as the provider reported it, and the
 * bodies when they were logged. Escape or the close button goes back.
 */
export function RequestDrawer({ id, closeHref }: { id: string; closeHref: string }) {
  const record = useLoad((signal) => get("/api/requests/{id}", { id }, signal), id);
  const { route } = useLocation();
  const panel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    panel.current?.focus();
    const onKey = (event: KeyboardEvent) => event.key === "Escape" && route(closeHref);
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [id, closeHref]);
  return (
    <div class="drawer-backdrop">
      <div class="drawer" role="dialog" aria-modal="true" aria-labelledby="drawer-title" tabIndex={-1} ref={panel}>
        <header class="drawer-head">
          <h2 id="drawer-title">Request {id}</h2>
          <a class="button" href={closeHref} aria-label="Close">
            Close
          </a>
        </header>
        <Async loaded={record}>{(data) => <RecordDetail record={data} />}</Async>
      </div>
    </div>
  );
}

const LABELS: Record<string, (r: RequestDetail) => string> = {
  duration_ms: (r) => ms(r.duration_ms),
  ttfb_ms: (r) => ms(r.ttfb_ms),
  request_bytes: (r) => bytes(r.request_bytes),
  response_bytes: (r) => bytes(r.response_bytes),
  cost_usd: (r) => (r.cost_usd === null ? "unpriced (no known price: not $0)" : usd(r.cost_usd)),
  started_at: (r) => `${time(r.started_at)} UTC`,
};
const LONG = new Set(["usage_raw", "request_body", "response_body", "cost_breakdown"]);

export function RecordDetail({ record }: { record: RequestDetail }) {
  const settings = useSettings();
  const trace = record.trace_id ? traceUrl(settings?.trace_url_template, record.trace_id) : undefined;
  const fields = Object.entries(record).filter(([key]) => !LONG.has(key));
  return (
    <div class="detail">
      <dl class="fields">
        {fields.map(([key, value]) => (
          <div key={key} data-field={key}>
            <dt>{key}</dt>
            <dd>
              {key === "trace_id" && trace ? (
                <a href={trace} target="_blank" rel="noopener noreferrer">
                  {String(value)}
                </a>
              ) : key === "session_id" && value ? (
                <a href={`/sessions/${encodeURIComponent(String(value))}`}>{String(value)}</a>
              ) : LABELS[key] ? (
                LABELS[key](record)
              ) : key.endsWith("_tokens") && typeof value === "number" ? (
                count(value)
              ) : value === null ? (
                <span class="muted">null</span>
              ) : Array.isArray(value) ? (
                value.join(", ")
              ) : (
                String(value)
              )}
            </dd>
          </div>
        ))}
      </dl>
      <CostBreakdown record={record} />
      <Block title="Usage as reported (usage_raw)" text={record.usage_raw} />
      <Block title="Request body" text={record.request_body} />
      <Block title="Response body" text={record.response_body} />
    </div>
  );
}

function CostBreakdown({ record }: { record: RequestDetail }) {
  const breakdown = record.cost_breakdown;
  return (
    <section class="panel" aria-labelledby="cost-title">
      <h3 id="cost-title">Cost breakdown</h3>
      {!breakdown ? (
        <p class="muted">No breakdown for this record.</p>
      ) : (
        <>
          <p>
            Source <strong>{breakdown.cost_source ?? "none"}</strong>
            {breakdown.priced_model && (
              <>
                {" "}
                · price of <strong>{breakdown.priced_model}</strong>
              </>
            )}
            {breakdown.price_version && <> · price data {breakdown.price_version}</>}
          </p>
          {breakdown.note && <p class="muted">{breakdown.note}</p>}
          {breakdown.components.length > 0 && (
            <DataTable
              caption="Cost per token kind"
              columns={[
                { key: "kind", label: "Kind", cell: (c) => c.kind },
                { key: "tokens", label: "Tokens", numeric: true, cell: (c) => count(c.tokens) },
                { key: "price", label: "USD / M tokens", numeric: true, cell: (c) => (c.usd_per_mtok === null ? "—" : String(c.usd_per_mtok)) },
                { key: "cost", label: "Cost", numeric: true, cell: (c) => usd(c.cost_usd) },
              ]}
              rows={breakdown.components}
              rowKey={(c) => c.kind}
            />
          )}
          {breakdown.total_usd !== null && breakdown.total_usd !== undefined && (
            <p>
              Total {usd(breakdown.total_usd)}
              {breakdown.matches_record === false && <span class="bad"> (the record holds {usd(record.cost_usd)}: prices changed since)</span>}
            </p>
          )}
        </>
      )}
    </section>
  );
}

function Block({ title, text }: { title: string; text: string | null }) {
  if (text === null) return null;
  let shown = text;
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // Not JSON (an SSE transcript, say): shown as it was recorded.
  }
  return (
    <details class="panel" open={title.startsWith("Usage")}>
      <summary>{title}</summary>
      <pre>{shown}</pre>
    </details>
  );
}
