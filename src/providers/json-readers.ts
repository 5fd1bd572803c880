import { asObject } from "../usage/usage.ts";

/** Small readers of provider JSON, shared by the adapters and the content converters. */
export const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
export const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
export const objects = (value: unknown) => list(value).map(asObject).filter((o) => o !== undefined);

/** Tool arguments arrive as JSON text; keep the text when it does not parse (a cut-short stream). */
export function parseJsonOr(text: unknown): unknown {
  if (typeof text !== "string") return text ?? null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** semconv modality from a MIME type: image, audio or video, else the fallback. */
export function modalityOf(mimeType: string | undefined, fallback = "document"): string {
  const top = mimeType?.split("/")[0];
  return top === "image" || top === "audio" || top === "video" ? top : fallback;
}

/**
 * A semconv FinishReason (gen-ai-output-messages.json) from a provider's own
 * value through its table; other values are kept as sent, and no value at all
 * means the stream was cut short: semconv's "error".
 */
export function mapFinishReason(table: Readonly<Record<string, string>>, reason: unknown): string {
  const value = str(reason);
  return value === undefined ? "error" : (table[value] ?? value);
}
