import { expect, test } from "bun:test";
import { OpenAPIHono } from "@hono/zod-openapi";
import { addDashboardRoutes } from "../../src/api/dashboard-routes.ts";
import type { Access } from "../../src/dashboard/access.ts";
import { createRecordFeed } from "../../src/dashboard/record-feed.ts";
import type { LiveRecord } from "../../src/recording/live-record.ts";

/** The events of an SSE body read so far: name and data of each. */
function events(text: string): { event: string; data: string }[] {
  return text
    .split("\n\n")
    .filter((block) => block.includes("data:"))
    .map((block) => ({ event: /^event: (.*)$/m.exec(block)?.[1] ?? "message", data: /^data: (.*)$/m.exec(block)?.[1] ?? "" }));
}

test("a live-tail reader that stops reading holds at most 2,000 records; it is told how many it missed, and nothing else is lost", async () => {
  const feed = createRecordFeed();
  const app = new OpenAPIHono();
  addDashboardRoutes(app, { access: {} as Access, adminToken: undefined, settings: async () => ({}) as never, feed });
  const response = await app.request("/api/stream");
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("event: ready")) text += decoder.decode((await reader.read()).value, { stream: true });

  // 10,000 records published while the reader reads nothing.
  const published = 10_000;
  for (let i = 0; i < published; i += 100) {
    feed.publish(Array.from({ length: 100 }, (_, j) => ({ id: `r${i + j}` }) as LiveRecord));
    await Bun.sleep(0);
  }
  // Now it reads what was kept for it.
  const deadline = Date.now() + 5000;
  let seen: { event: string; data: string }[] = [];
  while (Date.now() < deadline) {
    const { value } = await Promise.race([reader.read(), Bun.sleep(200).then(() => ({ value: undefined }))]);
    if (value === undefined) break;
    text += decoder.decode(value, { stream: true });
    seen = events(text);
  }
  await reader.cancel();
  const records = seen.filter((e) => e.event === "record").map((e) => (JSON.parse(e.data) as { id: string }).id);
  const skipped = seen.filter((e) => e.event === "gap").reduce((sum, e) => sum + (JSON.parse(e.data) as { skipped: number }).skipped, 0);
  expect(skipped).toBeGreaterThan(0);
  expect(records.length).toBeLessThanOrEqual(2000 + 200);
  expect(records.length + skipped).toBe(published);
  // What it got is the newest, in order.
  expect(records.at(-1)).toBe(`r${published - 1}`);
  expect(records).toEqual([...records].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))));
});
