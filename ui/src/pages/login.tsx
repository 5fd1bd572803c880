import { useState } from "preact/hooks";
import { ApiError, post, ROUTE_LOGIN } from "../api.ts";

/** Asks once for LOUPE_ADMIN_TOKEN; the gateway answers with an HttpOnly session cookie. */
export function Login({ onDone }: { onDone: () => void }) {
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  return (
    <main class="login" id="main">
      <form
        class="panel"
        aria-labelledby="login-title"
        onSubmit={async (event) => {
          event.preventDefault();
          const token = String(new FormData(event.currentTarget).get("token") ?? "");
          setBusy(true);
          setError(undefined);
          try {
            await post(ROUTE_LOGIN, { token });
            onDone();
          } catch (e) {
            setError(e instanceof ApiError && e.status === 401 ? "That token is not the gateway's admin token." : (e as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1 id="login-title">Sign in to Loupe</h1>
        <label>
          Admin token
          <input name="token" type="password" autocomplete="current-password" required autoFocus />
        </label>
        <p class="muted">The value of LOUPE_ADMIN_TOKEN on the gateway.</p>
        {error && (
          <p class="bad" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
