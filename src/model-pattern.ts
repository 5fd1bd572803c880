/**
 * Model patterns as keys, limits and rules write them: `*` stands for any run
 * of characters (`claude-*`, `gpt-4o*`). Below every folder that reads them.
 */
/** Whether a model name matches a pattern where `*` stands for any run of characters. */
export function matchesPattern(pattern: string, value: string): boolean {
  if (!pattern.includes("*")) return pattern === value;
  const parts = pattern.split("*");
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === 0) {
      if (!value.startsWith(part)) return false;
      at = part.length;
    } else if (i === parts.length - 1) {
      return value.length - part.length >= at && value.endsWith(part);
    } else {
      const found = value.indexOf(part, at);
      if (found < 0) return false;
      at = found + part.length;
    }
  }
  return true;
}
