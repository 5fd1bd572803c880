import type { ComponentChildren } from "preact";
import { get } from "../api.ts";
import { Async } from "../components/states.tsx";
import { useLoad } from "../use-load.ts";

/** The effective configuration, read-only (secrets are never sent: only whether they are set). */
export function SettingsPage() {
  const settings = useLoad((signal) => get("/api/settings", {}, signal), "settings");
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Settings</h1>
      <p class="muted">Read-only: set these with flags, LOUPE_* variables or the config file, then restart.</p>
      <Async loaded={settings}>
        {(data) => (
          <>
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
