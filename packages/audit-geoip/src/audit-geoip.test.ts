import { EventBus, type Store } from "@xmppkit/core";
import { openSqliteStore } from "@xmppkit/runtime";
import { captureLogger } from "@xmppkit/testing";
import { afterEach, describe, expect, it } from "vitest";
import { setupAuditGeoip } from "./audit-geoip.js";

describe("setupAuditGeoip (the library use: a bus and a store)", () => {
  let store: Store;
  afterEach(async () => store?.close());

  it("records the bus, with location, and stop() writes everything with the stop event", async () => {
    store = await openSqliteStore(":memory:");
    const events = new EventBus();
    const audit = await setupAuditGeoip(
      { events, store },
      { host: "bot@localhost", runStatus: { subject: "bot", module: "my-bot" }, batch: { maxDelayMs: 60_000 } },
    );
    events.emit("http-request", { method: "GET", path: "/x", status: 200, ip: "81.2.69.142", durationMs: 1 });
    await audit.stop("done");
    const { events: got } = await audit.log.query();
    expect(got.map((e) => `${e.type} ${e.location?.countryCode ?? ""}`.trim())).toEqual(["bot-stopped", "http-request GB", "bot-started"]);
    events.emit("http-request", { method: "GET", path: "/y", status: 200, ip: "81.2.69.142", durationMs: 1 });
    expect(audit.log.queued).toBe(0); // stopped: not recorded
  });

  it("a GeoIP database that cannot be opened: one warning, events without location", async () => {
    store = await openSqliteStore(":memory:");
    const { logger, lines } = captureLogger();
    const events = new EventBus();
    const audit = await setupAuditGeoip(
      { events, store, logger },
      { host: "h", geoipDatabase: "/nonexistent/GeoLite2-Country.mmdb", batch: { maxDelayMs: 1 } },
    );
    expect(audit.geoip).toBeUndefined();
    expect(audit.locationUnavailable).toMatch(/cannot open the GeoIP database \/nonexistent\/GeoLite2-Country\.mmdb/);
    const e1 = await audit.record({ type: "http-request", module: "core", ip: "81.2.69.142" });
    const e2 = await audit.record({ type: "http-request", module: "core", ip: "81.2.69.143" });
    expect([e1.ip, e1.location, e2.location]).toEqual(["81.2.69.142", undefined, undefined]);
    expect(lines().filter((l) => l.msg === "audit events will be logged without location")).toHaveLength(1);
    await audit.stop();
  });

  it("location off: the database is not even opened", async () => {
    store = await openSqliteStore(":memory:");
    const audit = await setupAuditGeoip({ store }, { host: "h", location: false });
    expect(audit.geoip).toBeUndefined();
    expect(audit.locationUnavailable).toBeUndefined();
    await audit.stop();
  });
});
