// The page at /audit/ in a real browser: Debian's chromium, driven by playwright-core (no browser download).
// The gateway's HTTP server, the audit routes and a SQLite log are real; the events are seeded.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Store } from "@xmppkit/core";
import { createHttpServer, openSqliteStore, type RunningHttpServer } from "@xmppkit/runtime";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerAuditRoutes } from "../src/audit-http.js";
import { openAuditLog, type AuditLog } from "../src/audit-log.js";
import { openGeoIp } from "../src/geoip.js";

const TOKEN = "browser-test-token-0123456789";
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = resolve(import.meta.dirname, "../../../.reports/artifacts");

describe("the audit page in headless Chromium", () => {
  let store: Store;
  let audit: AuditLog;
  let http: RunningHttpServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    store = await openSqliteStore(":memory:");
    audit = await openAuditLog({ store, geoip: await openGeoIp() }, { host: "gateway.localhost", batch: { maxDelayMs: 1 } });
    const day = 86_400_000;
    const now = Date.now();
    const ips = ["81.2.69.142", "81.2.69.160", "2.16.6.1", "1.1.1.1", "127.0.0.1"];
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        i % 3 === 0
          ? audit.record({
              type: "session-available",
              module: "core",
              user: i % 2 ? "alice@localhost" : "bob@localhost",
              resource: `r${i}`,
              time: new Date(now - (i % 6) * day - i * 1000),
            })
          : audit.record({
              type: "http-request",
              module: "core",
              ip: ips[i % ips.length],
              note: `POST /roster_admin/refresh → 200`,
              time: new Date(now - (i % 6) * day - i * 1000),
            }),
      ),
    );
    // A note that tries to be HTML must show as text.
    await audit.record({ type: "report-received", module: "report-forward", note: `<img src=x onerror="document.title='pwned'">` });
    http = createHttpServer({ listen: "127.0.0.1:0", token: TOKEN });
    registerAuditRoutes(http, audit);
    await http.start();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await http?.close();
    await audit?.close();
    await store?.close();
  });

  it("without the token it says so; with it, the table and both charts are drawn", async () => {
    await page.goto(`${http.url}/audit/`);
    await page.waitForSelector("body[data-loaded=error]");
    expect(await page.textContent("#status")).toMatch(/token was refused/);

    await page.fill("#token", TOKEN);
    await page.click("#auth button");
    await page.waitForSelector("body[data-loaded=true]");
    expect(await page.locator("#events tbody tr").count()).toBe(61);
    expect(await page.textContent("#status")).toMatch(/^61 events match/);
    const days = await page.locator("#chart-day rect.bar").count();
    expect(days).toBeGreaterThanOrEqual(6);
    const countries = await page.locator("#chart-country rect.bar").evaluateAll((bars) => bars.map((b) => b.getAttribute("data-country")));
    expect(countries).toContain("GB");
    expect(countries).not.toContain(null);
    // Data is text, never markup.
    expect(await page.locator("#events tbody td", { hasText: "<img src=x" }).count()).toBe(1);
    expect(await page.title()).not.toBe("pwned");
  });

  it("filters by type and country, and the charts follow", async () => {
    await page.fill("input[name=type]", "http-request");
    await page.fill("input[name=country]", "gb");
    await page.click("#filters button");
    await page.locator("#status", { hasText: /^16 events/ }).waitFor(); // (no waitForFunction: the page's CSP forbids eval)
    const rows = await page.locator("#events tbody tr").evaluateAll((trs) => trs.map((tr) => [tr.children[1]!.textContent, tr.children[5]!.textContent]));
    expect(rows).toHaveLength(16);
    expect(rows.every(([type, cc]) => type === "http-request" && cc === "GB")).toBe(true);
    expect(await page.locator("#chart-country rect.bar").count()).toBe(1);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.fill("input[name=country]", "");
    await page.fill("input[name=type]", "");
    await page.click("#filters button");
    await page.locator("#status", { hasText: /^61 events/ }).waitFor();
    await page.screenshot({ path: resolve(ARTIFACTS, "audit-page.png"), fullPage: true });
  });

  it("a bad filter shows the server's message", async () => {
    await page.fill("input[name=user]", "not a jid");
    await page.click("#filters button");
    await page.waitForSelector("#status.error");
    expect(await page.textContent("#status")).toMatch(/user: expected a JID/);
    await page.fill("input[name=user]", "");
  });
});
