/**
 * The admin service's errors (access-admin.ts). errors.ts maps them by name:
 * input → 400, not found → 404, unavailable (Redis down while it holds the
 * definitions) → 503; the CLI turns input errors into exit code 2.
 */
export class AccessInputError extends Error {
  override name = "AccessInputError";
}

export class AccessNotFoundError extends Error {
  override name = "AccessNotFoundError";
}

export class AccessUnavailableError extends Error {
  override name = "AccessUnavailableError";
}

export const NO_SECRET_MESSAGE = "set LOUPE_SECRET (16 characters or more; `openssl rand -base64 32` makes one): it seals provider keys and hashes gateway keys";
