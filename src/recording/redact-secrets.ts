/**
 * Masks credentials in text before it is stored or exported: what a client
 * pastes into a prompt, what an upstream echoes back in an error, a Gemini
 * `?key=` in a path. Each secret keeps its recognisable prefix, so a reader
 * still sees what kind of key it was, and loses the rest:
 *
 *   sk-ant-api03-… → sk-ant-***     sk-proj-… → sk-proj-***     sk-… → sk-***
 *   AIza…          → AIza***        lp_live_… → lp_live_***     AKIA… → AKIA***     ASIA… → ASIA***
 *   Bearer …       → Bearer ***     aws_secret_access_key=…, "SecretAccessKey": "…" → the label kept, the value ***
 *
 * Key material must be long (≥ 20 characters of `[A-Za-z0-9_-]`; ≥ 16 token
 * characters after `Bearer`) and a key must not continue a word, so prose
 * such as "task-sk-…" or "the Bearer of" is left alone. Keys inside JSON
 * strings and URLs count too: one right after an escape (`\nsk-…`,
 * `\u0022sk-…`, `%22sk-…`) is still a key.
 */

/**
 * One regex, one pass; every alternative starts with a literal, so the
 * engine skips text without them quickly (~2.3 ms for a 1 MB body with no
 * secret; a lookbehind per alternative would cost ~4). Which group matched
 * says what is kept; the word boundary is checked in `mask`, on matches only.
 */
const SECRET = new RegExp(
  [
    // 1: the sk- family (Anthropic's and OpenAI project keys' longer prefixes kept), Google API keys, Loupe's gateway keys.
    String.raw`(sk-(?:ant-|proj-)?|AIza|lp_live_)[A-Za-z0-9_\-]{20,}`,
    // 2: AWS access key ids: exactly 16 upper-case characters after the prefix.
    String.raw`(A[KS]IA)[A-Z0-9]{16}(?![A-Za-z0-9])`,
    // 3: RFC 6750 bearer tokens (b64token), whatever they are; the scheme is case-insensitive (RFC 9110 §11.1).
    String.raw`([Bb]earer\s+|BEARER\s+)[A-Za-z0-9\-._~+/]{16,}=*`,
    // 4: AWS secret access keys (40 base64 characters) are known by their label only, with its quotes (JSON-escaped or not) and separator.
    String.raw`((?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|[Ss]ecretAccessKey|secret_access_key)(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?)[A-Za-z0-9/+=]{20,}`,
  ].join("|"),
  "g",
);

const WORD = /[A-Za-z0-9_-]/;
const HEX = /^[0-9A-Fa-f]+$/;

/** A key starts at `at` unless it continues a word; a JSON (`\n`, `\u0022`) or URL (`%22`) escape ends the word before it. */
function startsKey(text: string, at: number): boolean {
  const before = text[at - 1];
  if (before === undefined || !WORD.test(before)) return true;
  if (text[at - 2] === "\\" && "nrtbf".includes(before)) return true;
  if (text[at - 3] === "%" && HEX.test(text.slice(at - 2, at))) return true;
  return text.slice(at - 6, at - 4) === "\\u" && HEX.test(text.slice(at - 4, at));
}

function mask(match: string, prefix: string | undefined, aws: string | undefined, bearer: string | undefined, label: string | undefined, at: number, text: string): string {
  if (label !== undefined) return `${label}***`;
  if (!startsKey(text, at)) return match;
  if (bearer !== undefined) return "Bearer ***";
  return `${prefix ?? aws ?? ""}***`;
}

/** `text` with every secret masked to its prefix + `***`; the same string when there is none. */
export function redactSecrets(text: string): string {
  return text.replace(SECRET, mask as (match: string, ...rest: unknown[]) => string);
}

/** `redactSecrets` for optional text. */
export const redactOptional = (text: string | undefined): string | undefined => (text === undefined ? undefined : redactSecrets(text));

/**
 * Every string in a JSON-like value (message content for spans, a raw usage
 * object) redacted. Returns the same value when nothing changed, so the
 * common case allocates nothing.
 */
export function redactDeep<T>(value: T): T {
  if (typeof value === "string") return redactSecrets(value) as T;
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item: unknown, i) => {
      const redacted = redactDeep(item);
      if (redacted !== item) (out ??= [...value])[i] = redacted;
    });
    return (out ?? value) as T;
  }
  let out: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const redacted = redactDeep(item);
    if (redacted !== item) (out ??= { ...(value as Record<string, unknown>) })[key] = redacted;
  }
  return (out ?? value) as T;
}
