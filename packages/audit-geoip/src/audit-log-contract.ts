// What the audit log must do on every store; run against SQLite and a real PostgreSQL.
import type { Store } from "@xmppkit/core";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { openAuditLog, AuditQueryError, AUDIT_TABLE, type AuditLog, type AuditLogOptions } from "./audit-log.js";
import { openGeoIp, type GeoIp } from "./geoip.js";

const DAY = 86_400_000;

/** What a group of cases shares: a fresh log on a fresh table, closed (with its store) after each case. */
interface Contract {
  /** The store of the case under way. */
  store(): Store;
  geoip(): GeoIp;
  /** Open the store, drop the audit table, and open a log on it (closed after the case). */
  fresh(options?: Partial<AuditLogOptions>, withGeo?: boolean): Promise<AuditLog>;
  /** Close `log` after the case, instead of the one fresh() opened. */
  keep(log: AuditLog): AuditLog;
}

export function auditLogContract(openStore: () => Promise<Store>) {
  const contract = openContract(openStore);
  describe("recording", () => recordingCases(contract));
  describe("reading", () => readingCases(contract));
  describe("summary and retention", () => summaryAndRetentionCases(contract));
  describe("durability", () => durabilityCases(contract));
}

function openContract(openStore: () => Promise<Store>): Contract {
  let geoip: GeoIp;
  let store: Store | undefined;
  let log: AuditLog | undefined;
  beforeAll(async () => {
    geoip = await openGeoIp();
  });
  afterEach(async () => {
    await log?.close();
    await store?.close();
    log = undefined;
    store = undefined;
  });
  return {
    store: () => store!,
    geoip: () => geoip,
    async fresh(options = {}, withGeo = true) {
      store = await openStore();
      await store.run(`DROP TABLE IF EXISTS ${AUDIT_TABLE}`);
      await store.run("DELETE FROM xmppkit_migrations WHERE owner = ?", ["audit-geoip"]);
      log = await openAuditLog({ store, geoip: withGeo ? geoip : undefined }, { host: "gateway.localhost", batch: { maxDelayMs: 10 }, ...options });
      return log;
    },
    keep: (kept) => (log = kept),
  };
}

/** What is stored of an event: every field, addresses and their location, odd payloads. */
function recordingCases({ fresh, store, geoip, keep }: Contract) {
  it("records an event with every field, and reads it back as it was", async () => {
    const audit = await fresh();
    const time = new Date("2026-11-20T10:00:00.123Z");
    const recorded = await audit.record({
      type: "http-request",
      module: "core",
      time,
      actor: "81.2.69.142",
      ip: "::ffff:81.2.69.142",
      details: { method: "POST", status: 200 },
      note: "POST /roster_admin/refresh → 200",
    });
    expect(recorded).toMatchObject({ ip: "81.2.69.142", location: { countryCode: "GB", countryName: "United Kingdom" }, host: "gateway.localhost" });
    const { events, next } = await audit.query();
    expect(next).toBeUndefined();
    expect(events).toEqual([recorded]);
    expect(events[0]!.time.toISOString()).toBe("2026-11-20T10:00:00.123Z");
  });

  it("loopback and private addresses are kept without location; audit_log_ips off keeps neither", async () => {
    const audit = await fresh();
    const a = await audit.record({ type: "http-request", module: "core", ip: "127.0.0.1" });
    const b = await audit.record({ type: "http-request", module: "core", ip: "10.1.2.3" });
    expect([a.ip, a.location, b.ip, b.location]).toEqual(["127.0.0.1", undefined, "10.1.2.3", undefined]);
    await audit.close();
    const noIps = keep(await openAuditLog({ store: store(), geoip: geoip() }, { host: "h", ips: false, batch: { maxDelayMs: 10 } }));
    const c = await noIps.record({ type: "http-request", module: "core", ip: "81.2.69.142" });
    expect(c.ip).toBeUndefined();
    expect(c.location).toBeUndefined();
  });

  it("with prefixes, stores the network only and still locates the address", async () => {
    const audit = await fresh({ ipv4Prefix: 24, ipv6Prefix: 48 });
    const a = await audit.record({ type: "t", module: "m", ip: "81.2.69.142" });
    const b = await audit.record({ type: "t", module: "m", ip: "2001:db8:1234:5678::1" });
    expect(a).toMatchObject({ ip: "81.2.69.0/24", location: { countryCode: "GB" } });
    expect(b.ip).toBe("2001:db8:1234::/48");
    expect((await audit.query({ ip: "81.2.69.0/24" })).events.map((e) => e.id)).toEqual([a.id]);
  });

  it("a producer's odd payload never loses the event: cycles, bigints, errors, control characters", async () => {
    const audit = await fresh();
    const cyclic: Record<string, unknown> = { n: 10n, err: new Error("boom"), fn: () => 1 };
    cyclic.self = cyclic;
    const e = await audit.record({
      type: "odd",
      module: "m",
      details: cyclic,
      note: "line one\nline two\u0007",
      user: "x".repeat(5000),
      time: new Date("nonsense"),
    });
    expect(e.details).toEqual({ n: "10", err: "boom", self: "[circular]" });
    expect(e.note).toBe("line one line two");
    expect(e.user!.length).toBeLessThanOrEqual(3071);
    expect(Number.isNaN(e.time.getTime())).toBe(false);
    expect((await audit.query()).events[0]!.details).toEqual(e.details);
  });
}

/** Filters and keyset pages. */
function readingCases({ fresh }: Contract) {
  it("filters by user (bare: every session; full: one), type, module, country and time", async () => {
    const audit = await fresh();
    const t0 = Date.parse("2026-11-10T00:00:00Z");
    await Promise.all([
      audit.record({ type: "session-available", module: "core", user: "Alice@localhost", resource: "phone", time: new Date(t0) }),
      audit.record({ type: "session-available", module: "core", user: "alice@localhost", resource: "laptop", time: new Date(t0 + DAY) }),
      audit.record({ type: "session-unavailable", module: "core", user: "alice@localhost", resource: "phone", time: new Date(t0 + 2 * DAY) }),
      audit.record({ type: "session-available", module: "core", user: "bob@localhost", resource: "r", time: new Date(t0 + 3 * DAY) }),
      audit.record({ type: "http-request", module: "core", ip: "81.2.69.142", time: new Date(t0 + 4 * DAY) }),
    ]);
    const types = async (q: Parameters<AuditLog["query"]>[0]) =>
      (await audit.query(q)).events.map((e) => `${e.type} ${e.user ?? e.ip}${e.resource ? `/${e.resource}` : ""}`);
    expect(await types({ user: "alice@localhost" })).toEqual([
      "session-unavailable alice@localhost/phone",
      "session-available alice@localhost/laptop",
      "session-available alice@localhost/phone",
    ]);
    expect(await types({ user: "ALICE@localhost/phone" })).toEqual(["session-unavailable alice@localhost/phone", "session-available alice@localhost/phone"]);
    expect(await types({ type: ["session-unavailable", "http-request"] })).toEqual(["http-request 81.2.69.142", "session-unavailable alice@localhost/phone"]);
    expect(await types({ country: "gb" })).toEqual(["http-request 81.2.69.142"]);
    expect(await types({ module: "nobody" })).toEqual([]);
    expect(await types({ since: new Date(t0 + DAY), until: new Date(t0 + 3 * DAY) })).toEqual([
      "session-unavailable alice@localhost/phone",
      "session-available alice@localhost/laptop",
    ]);
  });

  it("pages newest first with a cursor, without losing or repeating events that share a millisecond", async () => {
    const audit = await fresh({ batch: { maxRows: 100, maxDelayMs: 10 } });
    const same = new Date("2026-11-15T12:00:00Z");
    await Promise.all(
      Array.from({ length: 250 }, (_, i) =>
        audit.record({ type: "t", module: "m", time: i < 150 ? same : new Date(same.getTime() + i * 1000), note: String(i) }),
      ),
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await audit.query({ limit: 100, ...(cursor ? { cursor } : {}) });
      seen.push(...page.events.map((e) => e.note!));
      cursor = page.next;
      pages++;
    } while (cursor && pages < 10); // a cursor that repeats rows must fail here, not loop forever
    expect(pages).toBe(3); // the last two pages are all one millisecond: the id breaks the tie
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    expect(seen[0]).toBe("249");
    await expect(audit.query({ cursor: "not-a-cursor" })).rejects.toBeInstanceOf(AuditQueryError);
    await expect(audit.query({ limit: 5000 })).rejects.toThrow(/limit/);
  });
}

/** Counts per day, country and type; purging by age and row count. */
function summaryAndRetentionCases({ fresh, store }: Contract) {
  it("summarises per UTC day, per country and per type", async () => {
    const audit = await fresh();
    const d = (s: string) => new Date(s);
    await Promise.all([
      audit.record({ type: "http-request", module: "core", ip: "81.2.69.142", time: d("2026-11-18T23:59:59Z") }),
      audit.record({ type: "http-request", module: "core", ip: "81.2.69.160", time: d("2026-11-19T00:00:00Z") }),
      audit.record({ type: "http-request", module: "core", ip: "127.0.0.1", time: d("2026-11-19T08:00:00Z") }),
      audit.record({ type: "link-up", module: "core", time: d("2026-11-19T09:00:00Z") }),
    ]);
    const s = await audit.summary();
    expect(s.total).toBe(4);
    expect(s.perDay).toEqual([
      { day: "2026-11-18", count: 1 },
      { day: "2026-11-19", count: 3 },
    ]);
    expect(s.perCountry).toEqual([{ country: "GB", name: "United Kingdom", count: 2 }]);
    expect(s.perType).toEqual([
      { type: "http-request", count: 3 },
      { type: "link-up", count: 1 },
    ]);
    expect((await audit.summary({ type: "link-up" })).perCountry).toEqual([]);
  });

  it("purges events past the expiry, then the oldest beyond the row limit", async () => {
    const now = Date.parse("2026-11-21T00:00:00Z");
    const audit = await fresh({ expiresAfterMs: 28 * DAY, maxRows: 5 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => audit.record({ type: "t", module: "m", time: new Date(now - (29 + i) * DAY), note: `old ${i}` })));
    await Promise.all(Array.from({ length: 8 }, (_, i) => audit.record({ type: "t", module: "m", time: new Date(now - (8 - i) * 1000), note: `new ${i}` })));
    expect(await audit.purge(new Date(now))).toEqual({ expired: 10, overQuota: 3 });
    expect((await audit.query()).events.map((e) => e.note)).toEqual(["new 7", "new 6", "new 5", "new 4", "new 3"]);
    const never = await openAuditLog({ store: store() }, { host: "h", expiresAfterMs: null, maxRows: null });
    expect(await never.purge(new Date(now + 1000 * DAY))).toEqual({ expired: 0, overQuota: 0 });
  });
}

/** What is acknowledged is committed: close() writes the queue, a failed batch is retried. */
function durabilityCases({ fresh, store, keep }: Contract) {
  it("close() writes what is queued: an event recorded and not awaited is there after reopening", async () => {
    const audit = await fresh({ batch: { maxDelayMs: 60_000 } });
    void audit.record({ type: "gateway-stopped", module: "gateway" });
    expect(audit.queued).toBe(1);
    await audit.close();
    const again = await openAuditLog({ store: store() }, { host: "h" });
    expect((await again.query()).events.map((e) => e.type)).toEqual(["gateway-stopped"]);
  });

  it("a failed batch is kept and written on the next attempt; nothing acknowledged before it is committed", async () => {
    const base = await fresh();
    await base.close();
    let failures = 1;
    const flaky: Store = {
      ...store(),
      insertMany: async (table, columns, rows) => {
        if (failures-- > 0) throw new Error("disk full");
        return store().insertMany(table, columns, rows);
      },
    };
    const log = keep(await openAuditLog({ store: flaky }, { host: "h", batch: { maxDelayMs: 5 } }));
    let acknowledged = false;
    const pending = log.record({ type: "kept", module: "m" }).then(() => (acknowledged = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(acknowledged).toBe(false); // the first write failed: not acknowledged, still queued
    await log.flush();
    await pending;
    expect((await log.query()).events.map((e) => e.type)).toEqual(["kept"]);
  });
}
