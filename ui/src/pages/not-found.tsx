import { useLocation } from "preact-iso";

export function NotFound() {
  const { path } = useLocation();
  return (
    <section aria-labelledby="page-title" class="not-found">
      <h1 id="page-title">Page not found</h1>
      <p>
        The dashboard has no page at <code>{path}</code>. <a href="/">Go to the overview</a>.
      </p>
    </section>
  );
}
