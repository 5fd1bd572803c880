/**
 * Fires N simultaneous slow chat calls at a base URL and prints the elapsed
 * milliseconds. A separate process because `bun test`'s own fetch stays capped
 * at 256 concurrent requests whatever BUN_CONFIG_MAX_HTTP_REQUESTS says.
 *
 *   BUN_CONFIG_MAX_HTTP_REQUESTS=65535 bun tests/support/burst.ts <base-url> <n> <delay-ms>
 */
const [base, n = "400", delay = "1500"] = process.argv.slice(2);
const t0 = performance.now();
const statuses = await Promise.all(
  Array.from({ length: Number(n) }, () =>
    fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-mock-delay-ms": delay },
      body: '{"model":"gpt-5.4","messages":[]}',
    }).then(async (r) => (await r.arrayBuffer(), r.status)),
  ),
);
console.log(JSON.stringify({ elapsed: performance.now() - t0, ok: statuses.filter((s) => s === 200).length }));
export {};
