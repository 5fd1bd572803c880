import type { ComponentChildren } from "preact";
import type { Loaded } from "../use-load.ts";

/** Loading, error and empty states: a failing API call shows what failed and a way to retry, never a blank page. */
export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p class="state" role="status" aria-live="polite">
      {label}
    </p>
  );
}

export function ErrorState({ error, retry }: { error: Error; retry?: () => void }) {
  return (
    <div class="state state-error" role="alert">
      <strong>Could not load this data.</strong> <span class="error-message">{error.message}</span>
      {retry && (
        <button type="button" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state state-empty">{children}</p>;
}

/** Renders `children(data)` once loaded; the states otherwise. */
export function Async<T>({ loaded, children }: { loaded: Loaded<T>; children: (data: T) => ComponentChildren }) {
  if (loaded.error) return <ErrorState error={loaded.error} retry={loaded.reload} />;
  if (loaded.data === undefined) return <Loading />;
  return <div aria-busy={loaded.loading}>{children(loaded.data)}</div>;
}
