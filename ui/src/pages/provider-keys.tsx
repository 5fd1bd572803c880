import { useState } from "preact/hooks";
import { change, get } from "../api.ts";
import { Async, Empty } from "../components/states.tsx";
import { time } from "../format.ts";
import { useSettings } from "../settings-context.ts";
import { useLoad } from "../use-load.ts";
import { useAction } from "../use-action.ts";

/**
 * Stored provider keys on the Keys page: set one (the secret goes once, in a
 * password field that is cleared on save), list and delete them. The API
 * answers with fingerprints only, so the secret is never in the page again.
 */
export function ProviderKeys() {
  const providerKeys = useLoad((signal) => get("/api/provider-keys", {}, signal), "provider-keys");
  const providers = useSettings()?.upstreams.map((u) => u.provider) ?? [];
  const [saved, setSaved] = useState<string | undefined>();
  const { problem, busy, act: run } = useAction(() => providerKeys.reload());
  const act = async (work: () => Promise<unknown>) => {
    setSaved(undefined);
    return (await run(work)) !== undefined;
  };

  return (
    <>
      <h2>Provider keys</h2>
      <p class="muted">
        Calls with a gateway key use the key stored for their provider and project. Stored sealed; also{" "}
        <code>loupe provider-keys set PROVIDER [--project P]</code> (the key on standard input).
      </p>
      <form
        class="panel admin-form"
        aria-labelledby="set-provider-key-title"
        onSubmit={async (event) => {
          event.preventDefault();
          const form = event.currentTarget;
          const data = new FormData(form);
          const field = (name: string) => String(data.get(name) ?? "");
          const provider = field("provider").trim();
          const project = field("project").trim();
          // The secret as typed (no trimming): some providers take JSON credentials (README).
          const secret = field("secret");
          // Cleared at once, whatever the answer: the secret is not kept in the page while the call runs or after.
          form.reset();
          if (await act(() => change("POST /api/provider-keys", {}, { provider, secret, ...(project ? { project } : {}) }))) {
            setSaved(`Stored the ${provider} key${project ? ` for ${project}` : ""}.`);
          }
        }}
      >
        <h2 id="set-provider-key-title">Set a provider key</h2>
        <div class="form-row">
          <label>
            Provider
            <input name="provider" list="provider-ids" required autocomplete="off" />
          </label>
          <datalist id="provider-ids">
            {providers.map((id) => (
              <option value={id} key={id} />
            ))}
          </datalist>
          <label>
            Project
            <input name="project" placeholder="every project without its own" />
          </label>
          <label>
            Secret
            <input name="secret" type="password" required autocomplete="new-password" spellcheck={false} />
          </label>
        </div>
        <button type="submit" disabled={busy}>
          Store provider key
        </button>
        <div aria-live="polite">
          {saved && <p class="good">{saved}</p>}
          {problem && (
            <p class="bad" role="alert">
              {problem}
            </p>
          )}
        </div>
      </form>
      <Async loaded={providerKeys}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>No stored provider keys.</Empty>
          ) : (
            <table>
              <caption class="visually-hidden">Provider keys</caption>
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Project</th>
                  <th scope="col">Fingerprint</th>
                  <th scope="col">Created (UTC)</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((p) => (
                  <tr key={p.id} data-provider-key-id={p.id}>
                    <td>
                      <code>{p.id}</code>
                    </td>
                    <td>{p.provider}</td>
                    <td>{p.project ?? "every project without its own"}</td>
                    <td>
                      <code data-fingerprint>{p.fingerprint}</code>
                    </td>
                    <td>{time(p.created_at)}</td>
                    <td class="actions">
                      <button
                        type="button"
                        disabled={busy}
                        aria-label={`Delete ${p.id}`}
                        onClick={() => {
                          if (confirm(`Delete ${p.id} (${p.provider})? Calls that relied on it go without a stored key.`)) void act(() => change("DELETE /api/provider-keys/{id}", { id: p.id }));
                        }}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
    </>
  );
}
