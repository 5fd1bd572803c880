import type { Endpoint } from "./contract.ts";

/** Claude Code puts context before what the user typed, in user turns that start with this. */
const REMINDER = "<system-reminder>";
const PREVIEW_CHARS = 200;

/**
 * The first thing the user wrote in a logged request body, for the record's
 * `prompt_preview` (the `sessions` view's first prompt): the first user text
 * that is not Claude Code's context, else the first user text, with
 * whitespace collapsed, cut to 200 characters. Read through the endpoint's
 * content hook, so each provider's message shapes stay in its own file.
 * Undefined when there is none, or the body is not whole JSON (cut at the
 * logging limit).
 */
export function readPromptPreview(endpoint: Endpoint | undefined, requestBody: string): string | undefined {
  const read = endpoint?.content?.readRequestContent;
  if (!read) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(requestBody);
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const texts = (read(body as Record<string, unknown>).inputMessages ?? [])
    .filter((message) => message.role === "user")
    .flatMap((message) => message.parts)
    .flatMap((part) => (part.type === "text" && typeof part.content === "string" && part.content.trim() !== "" ? [part.content] : []));
  const text = texts.find((t) => !t.trimStart().startsWith(REMINDER)) ?? texts[0];
  return text?.trim().replace(/\s+/g, " ").slice(0, PREVIEW_CHARS);
}
