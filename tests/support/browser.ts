import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { BUN, ROOT } from "./gateway.ts";

/**
 * Debian's Chromium (`apt-get install chromium`; .ci/run installs it), driven
 * by playwright-core: no browser is downloaded. Screenshots go to
 * artifacts/screenshots/ for people to look at (CI keeps them).
 */
export const CHROMIUM = process.env.LOUPE_TEST_CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOTS = join(ROOT, "artifacts", "screenshots");

/** Bundles ui/ into the module the gateway serves, so a test sees the dashboard as the sources say. */
export function buildDashboard(): void {
  const build = Bun.spawnSync([BUN, join(ROOT, "scripts", "build-ui.ts")], { stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build-ui failed:\n${build.stderr.toString()}`);
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set LOUPE_TEST_CHROMIUM)`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run", "--disable-extensions"],
  });
}

export const screenshotPath = (name: string) => join(SCREENSHOTS, `${name}.png`);

/** The value of `read()` once it equals `expected` (the page may still be loading), or the last one after `timeoutMs`. */
export async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!Bun.deepEquals(value, expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}
