import type { LogBodyMode } from "../config.ts";
import type { HeaderObject } from "../http/headers.ts";
import type { RequestTags } from "../recording/call-event.ts";

export type { RequestTags };

const LOG_BODY_MODES = new Set<string>(["full", "meta", "none"]);

const NO_TAGS: RequestTags = Object.freeze({});

export function readRequestTags(headers: HeaderObject): RequestTags {
  // Most calls carry none: no object to make.
  if (
    headers["x-loupe-session"] === undefined &&
    headers["x-loupe-user"] === undefined &&
    headers["x-loupe-project"] === undefined &&
    headers["x-loupe-tags"] === undefined &&
    headers["x-loupe-log-body"] === undefined
  ) {
    return NO_TAGS;
  }
  const text = (name: string) => {
    const value = headers[name];
    return (typeof value === "string" && value.trim()) || undefined;
  };
  const tags = text("x-loupe-tags")
    ?.split(",")
    .map((tag) => tag.trim())
    .filter(Boolean);
  const logBody = text("x-loupe-log-body")?.toLowerCase();
  return {
    sessionId: text("x-loupe-session"),
    userId: text("x-loupe-user"),
    project: text("x-loupe-project"),
    tags: tags?.length ? tags : undefined,
    logBody: logBody && LOG_BODY_MODES.has(logBody) ? (logBody as LogBodyMode) : undefined,
  };
}
