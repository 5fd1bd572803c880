import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Settings } from "./api.ts";

/** The gateway's settings (`/api/settings`), loaded once by the app; undefined until then. */
export const SettingsContext = createContext<Settings | undefined>(undefined);
export const useSettings = () => useContext(SettingsContext);

/** The link to a trace in the operator's trace UI (`LOUPE_TRACE_URL_TEMPLATE`), if one is configured. */
export function traceUrl(template: string | null | undefined, traceId: string): string | undefined {
  if (!template) return undefined;
  return template.replaceAll("{trace_id}", encodeURIComponent(traceId));
}
