import { useState } from "preact/hooks";
import { change, get, type Routes } from "../api.ts";
import { Async, Empty } from "../components/states.tsx";
import { time } from "../format.ts";
import { useLoad } from "../use-load.ts";
import { ProviderKeys } from "./provider-keys.tsx";
import { useAction } from "../use-action.ts";

type Key = Routes["/api/keys"]["response"]["items"][number];
const EXPIRY: [string, number | undefined][] = [["never", undefined], ["7 days", 7 * 86_400], ["30 days", 30 * 86_400], ["90 days", 90 * 86_400], ["1 year", 365 * 86_400]];
const listOf = (text: string) => {
  const items = text.split(",").map((s) => s.trim()).filter(Boolean);
  return items.length ? items : undefined;
};

/** Gateway keys: create one (shown once), revoke, rotate; and the stored provider keys (provider-keys.tsx). */
export function Keys() {
  const keys = useLoad((signal) => get("/api/keys", {}, signal), "keys");
  const [shown, setShown] = useState<{ id: string; key: string; what: string } | undefined>();
  const { problem, busy, act: run } = useAction(() => keys.reload());
  const act = async <T,>(work: () => Promise<T>) => (await run(work))?.value;

  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Keys</h1>
      <p class="muted">
        Gateway keys (<code>lp_live_…</code>) go where a client's SDK sends its API key. Also: <code>loupe keys create --project P</code>.
      </p>
      <form
        class="panel admin-form"
        aria-labelledby="create-key-title"
        onSubmit={async (event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          const field = (name: string) => String(form.get(name) ?? "").trim();
          const expires = EXPIRY[Number(field("expires"))]?.[1];
          const made = await act(() =>
            change("POST /api/keys", {}, {
              project: field("project"),
              ...(field("name") ? { name: field("name") } : {}),
              ...(field("user") ? { user: field("user") } : {}),
              ...(expires ? { expires_in_s: expires } : {}),
              ...(listOf(field("providers")) ? { providers: listOf(field("providers")) } : {}),
              ...(listOf(field("models")) ? { models: listOf(field("models")) } : {}),
            }),
          );
          if (made) {
            setShown({ ...made, what: "New key" });
            (event.target as HTMLFormElement).reset();
          }
        }}
      >
        <h2 id="create-key-title">Create a key</h2>
        <div class="form-row">
          <label>
            Project
            <input name="project" required />
          </label>
          <label>
            Name
            <input name="name" />
          </label>
          <label>
            User
            <input name="user" />
          </label>
          <label>
            Expires in
            <select name="expires">
              {EXPIRY.map(([label], i) => (
                <option value={i} key={label}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Providers
            <input name="providers" placeholder="any (or provider ids, comma-separated)" />
          </label>
          <label>
            Models
            <input name="models" placeholder="any (or patterns like team-model-*)" />
          </label>
        </div>
        <button type="submit" disabled={busy}>
          Create key
        </button>
      </form>
      {problem && (
        <p class="bad" role="alert">
          {problem}
        </p>
      )}
      {shown && (
        <div class="panel new-key" role="status">
          <p>
            <strong>
              {shown.what} for {shown.id}
            </strong>{" "}
            — copy it now: it is not shown again.
          </p>
          <code data-new-key>{shown.key}</code>{" "}
          <button type="button" onClick={() => void navigator.clipboard?.writeText(shown.key)}>
            Copy
          </button>{" "}
          <button type="button" class="link" onClick={() => setShown(undefined)}>
            Done
          </button>
        </div>
      )}
      <Async loaded={keys}>
        {(data) =>
          data.items.length === 0 ? (
            <Empty>No gateway keys yet: calls pass through with their own provider keys.</Empty>
          ) : (
            <table class="keys">
              <caption class="visually-hidden">Gateway keys</caption>
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">Name</th>
                  <th scope="col">Project</th>
                  <th scope="col">User</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last used (UTC)</th>
                  <th scope="col">Expires (UTC)</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((k: Key) => (
                  <tr key={k.id} data-key-id={k.id}>
                    <td>
                      <code>{k.id}</code>
                    </td>
                    <td>{k.name ?? "—"}</td>
                    <td>{k.project}</td>
                    <td>{k.user ?? "—"}</td>
                    <td data-status>{k.status}</td>
                    <td>{k.last_used_at ? time(k.last_used_at) : "never"}</td>
                    <td>{k.expires_at ? time(k.expires_at) : "never"}</td>
                    <td class="actions">
                      {k.status !== "revoked" && (
                        <>
                          <button type="button" disabled={busy} aria-label={`Rotate ${k.id}`} onClick={async () => {
                            const made = await act(() => change("POST /api/keys/{id}/rotate", { id: k.id }));
                            if (made) setShown({ ...made, what: "Rotated key" });
                          }}>
                            Rotate
                          </button>{" "}
                          <button type="button" disabled={busy} aria-label={`Revoke ${k.id}`} onClick={() => {
                            if (confirm(`Revoke ${k.id}? Calls with it get 401 from now on.`)) void act(() => change("POST /api/keys/{id}/revoke", { id: k.id }));
                          }}>
                            Revoke
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
      <ProviderKeys />
    </section>
  );
}
