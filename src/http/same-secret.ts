import { createHash, timingSafeEqual } from "node:crypto";

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * Compares a presented secret with the expected one in constant time. Both
 * are hashed to 32 bytes first, so the time tells neither where they first
 * differ nor whether their lengths match (comparing lengths first would).
 */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (!given) return false;
  return timingSafeEqual(digest(given), digest(expected));
}
