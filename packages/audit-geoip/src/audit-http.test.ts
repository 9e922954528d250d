import type { Store } from "@xmppkit/core";
import { createHttpServer, openSqliteStore, type RunningHttpServer } from "@xmppkit/runtime";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerAuditRoutes } from "./audit-http.js";
import { openAuditLog, type AuditLog } from "./audit-log.js";

const TOKEN = "t".repeat(24);
const auth = { authorization: `Bearer ${TOKEN}` };

describe("GET /audit, /audit/summary and the page", () => {
  let store: Store;
  let http: RunningHttpServer;
  let audit: AuditLog;
  beforeEach(async () => {
    store = await openSqliteStore(":memory:");
    audit = await openAuditLog({ store }, { host: "gw.localhost", batch: { maxDelayMs: 1 } });
    http = createHttpServer({ listen: "127.0.0.1:0", token: TOKEN });
    registerAuditRoutes(http, audit);
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        audit.record({
          type: i % 2 ? "link-up" : "session-available",
          module: "core",
          user: i % 2 ? undefined : "alice@localhost",
          resource: "r",
          time: new Date(Date.UTC(2026, 10, 20, 10, i)),
        }),
      ),
    );
  });
  afterEach(async () => {
    await http.close();
    await audit.close();
    await store.close();
  });

  it("needs the token", async () => {
    expect((await http.inject({ url: "/audit" })).statusCode).toBe(401);
    expect((await http.inject({ url: "/audit/summary" })).statusCode).toBe(401);
  });

  it("filters and pages, as JSON with ISO times", async () => {
    const first = await http.inject({ url: "/audit?type=session-available&limit=2", headers: auth });
    expect(first.statusCode).toBe(200);
    const body = first.json() as { events: { type: string; time: string; user: string }[]; next: string };
    expect(body.events.map((e) => e.time)).toEqual(["2026-11-20T10:04:00.000Z", "2026-11-20T10:02:00.000Z"]);
    const second = (await http.inject({ url: `/audit?type=session-available&limit=2&cursor=${body.next}`, headers: auth })).json() as {
      events: unknown[];
      next?: string;
    };
    expect(second.events).toHaveLength(1);
    expect(second.next).toBeUndefined();
    const summary = (await http.inject({ url: "/audit/summary?since=2026-11-01", headers: auth })).json();
    expect(summary).toMatchObject({
      total: 5,
      perDay: [{ day: "2026-11-20", count: 5 }],
      perType: [
        { type: "session-available", count: 3 },
        { type: "link-up", count: 2 },
      ],
    });
  });

  it("a bad filter is a 400 that names it", async () => {
    const r = await http.inject({ url: "/audit?since=yesterday", headers: auth });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ status: "error", field: "since" });
    expect((await http.inject({ url: "/audit?cursor=zzz", headers: auth })).json()).toMatchObject({ field: "cursor" });
    expect((await http.inject({ url: "/audit/summary?colour=red", headers: auth })).json()).toMatchObject({ field: "colour" });
  });

  it("serves the page (no data in it) with a strict content security policy", async () => {
    const page = await http.inject({ url: "/audit/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    expect(page.headers["content-security-policy"]).toMatch(/script-src 'self'/);
    expect(page.body).toContain('<script src="app.js"></script>');
    const js = await http.inject({ url: "/audit/app.js" });
    expect(js.headers["content-type"]).toMatch(/javascript/);
    expect(js.body).not.toContain("innerHTML");
  });
});
