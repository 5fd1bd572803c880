/**
 * The dashboard's pages (ui/src/app.tsx routes the same paths). A browser
 * asking for one of these gets the page, 200; for any other path the same
 * shell answers 404 and the dashboard shows its own not-found page.
 */
const PAGES = [/^\/$/, /^\/requests(\/[^/]+)?$/, /^\/sessions(\/[^/]+)?$/, /^\/(users|projects|models|live|keys|limits|settings)$/];

export function isDashboardPage(path: string): boolean {
  return PAGES.some((page) => page.test(path));
}

/** The media ranges of an Accept header with their q (RFC 9110 §12.5.1). */
function qualityOf(accept: string, type: string): number {
  const [major] = type.split("/");
  let best = -1;
  let specificity = -1;
  for (const part of accept.split(",")) {
    const [range = "", ...params] = part.trim().toLowerCase().split(";");
    const q = Number(params.map((p) => p.trim()).find((p) => p.startsWith("q="))?.slice(2) ?? 1);
    const rank = range === type ? 2 : range === `${major}/*` ? 1 : range === "*/*" ? 0 : -1;
    if (rank > specificity) {
      specificity = rank;
      best = Number.isFinite(q) ? q : 0;
    }
  }
  return best;
}

/** A browser navigating: `text/html` preferred over JSON (ties, like `*\/*` from curl, stay JSON). */
export function prefersHtml(accept: string | null | undefined): boolean {
  if (!accept) return false;
  return qualityOf(accept, "text/html") > Math.max(0, qualityOf(accept, "application/json"));
}
