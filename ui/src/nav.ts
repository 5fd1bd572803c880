import { useLocation } from "preact-iso";
import { readRange, rangeParams, type TimeRange } from "./range.ts";

/** The current page's query and range, and a way to change the query (keeping the range). */
export function useQuery(): { query: Record<string, string>; range: TimeRange; path: string; setQuery: (next: Record<string, string | undefined>, replace?: boolean) => void } {
  const location = useLocation();
  const search = new URLSearchParams(location.query);
  const range = readRange(search);
  return {
    query: location.query,
    range,
    path: location.path,
    setQuery(next, replace = false) {
      location.route(link(location.path, { ...location.query, ...next }), replace);
    },
  };
}

/** A link with a query string, skipping empty values. */
export function link(path: string, query: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== "") params.set(key, value);
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** A link to another page that keeps the time range. */
export function withRange(path: string, range: TimeRange, query: Record<string, string | undefined> = {}): string {
  return link(path, { ...rangeParams(range), ...query });
}
