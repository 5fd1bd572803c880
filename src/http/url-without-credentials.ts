/** A URL as a log line or a settings page may show it: without user info or query, where credentials hide. */
export function urlWithoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    parsed.search = "";
    return parsed.toString();
  } catch {
    return "(not shown)";
  }
}
