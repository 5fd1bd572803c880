import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ApiError, change, get, type Settings } from "../api.ts";
import { Async } from "../components/states.tsx";
import { useLoad } from "../use-load.ts";

/** The effective configuration, read-only (secrets are never sent: only whether they are set), and the control settings, editable. */
export function SettingsPage() {
  const settings = useLoad((signal) => get("/api/settings", {}, signal), "settings");
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Settings</h1>
      <Async loaded={settings}>
        {(data) => (
          <>
            <ControlEditor control={data.control} reload={settings.reload} />
            <p class="muted">Read-only: set these with flags, LOUPE_* variables or the config file, then restart.</p>
            <Group title="Gateway">
              <Tree value={data.gateway} />
            </Group>
            <Group title="Access and links">
              <Tree value={{ ...data.access, trace_url_template: data.trace_url_template }} />
            </Group>
            <Group title="Upstreams">
              <table>
                <caption class="visually-hidden">Upstreams</caption>
                <thead>
                  <tr>
                    <th scope="col">Provider</th>
                    <th scope="col">Route</th>
                    <th scope="col">Upstream</th>
                    <th scope="col">Overridden</th>
                  </tr>
                </thead>
                <tbody>
                  {data.upstreams.map((u) => (
                    <tr key={u.provider}>
                      <td>{u.provider}</td>
                      <td>
                        <code>{u.prefix}</code>
                      </td>
                      <td>
                        <code>{u.upstream}</code>
                      </td>
                      <td>{u.overridden ? "yes" : "no"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Group>
            <Group title="OpenTelemetry export">
              <Tree value={data.telemetry} />
            </Group>
            <Group title="Shared log (ClickHouse)">
              {data.clickhouse ? <Tree value={data.clickhouse} /> : <p>Off: records are kept in the DuckDB file only (set LOUPE_CLICKHOUSE_URL to share them between replicas).</p>}
            </Group>
            <Group title="Storage queue">
              <Tree value={data.storage} />
            </Group>
          </>
        )}
      </Async>
    </section>
  );
}

function Group({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <div class="panel">
      <h2>{title}</h2>
      {children}
    </div>
  );
}

/** Nested settings as a definition list. */
function Tree({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span class="muted">off</span>;
  if (typeof value !== "object") return <code>{String(value)}</code>;
  if (Array.isArray(value)) return <code>{value.map(String).join(", ") || "none"}</code>;
  return (
    <dl class="tree">
      {Object.entries(value as Record<string, unknown>).map(([key, v]) => (
        <div key={key} data-setting={key}>
          <dt>{key}</dt>
          <dd>
            <Tree value={v} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

type Control = Settings["control"];
type Key = "requestHeaderRules" | "responseHeaderRules" | "routing" | "fallbacks" | "retry";

/** The editable control settings, in the order shown, with what each one takes. */
const KEYS: readonly { key: Key; label: string; hint: string; list: boolean }[] = [
  { key: "routing", label: "Routing rules", hint: 'A list: [{ "match": { "model": "gpt-4o" }, "to": { "provider": "anthropic", "model": "claude-sonnet-4-5" } }]', list: true },
  { key: "fallbacks", label: "Fallbacks", hint: 'A list: [{ "match": { "provider": "anthropic" }, "chain": [{ "provider": "openai", "model": "gpt-4o" }] }]', list: true },
  { key: "retry", label: "Retry", hint: 'An object: { "attempts": 3, "backoffMs": 250, "maxBackoffMs": 8000, "on": [429, 500, "connect", "timeout"] }', list: false },
  { key: "requestHeaderRules", label: "Request header rules", hint: 'A list: [{ "header": "user-agent", "action": "replace", "find": "internal", "value": "partner" }]', list: true },
  { key: "responseHeaderRules", label: "Response header rules", hint: 'A list: [{ "header": "openai-organization", "action": "block", "match": { "provider": "openai" } }]', list: true },
];

type Drafts = Record<Key, string>;
type Result =
  | { kind: "saved"; version: number }
  | { kind: "invalid"; message: string; field: string | undefined }
  | { kind: "conflict"; message: string }
  | { kind: "failed"; message: string };

function draftsOf(settings: unknown): Drafts {
  const given = (settings ?? {}) as Partial<Record<Key, unknown>>;
  const text = (value: unknown, list: boolean) => JSON.stringify(value ?? (list ? [] : {}), null, 2);
  return Object.fromEntries(KEYS.map(({ key, list }) => [key, text(given[key], list)])) as Drafts;
}

/** The top-level setting a field path such as `requestHeaderRules[0].header` is in. */
const keyOf = (field: string | undefined): Key | undefined => KEYS.find(({ key }) => field === key || field?.startsWith(`${key}.`) || field?.startsWith(`${key}[`))?.key;

/**
 * Header rules, routing, fallbacks and retry: one JSON editor each, saved
 * together by `PUT /api/settings` with the version they were read at. A
 * refused change keeps the text as typed and names the field.
 */
function ControlEditor({ control, reload }: { control: Control; reload: () => void }) {
  const [version, setVersion] = useState(control.version);
  const [drafts, setDrafts] = useState<Drafts>(() => draftsOf(control.settings));
  const [result, setResult] = useState<Result | undefined>();
  const [busy, setBusy] = useState(false);
  const badKey = result?.kind === "invalid" ? keyOf(result.field) : undefined;

  /** A refused change: named, and the editor it is in takes the focus (its text as typed). */
  function refuse(message: string, field: string | undefined) {
    setResult({ kind: "invalid", message, field });
    const key = keyOf(field);
    if (key) document.getElementById(`control-${key}`)?.focus();
  }

  async function save() {
    const body: { [K in Key]?: K extends "retry" ? unknown : unknown[] } = {};
    for (const { key, label, list } of KEYS) {
      const text = drafts[key].trim();
      let value: unknown = list ? [] : undefined;
      try {
        if (text !== "") value = JSON.parse(text);
      } catch (error) {
        refuse(`${key}: ${label} is not valid JSON (${(error as Error).message})`, key);
        return;
      }
      if (key === "retry") {
        if (value !== undefined) body.retry = value;
      } else if (Array.isArray(value)) body[key] = value;
      else {
        refuse(`${key}: ${label} must be a JSON list ([ … ])`, key);
        return;
      }
    }
    setBusy(true);
    setResult(undefined);
    try {
      const applied = await change("PUT /api/settings", {}, { version, ...body });
      setVersion(applied.version);
      setDrafts(draftsOf(applied.settings));
      setResult({ kind: "saved", version: applied.version });
      reload();
    } catch (error) {
      const e = error as Error;
      if (e instanceof ApiError && e.status === 400) refuse(e.message, e.field);
      else if (e instanceof ApiError && e.status === 409) setResult({ kind: "conflict", message: e.message });
      else setResult({ kind: "failed", message: e.message });
    } finally {
      setBusy(false);
    }
  }

  async function reloadControl() {
    setBusy(true);
    try {
      const fresh = await get("/api/settings", {});
      setVersion(fresh.control.version);
      setDrafts(draftsOf(fresh.control.settings));
      setResult(undefined);
      reload();
    } catch (error) {
      setResult({ kind: "failed", message: (error as Error).message });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      class="panel admin-form control-editor"
      aria-labelledby="control-title"
      onSubmit={(event) => {
        event.preventDefault();
        void save();
      }}
    >
      <h2 id="control-title">Routing and rules</h2>
      <p class="muted">
        In force now: version <strong data-control-version>{version}</strong>
        {control.version !== version && <> (the gateway has version {control.version})</>}. Saved changes apply to the next call and last until the gateway restarts; put them
        in the config file to keep them.
      </p>
      {KEYS.map(({ key, label, hint }) => {
        const lines = drafts[key].split("\n").length;
        return (
          <div class="control-field" key={key}>
            <label for={`control-${key}`}>
              {label} <code class="muted">{key}</code>
            </label>
            <p class="hint muted" id={`control-${key}-hint`}>
              {hint}
            </p>
            <textarea
              id={`control-${key}`}
              name={key}
              rows={Math.min(16, Math.max(3, lines))}
              spellcheck={false}
              aria-describedby={badKey === key ? `control-${key}-hint control-${key}-error` : `control-${key}-hint`}
              aria-invalid={badKey === key}
              value={drafts[key]}
              onInput={(event) => {
                const value = (event.currentTarget as HTMLTextAreaElement).value;
                setDrafts((previous) => ({ ...previous, [key]: value }));
              }}
            />
            {badKey === key && result?.kind === "invalid" && (
              <p class="bad" id={`control-${key}-error`}>
                {result.message}
              </p>
            )}
          </div>
        );
      })}
      <div class="form-actions">
        <button type="submit" disabled={busy}>
          Save
        </button>
        <button type="button" disabled={busy} onClick={() => void reloadControl()}>
          Reload
        </button>
      </div>
      <div class="save-result" aria-live="polite" data-save-result={result?.kind ?? ""}>
        {result?.kind === "saved" && <p class="good">Saved, version {result.version}.</p>}
        {result?.kind === "invalid" && (
          <p class="bad">
            <strong>Not saved</strong>; the settings in force are unchanged. {result.message}
            {result.field && (
              <>
                {" "}
                (field <code data-field-named>{result.field}</code>)
              </>
            )}
          </p>
        )}
        {result?.kind === "conflict" && (
          <p class="bad">
            <strong>Not saved: the settings were changed meanwhile</strong> by someone else. Reload them (your text here will be replaced), then make the change again. ({result.message})
          </p>
        )}
        {result?.kind === "failed" && (
          <p class="bad">
            <strong>Not saved.</strong> {result.message}
          </p>
        )}
      </div>
    </form>
  );
}
