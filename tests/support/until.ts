/** Waits until `condition` holds, checking every `stepMs`; throws after `ms`. */
export async function until(condition: () => boolean | Promise<boolean>, ms = 10_000, stepMs = 20): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting (${ms} ms)`);
    await Bun.sleep(stepMs);
  }
}
