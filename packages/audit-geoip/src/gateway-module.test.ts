import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { EventBus, setupKit, type Store } from "@xmppkit/core";
import { createHttpServer, createMetrics, openSqliteStore } from "@xmppkit/runtime";
import { moduleHarness } from "@xmppkit/testing";
import { afterEach, describe, expect, it } from "vitest";
import { gatewayModule } from "./gateway-module.js";
import { auditGeoipSchema } from "./options.js";

const GW = "gateway.localhost";
const PUBLIC_IP = "81.2.69.142"; // GB in the bundled database

async function loadModule(raw: Record<string, unknown>, store?: Store) {
  const h = await moduleHarness(gatewayModule, {
    core: { setupKit, EventBus },
    runtime: { createMetrics, createHttpServer },
    serverDomain: "localhost",
    domain: GW,
    store: store ?? (await openSqliteStore(":memory:")),
  });
  const audit = await h.setup(auditGeoipSchema.parse(raw));
  /** The recorded events of `type`, once everything queued is written. */
  const recorded = async (type: string) => {
    await audit.log.flush();
    return (await audit.log.query({ type })).events;
  };
  return { ...h, audit, recorded };
}

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("the audit-geoip gateway module", () => {
  it("opens the bundled GeoIP database at setup and says so; audit_log_location: false opens none", async () => {
    const located = await loadModule({});
    expect(located.audit.geoip).toBeDefined();
    expect(located.lines().find((l) => l.module === "audit-geoip" && l.level === 30)?.msg).toMatch(/^GeoIP database opened/);
    await located.stop();
    const plain = await loadModule({ audit_log_location: false });
    expect([plain.audit.geoip, plain.audit.locationUnavailable]).toEqual([undefined, undefined]);
    expect(plain.lines().filter((l) => l.msg?.includes("GeoIP"))).toEqual([]);
    await plain.stop();
  });

  it("audit_log_geoip_database that cannot be opened: a warning at setup, and events go without location", async () => {
    const h = await loadModule({ audit_log_geoip_database: "/nonexistent/GeoLite2-Country.mmdb" });
    expect(h.audit.locationUnavailable).toBeDefined();
    expect(h.lines().find((l) => l.level === 40)).toMatchObject({ module: "audit-geoip", msg: "audit events will be logged without location" });
    await h.http.inject({ url: "/audit", remoteAddress: PUBLIC_IP });
    const [event] = await h.recorded("http-request");
    expect(event).toMatchObject({ ip: PUBLIC_IP });
    expect(event!.location).toBeUndefined();
    await h.stop();
  });

  it("serves GET /audit and records the shared server's requests, the IP cut to audit_log_ipv4_prefix, with its country", async () => {
    const h = await loadModule({ audit_log_ipv4_prefix: 24 });
    const res = await h.http.inject({ url: "/audit?type=gateway-started", remoteAddress: PUBLIC_IP });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ events: { type: string }[] }>().events.map((e) => e.type)).toEqual(["gateway-started"]);
    const [event] = await h.recorded("http-request");
    expect(event).toMatchObject({ ip: "81.2.69.0/24", location: { countryCode: "GB" }, host: GW, note: "GET /audit → 200" });
    expect((await h.http.inject({ url: "/audit/" })).statusCode).toBe(200); // audit_log_web
    expect(await h.metrics.text()).toMatch(/^xmppkit_audit_geoip_dropped_total 0$/m);
    await h.stop();
  });

  it("audit_log_http_exclude and audit_log_web: excluded paths are not recorded; without the page, /audit/ is not served", async () => {
    const h = await loadModule({ audit_log_http_exclude: ["/audit/summary"], audit_log_web: false });
    await h.http.inject({ url: "/audit/summary" });
    expect((await h.http.inject({ url: "/audit/" })).statusCode).toBe(404);
    expect((await h.recorded("http-request")).map((e) => e.note)).toEqual(["GET /audit/ → 404"]);
    await h.stop();
  });

  it("records the run: started at setup as '<component> on <machine>', stopped at onStop, and nothing after", async () => {
    dir = mkdtempSync(join(tmpdir(), "audit-geoip-module-"));
    const file = join(dir, "audit.db");
    const h = await loadModule({}, await openSqliteStore(file));
    expect((await h.recorded("gateway-started"))[0]).toMatchObject({ module: "gateway", host: GW });
    await h.stop(); // closes the store too, as the gateway does after the modules' hooks
    await h.http.inject({ url: "/audit/" }); // on the bus: no longer recorded (nor failing to be)
    expect(h.lines().filter((l) => l.level >= 50)).toEqual([]);
    const store = await openSqliteStore(file);
    try {
      expect(await store.kv<{ status: string }>("audit-status").get(`${GW} on ${hostname()}`)).toMatchObject({ status: "stopped" });
      const types = await store.query<{ type: string }>("SELECT type FROM xmppkit_audit ORDER BY time_ms, id");
      expect(types.map((r) => r.type)).toEqual(["gateway-started", "gateway-stopped"]);
    } finally {
      await store.close();
    }
  });
});
