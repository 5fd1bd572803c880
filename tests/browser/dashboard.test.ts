import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { count, groupCost, usd } from "../../ui/src/format.ts";
import { buildDashboard, eventually, launchChromium, screenshotPath } from "../support/browser.ts";
import { CLAUDE_SESSION, dashboardRecords, SUBAGENTS } from "../support/dashboard-seed.ts";
import { ROOT, startGateway, tempDir, type Gateway } from "../support/gateway.ts";
import { startMockUpstream, type MockUpstream } from "../support/mock-upstream.ts";
import { writeSeedJournal } from "../support/seed.ts";

/**
 * The dashboard in a real browser (Debian's Chromium) against a real gateway
 * with seeded records: each page loads, and the figures on screen are the
 * API's and SQL's for the same range. Screenshots land in artifacts/screenshots/.
 */
const END = Date.now();
const FROM = new Date(END - 24 * 3_600_000).toISOString();
const TO = new Date(END + 3_600_000).toISOString();
const RANGE = `from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}`;
const TRACE_TEMPLATE = "http://jaeger.test:16686/trace/{trace_id}";

let gateway: Gateway;
let upstream: MockUpstream;
let browser: Browser;

beforeAll(async () => {
  buildDashboard();
  const dir = tempDir("loupe-browser-");
  const db = join(dir, "loupe.duckdb");
  writeSeedJournal(db, dashboardRecords(END - 60_000));
  upstream = await startMockUpstream();
  gateway = await startGateway({
    dir,
    db,
    env: { LOUPE_OPENAI_BASE_URL: upstream.url, LOUPE_ANTHROPIC_BASE_URL: upstream.url, LOUPE_TRACE_URL_TEMPLATE: TRACE_TEMPLATE, LOUPE_FLUSH_INTERVAL_MS: "50", LOUPE_SECRET: "browser-test-secret-0123456789" },
  });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await upstream?.stop();
});

async function api<T = any>(path: string): Promise<T> {
  const response = await fetch(`${gateway.url}${path}`);
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function open(path: string, options: { colorScheme?: "light" | "dark"; width?: number } = {}): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: options.width ?? 1366, height: 900 }, colorScheme: options.colorScheme ?? "light" });
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => message.type() === "error" && !message.text().includes("status of 4") && problems.push(message.text()));
  await page.goto(`${gateway.url}${path}`);
  (page as Page & { problems: string[] }).problems = problems;
  return page;
}
const problemsOf = (page: Page) => (page as Page & { problems: string[] }).problems;
const stat = (page: Page, name: string) => page.locator(`[data-stat="${name}"] .stat-value`).textContent();

describe("the dashboard in Chromium", () => {
  test("Overview: the headline figures are the API's and SQL's for the same range; the unpriced count links to those calls", async () => {
    const page = await open(`/?${RANGE}`);
    await page.locator('[data-stat="Cost"]').waitFor();
    const summary = await api(`/api/stats/summary?${RANGE}`);
    const [sql] = await gateway.sql(
      `select sum(cost_usd)::varchar as cost, count(*) as n, count(*) filter (where status >= 400) as errors from requests where started_at >= '${FROM}' and started_at < '${TO}'`,
    );
    expect(summary.requests).toBe(80);
    expect(summary.cost_usd).toBe(sql!.cost);
    expect(await stat(page, "Cost")).toBe(usd(sql!.cost));
    expect(await stat(page, "Requests")).toBe(count(Number(sql!.n)));
    expect(await stat(page, "Errors")).toBe(count(Number(sql!.errors)));
    expect(await stat(page, "Unpriced calls")).toBe(count(summary.unpriced_requests));
    expect(summary.unpriced_requests).toBeGreaterThan(0);
    expect(await stat(page, "Cache savings")).toBe(usd(summary.cache_savings_usd));
    await page.locator(".chart canvas").first().waitFor();
    await page.screenshot({ path: screenshotPath("overview"), fullPage: true });

    await page.getByRole("link", { name: "See them" }).click();
    await page.getByRole("heading", { name: "Requests" }).waitFor();
    await page.locator("tbody tr").first().waitFor();
    expect(page.url()).toContain("unpriced=true");
    const unpriced = await api(`/api/requests?${RANGE}&unpriced=true&limit=50`);
    expect(await page.locator("tbody tr").count()).toBe(Math.min(50, summary.unpriced_requests));
    expect(unpriced.items.length).toBe(Math.min(50, summary.unpriced_requests));
    expect(await page.locator('tbody td[data-col="cost_usd"]').allTextContents()).toEqual(unpriced.items.map(() => "unpriced"));
    expect(problemsOf(page)).toEqual([]);
  });

  test("Requests: filters, sorting and the next page give the API's rows; a row opens its record in a drawer", async () => {
    const page = await open(`/requests?${RANGE}`);
    await page.locator("tbody tr").first().waitFor();
    await page.getByLabel("Model").fill("gpt-5.4");
    await page.getByRole("form", { name: "Filters" }).getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/model=gpt-5.4/);
    const filtered = await api(`/api/requests?${RANGE}&model=gpt-5.4&limit=50`);
    expect(await eventually(() => page.locator("tbody tr").count(), filtered.items.length)).toBe(filtered.items.length);
    expect(await page.locator('tbody td[data-col="model"]').allTextContents()).toEqual(filtered.items.map(() => "gpt-5.4"));

    await page.getByRole("button", { name: /^Cost/ }).click();
    await page.waitForURL(/sort=cost_usd/);
    const byCost = await api(`/api/requests?${RANGE}&model=gpt-5.4&limit=50&sort=cost_usd&order=desc`);
    expect(await eventually(() => page.locator("tbody tr").first().getAttribute("data-row"), byCost.items[0].id)).toBe(byCost.items[0].id);
    expect(await page.getByRole("columnheader", { name: /Cost/ }).getAttribute("aria-sort")).toBe("descending");

    // All calls: more than one page.
    await page.goto(`${gateway.url}/requests?${RANGE}`);
    await page.locator("tbody tr").first().waitFor();
    const first = await api(`/api/requests?${RANGE}&limit=50`);
    const second = await api(`/api/requests?${RANGE}&limit=50&cursor=${encodeURIComponent(first.next_cursor)}`);
    await page.getByRole("button", { name: "Next page" }).click();
    expect(await eventually(() => page.locator("tbody tr").first().getAttribute("data-row"), second.items[0].id)).toBe(second.items[0].id);
    expect(await page.locator("tbody tr").count()).toBe(second.items.length);
    await page.getByRole("button", { name: "Previous page" }).click();
    expect(await eventually(() => page.locator("tbody tr").first().getAttribute("data-row"), first.items[0].id)).toBe(first.items[0].id);

    // By keyboard: a row's link, Enter, and the drawer takes the focus; Escape closes it.
    const id = first.items[3].id as string;
    await page.locator(`tr[data-row="${id}"] a`).focus();
    await page.keyboard.press("Enter");
    const drawer = page.getByRole("dialog");
    await drawer.waitFor();
    expect(page.url()).toContain(`/requests/${id}`);
    expect(await eventually(() => drawer.locator('[data-field="id"] dd').textContent(), id)).toBe(id);
    const detail = await api(`/api/requests/${id}`);
    expect(await drawer.locator('[data-field="provider"] dd').textContent()).toBe(detail.provider);
    expect(await page.evaluate<string | null>("document.activeElement?.getAttribute('role') ?? null")).toBe("dialog");
    await page.screenshot({ path: screenshotPath("request-detail") });
    await page.keyboard.press("Escape");
    await drawer.waitFor({ state: "detached" });
    expect(new URL(page.url()).pathname).toBe("/requests");
    expect(problemsOf(page)).toEqual([]);
  });

  test("Sessions: grouped by project; a Claude Code session shows its agents, their cost, the timeline and the first prompt", async () => {
    const page = await open(`/sessions?${RANGE}`);
    const group = page.locator('[data-project="loupe-web"]');
    await group.waitFor();
    await page.screenshot({ path: screenshotPath("sessions"), fullPage: true });
    await group.getByRole("link", { name: CLAUDE_SESSION.slice(0, 24) }).click();
    await page.getByRole("heading", { name: /^Session / }).waitFor();
    await page.locator('[data-stat="Cost"]').waitFor();
    const detail = await api(`/api/sessions/${CLAUDE_SESSION}`);
    expect(await stat(page, "Cost")).toBe(groupCost(detail.session));
    expect(await stat(page, "Calls")).toBe(count(detail.session.requests));
    expect(detail.agents.length).toBe(1 + SUBAGENTS.length);
    const agentCosts = await page.locator('table:has(caption:text("Cost per agent")) tbody td[data-col="cost"]').allTextContents();
    expect(agentCosts).toEqual(detail.agents.map(groupCost));
    expect(await page.locator(".timeline .lane").count()).toBe(1 + SUBAGENTS.length);
    expect(await page.locator(".timeline .bar").count()).toBe(detail.calls.length);
    expect(await page.locator(".prompt").textContent()).toBe("Refactor the record writer so that sinks are siblings");
    await page.screenshot({ path: screenshotPath("session-detail"), fullPage: true });
    expect(problemsOf(page)).toEqual([]);
  });

  test("Users, Projects and Models: one row per item of the API, with its cost", async () => {
    for (const [path, route, key, name] of [
      ["/users", "/api/users", "user_id", "users"],
      ["/projects", "/api/projects", "project", "projects"],
      ["/models", "/api/stats/models", "model", "models"],
    ] as const) {
      const page = await open(`${path}?${RANGE}`);
      await page.locator("tbody tr").first().waitFor();
      const { items } = await api(`${route}?${RANGE}`);
      expect([path, await page.locator("tbody tr").count()]).toEqual([path, items.length]);
      expect(await page.locator('tbody td[data-col="cost"]').allTextContents()).toEqual(items.map(groupCost));
      // A group of unpriced calls only is never shown as $0.
      if (path === "/models") expect(await page.locator('tr:has(td:text-is("claude-private-x")) td[data-col="cost"]').textContent()).toBe("unpriced");
      expect(await page.locator("tbody tr td:first-child").allTextContents()).toEqual(items.map((item: Record<string, string | null>) => item[key] ?? "(none)"));
      await page.screenshot({ path: screenshotPath(name), fullPage: true });
      expect(problemsOf(page)).toEqual([]);
      await page.close();
    }
  });

  test("Live: a call made now appears as it finishes; its record shows the cost breakdown and links its trace", async () => {
    const page = await open("/live");
    await page.getByRole("status").filter({ hasText: "Live" }).waitFor();
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const response = await fetch(`${gateway.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-test", traceparent: `00-${traceId}-b7ad6b7169203331-01`, "x-loupe-project": "live-test" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const id = response.headers.get("x-loupe-request-id")!;
    const row = page.locator(`tr[data-row="${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    await page.screenshot({ path: screenshotPath("live") });

    await page.getByRole("button", { name: "Pause" }).click();
    const held = await fetch(`${gateway.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-test" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "again" }] }),
    });
    await held.arrayBuffer();
    const heldId = held.headers.get("x-loupe-request-id")!;
    await page.getByRole("button", { name: /Resume \(1 new\)/ }).waitFor({ timeout: 10_000 });
    expect(await page.locator(`tr[data-row="${heldId}"]`).count()).toBe(0);
    await page.getByRole("button", { name: /Resume/ }).click();
    await page.locator(`tr[data-row="${heldId}"]`).waitFor();

    await row.locator("a").click();
    const drawer = page.getByRole("dialog");
    await drawer.locator('[data-field="id"]').waitFor();
    const detail = await api(`/api/requests/${id}`);
    expect(detail.cost_breakdown.matches_record).toBe(true);
    const cells = await drawer.locator('table:has(caption:text("Cost per token kind")) tbody tr').count();
    expect(cells).toBe(detail.cost_breakdown.components.length);
    expect(cells).toBeGreaterThan(0);
    expect(await drawer.locator('[data-field="trace_id"] a').getAttribute("href")).toBe(TRACE_TEMPLATE.replace("{trace_id}", traceId));
    expect(problemsOf(page)).toEqual([]);
  });

  test("Settings: the effective configuration without secrets", async () => {
    const page = await open("/settings");
    await page.getByRole("heading", { name: "Upstreams" }).waitFor();
    expect(await page.locator('[data-setting="trace_url_template"] dd').textContent()).toBe(TRACE_TEMPLATE);
    expect(await page.getByRole("cell", { name: upstream.url, exact: false }).count()).toBeGreaterThan(0);
    await page.screenshot({ path: screenshotPath("settings"), fullPage: true });
  });

  test("Settings, routing and rules: a malformed header rule is refused naming its field (nothing changes); a valid routing rule is saved as the next version; a stale version asks for a reload", async () => {
    const page = await open("/settings");
    const editor = page.getByRole("form", { name: "Routing and rules" });
    await editor.waitFor();
    const before = (await api("/api/settings")).control;
    expect(await editor.locator("[data-control-version]").textContent()).toBe(String(before.version));
    expect(JSON.parse(await editor.getByLabel("Routing rules").inputValue())).toEqual(before.settings.routing);
    const result = editor.locator("[data-save-result]");
    expect(await result.getAttribute("aria-live")).toBe("polite");

    // A header rule that names Loupe's own header: 400, the field named on the page, the text kept, the settings in force unchanged.
    const malformed = '[{ "header": "x-loupe-key", "action": "block" }]';
    await editor.getByLabel("Request header rules").fill(malformed);
    await editor.getByRole("button", { name: "Save" }).click();
    await result.locator("[data-field-named]").waitFor();
    expect(await result.locator("[data-field-named]").textContent()).toBe("requestHeaderRules[0].header");
    expect(await result.textContent()).toContain("x-loupe-* headers are Loupe's own");
    expect(await editor.getByLabel("Request header rules").inputValue()).toBe(malformed);
    expect(await editor.getByLabel("Request header rules").getAttribute("aria-invalid")).toBe("true");
    expect(await page.evaluate<string | null>("document.activeElement?.id ?? null")).toBe("control-requestHeaderRules");
    const unchanged = (await api("/api/settings")).control;
    expect(unchanged).toEqual(before);
    await page.screenshot({ path: screenshotPath("settings-invalid"), fullPage: true });

    // Text that is not JSON is refused before anything is sent.
    await editor.getByLabel("Fallbacks").fill("[{ not json");
    await editor.getByRole("button", { name: "Save" }).click();
    expect(await eventually(() => result.locator("[data-field-named]").textContent(), "fallbacks")).toBe("fallbacks");
    expect((await api("/api/settings")).control).toEqual(before);
    await editor.getByLabel("Fallbacks").fill("[]");

    // A valid routing rule (for a project no other test uses): saved as version + 1, shown, and in force.
    const rule = { match: { project: "settings-ui-test" }, to: { provider: "openai", model: "gpt-4o" } };
    await editor.getByLabel("Request header rules").fill("[]");
    await editor.getByLabel("Routing rules").fill(JSON.stringify([rule]));
    await editor.getByRole("button", { name: "Save" }).click();
    const saved = `Saved, version ${before.version + 1}.`;
    expect(await eventually(() => result.textContent(), saved)).toBe(saved);
    const after = (await api("/api/settings")).control;
    expect(after.version).toBe(before.version + 1);
    expect(after.settings.routing).toEqual([rule]);
    expect(after.settings.requestHeaderRules).toEqual([]);
    expect(await editor.locator("[data-control-version]").textContent()).toBe(String(after.version));
    await page.screenshot({ path: screenshotPath("settings-edit"), fullPage: true });

    // Changed meanwhile (another PUT): saving the page's version is refused with 409 until Reload.
    const elsewhere = await fetch(`${gateway.url}/api/settings`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ version: after.version, routing: [] }),
    });
    expect(elsewhere.status).toBe(200);
    await editor.getByRole("button", { name: "Save" }).click();
    await result.getByText("changed meanwhile").first().waitFor();
    expect(await result.getAttribute("data-save-result")).toBe("conflict");
    expect((await api("/api/settings")).control.settings.routing).toEqual([]);
    await editor.getByRole("button", { name: "Reload" }).click();
    expect(await eventually(() => editor.locator("[data-control-version]").textContent(), String(after.version + 1))).toBe(String(after.version + 1));
    expect(JSON.parse(await editor.getByLabel("Routing rules").inputValue())).toEqual([]);
    expect(problemsOf(page)).toEqual([]);
  });

  test("Keys: a key created here is shown once and listed; revoking it shows it revoked", async () => {
    const page = await open("/keys");
    page.on("dialog", (dialog) => void dialog.accept());
    await page.getByRole("heading", { name: "Create a key" }).waitFor();
    const create = page.getByRole("form", { name: "Create a key" });
    await create.getByLabel("Project").fill("browser-project");
    await create.getByLabel("Name").fill("made in the browser");
    await page.getByRole("button", { name: "Create key" }).click();
    const shown = page.locator("[data-new-key]");
    await shown.waitFor();
    const key = (await shown.textContent())!;
    expect(key).toMatch(/^lp_live_[A-Za-z0-9]{40}$/);
    const listed = (await api("/api/keys")).items.find((k: { name: string | null }) => k.name === "made in the browser");
    expect(listed).toMatchObject({ project: "browser-project", status: "active" });
    const row = page.locator(`tr[data-key-id="${listed.id}"]`);
    await row.waitFor();
    expect(await row.textContent()).not.toContain(key);
    await page.screenshot({ path: screenshotPath("keys"), fullPage: true });
    await row.getByRole("button", { name: `Revoke ${listed.id}` }).click();
    expect(await eventually(() => row.locator("[data-status]").textContent(), "revoked")).toBe("revoked");
    expect((await api("/api/keys")).items.find((k: { id: string }) => k.id === listed.id).status).toBe("revoked");
    expect(problemsOf(page)).toEqual([]);
  });

  test("Keys: a provider key set here is listed by its fingerprint, its secret nowhere in the page; deleting it removes it", async () => {
    const SECRET = "sk-browser-provider-secret-0123456789";
    const page = await open("/keys");
    page.on("dialog", (dialog) => void dialog.accept());
    const form = page.getByRole("form", { name: "Set a provider key" });
    await form.waitFor();
    await form.getByLabel("Provider").fill("openai");
    await form.getByLabel("Project").fill("browser-project");
    const secret = form.getByLabel("Secret");
    expect(await secret.getAttribute("type")).toBe("password");
    await secret.fill(SECRET);
    await form.getByRole("button", { name: "Store provider key" }).click();
    await form.getByText("Stored the openai key for browser-project.").waitFor();

    const stored = (await api("/api/provider-keys")).items.find((k: { provider: string; project: string | null }) => k.provider === "openai" && k.project === "browser-project");
    // The fingerprint the API lists is the first 8 hex of SHA-256 of what was typed (access-schemas.ts).
    expect(stored.fingerprint).toBe(new Bun.CryptoHasher("sha256").update(SECRET).digest("hex").slice(0, 8));
    const row = page.locator(`tr[data-provider-key-id="${stored.id}"]`);
    expect(await eventually(() => row.locator("[data-fingerprint]").textContent(), stored.fingerprint)).toBe(stored.fingerprint);
    // Neither the markup, nor the text, nor any field's current value holds the secret.
    expect(await secret.inputValue()).toBe("");
    expect(await page.content()).not.toContain(SECRET);
    expect(await page.locator("body").innerText()).not.toContain(SECRET);
    expect(await page.locator("input, textarea").evaluateAll((fields, s) => fields.some((el) => (el as unknown as { value: string }).value.includes(s)), SECRET)).toBe(false);

    await row.getByRole("button", { name: `Delete ${stored.id}` }).click();
    await row.waitFor({ state: "detached" });
    expect((await api("/api/provider-keys")).items.map((k: { id: string }) => k.id)).not.toContain(stored.id);
    expect(problemsOf(page)).toEqual([]);
  });

  test("Limits: a limit set here is listed with its amount in dollars (exact), shows what a call in its project used, and is cleared", async () => {
    const page = await open("/limits");
    await page.getByRole("heading", { name: "Set a limit" }).waitFor();
    await page.getByLabel("Scope").selectOption("project");
    await page.getByLabel("Subject").fill("browser-project");
    await page.getByLabel("Metric").selectOption("usd");
    await page.getByLabel("Amount").fill("20.000000001");
    await page.getByLabel("Window").fill("month");
    await page.getByLabel("Warn at %").fill("80");
    await page.getByRole("button", { name: "Set limit" }).click();
    const row = page.locator('tr[data-limit="project:browser-project"]');
    await row.waitFor();
    expect(await row.textContent()).toContain("$20.000000001");
    const listed = async () => (await api("/api/limits")).items.find((l: { subject: string }) => l.subject === "browser-project");
    expect(await listed()).toEqual({ scope: "project", subject: "browser-project", metric: "usd", amount: "20000000001", window: { period: "month" }, soft_pct: 80, usage: { used: "0", reset_s: 0 } });

    // One priced call in the project: the budget counts its exact cost, and the page shows it.
    const response = await fetch(`${gateway.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-test", "x-loupe-project": "browser-project" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const [stored] = await gateway.sql(`select cost_usd::varchar as cost from requests where id = '${response.headers.get("x-loupe-request-id")}'`);
    const [whole, frac = ""] = String(stored!.cost).split(".");
    const costNano = (BigInt(whole!) * 1_000_000_000n + BigInt(frac.padEnd(9, "0").slice(0, 9))).toString();
    expect(BigInt(costNano)).toBeGreaterThan(0n);
    expect(await eventually(async () => (await listed()).usage?.used, costNano)).toBe(costNano);
    await page.reload();
    await row.waitFor();
    const usedCell = row.locator("td").nth(4);
    const shown = `$0.${costNano.padStart(9, "0").replace(/0+$/, "")}`;
    expect(await eventually(() => usedCell.textContent(), shown)).toBe(shown);
    // Resets in: the calendar month's end, in words (days and hours for a budget this long).
    expect(await row.locator("td").nth(5).textContent()).toMatch(/^(\d+ d \d+ h|\d+ h \d+ min|\d+ min \d+ s|\d+ s)$/);
    await page.screenshot({ path: screenshotPath("limits"), fullPage: true });
    await row.getByRole("button", { name: "Clear usd limits of project browser-project" }).click();
    expect(await eventually(() => row.count(), 0)).toBe(0);
    expect(problemsOf(page)).toEqual([]);
  });

  test("bad input: an unknown page gets the dashboard's not-found page; a failing API call shows an error state", async () => {
    const missing = await open("/no/such/page");
    await missing.getByRole("heading", { name: "Page not found" }).waitFor();
    const broken = await open(`/requests?${RANGE}&min_cost=abc`);
    const alert = broken.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("min_cost");
    await alert.getByRole("button", { name: "Retry" }).waitFor();
  });

  test("dark theme and a laptop-width screen", async () => {
    const page = await open(`/?${RANGE}`, { colorScheme: "dark", width: 1280 });
    await page.locator(".chart canvas").first().waitFor();
    const background = await page.evaluate<string>("getComputedStyle(document.body).backgroundColor");
    expect(background).toBe("rgb(17, 19, 24)");
    const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: screenshotPath("overview-dark"), fullPage: true });
  });
});

describe("accessibility (axe-core, WCAG 2 A and AA: labels, roles, contrast)", () => {
  const AXE = readFileSync(join(ROOT, "node_modules", "axe-core", "axe.min.js"), "utf8");
  for (const colorScheme of ["light", "dark"] as const) {
    test(`every page, ${colorScheme}`, async () => {
      // axe is injected as a script: only this test's context lets it past the CSP.
      const context = await browser.newContext({ bypassCSP: true, colorScheme, viewport: { width: 1280, height: 800 } });
      const found: string[] = [];
      for (const [path, ready] of [
        [`/?${RANGE}`, ".chart canvas"],
        [`/requests?${RANGE}`, "tbody tr"],
        [`/requests/${(await api(`/api/requests?${RANGE}&limit=1`)).items[0].id}?${RANGE}`, '[data-field="id"]'],
        [`/sessions?${RANGE}`, "tbody tr"],
        [`/sessions/${CLAUDE_SESSION}`, ".timeline"],
        [`/users?${RANGE}`, "tbody tr"],
        [`/projects?${RANGE}`, "tbody tr"],
        [`/models?${RANGE}`, "tbody tr"],
        ["/live", ".live-status"],
        ["/settings", ".tree"],
        ["/keys", ".admin-form"],
        ["/limits", ".admin-form"],
        ["/nowhere", ".not-found"],
      ] as const) {
        const page = await context.newPage();
        await page.goto(`${gateway.url}${path}`);
        await page.locator(ready).first().waitFor();
        await page.addScriptTag({ content: AXE });
        const violations = await page.evaluate(async () => {
          type Rule = { id: string; impact: string; nodes: { target: string[] }[] };
          const axe = (globalThis as unknown as { axe: { run(options: unknown): Promise<{ violations: Rule[]; passes: Rule[] }> } }).axe;
          const result = await axe.run({ runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa"] } });
          return {
            passed: result.passes.map((rule) => rule.id),
            failed: result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`),
          };
        });
        // The checks ran (contrast among them), and none failed.
        expect([path, violations.passed.includes("color-contrast") || path === "/nowhere"]).toEqual([path, true]);
        found.push(...violations.failed.map((v) => `${path}: ${v}`));
        await page.close();
      }
      await context.close();
      expect(found).toEqual([]);
      // axe over every page takes a while on 2 busy cores.
    }, 120_000);
  }
});

describe("dashboard sign-in", () => {
  test("with LOUPE_ADMIN_TOKEN the dashboard asks for it once; a wrong one is refused", async () => {
    const guarded = await startGateway({ env: { LOUPE_ADMIN_TOKEN: "the-admin-token" } });
    try {
      const page = await browser.newPage();
      await page.goto(`${guarded.url}/`);
      await page.getByRole("heading", { name: "Sign in to Loupe" }).waitFor();
      await page.screenshot({ path: screenshotPath("login") });
      await page.getByLabel("Admin token").fill("wrong");
      await page.getByRole("button", { name: "Sign in" }).click();
      expect(await page.getByRole("alert").textContent()).toContain("not the gateway's admin token");
      await page.getByLabel("Admin token").fill("the-admin-token");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Overview" }).waitFor();
      const cookies = await page.context().cookies();
      expect(cookies.find((c) => c.name === "loupe_session")).toMatchObject({ httpOnly: true, sameSite: "Strict" });
      // Once: a reload stays signed in.
      await page.reload();
      await page.getByRole("heading", { name: "Overview" }).waitFor();
    } finally {
      await guarded.stop();
    }
  });

  test("with LOUPE_DASHBOARD_PASSWORD the browser's basic auth opens the dashboard", async () => {
    const guarded = await startGateway({ env: { LOUPE_DASHBOARD_PASSWORD: "pw-123" } });
    try {
      const refused = await fetch(`${guarded.url}/`, { headers: { accept: "text/html" } });
      expect(refused.status).toBe(401);
      expect(refused.headers.get("www-authenticate")).toStartWith("Basic");
      const context = await browser.newContext({ httpCredentials: { username: "me", password: "pw-123" } });
      const page = await context.newPage();
      await page.goto(`${guarded.url}/`);
      await page.getByRole("heading", { name: "Overview" }).waitFor();
      await page.locator('[data-stat="Requests"]').waitFor();
      await context.close();
    } finally {
      await guarded.stop();
    }
  });
});
