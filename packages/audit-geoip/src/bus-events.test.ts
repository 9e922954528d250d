import { EventBus, type EventRecord } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import type { AuditEventInput } from "./audit-event.js";
import { auditInputOf, recordBusEvents } from "./bus-events.js";

const rec = (type: string, payload: unknown, module = "core"): EventRecord =>
  ({ type, payload, module, time: new Date("2026-11-21T10:00:00Z") }) as unknown as EventRecord;

describe("bus events → audit events", () => {
  it("a session from forwarded presence: the account, the resource, no IP", () => {
    expect(auditInputOf(rec("session-available", { jid: "alice@localhost/phone", user: "alice@localhost", resource: "phone", replayed: false }))).toEqual({
      type: "session-available",
      module: "core",
      time: new Date("2026-11-21T10:00:00Z"),
      user: "alice@localhost",
      resource: "phone",
      actor: "alice@localhost/phone",
      host: "localhost",
    });
    expect(auditInputOf(rec("session-available", { jid: "a@l/r", user: "a@l", resource: "r", replayed: true }))).toMatchObject({
      note: "already online when the gateway connected",
      details: { replayed: true },
    });
  });

  it("an HTTP call carries the caller's IP; monitoring paths are left out unless asked", () => {
    const call = rec("http-request", { method: "POST", path: "/roster_admin/refresh", status: 200, ip: "81.2.69.142", durationMs: 3 });
    expect(auditInputOf(call)).toMatchObject({ actor: "81.2.69.142", ip: "81.2.69.142", note: "POST /roster_admin/refresh → 200" });
    expect(auditInputOf(rec("http-request", { method: "GET", path: "/healthz", status: 200, ip: "127.0.0.1" }))).toBeUndefined();
    expect(auditInputOf(rec("http-request", { method: "GET", path: "/healthz", status: 200, ip: "127.0.0.1" }), { httpExclude: [] })).toBeDefined();
  });

  it("each module's events, by name only", () => {
    expect(
      auditInputOf(
        rec(
          "roster-synced",
          { user: "alice@localhost", trigger: "http", added: 1, changed: 0, removed: 2, unchanged: 3, skipped: [], durationMs: 5 },
          "http-roster-admin",
        ),
      ),
    ).toMatchObject({ module: "http-roster-admin", user: "alice@localhost", note: "roster synced (http): 1 added, 0 changed, 2 removed" });
    expect(
      auditInputOf(rec("roster-synced", { user: "alice", trigger: "login", added: 0, changed: 0, removed: 0 }), { serverDomain: "localhost" }),
    ).toMatchObject({ user: "alice@localhost", host: "localhost" });
    expect(auditInputOf(rec("roster-sync-failed", { user: "bob@localhost", trigger: "login", reason: "timeout", message: "no answer in 5 s" }))).toMatchObject({
      user: "bob@localhost",
      note: "roster sync failed (timeout): no answer in 5 s",
    });
    expect(
      auditInputOf(rec("report-received", { id: "r1", via: "http", source: "81.2.69.142", reporter: undefined, reported: "spam@elsewhere", reason: "spam" })),
    ).toMatchObject({ actor: "81.2.69.142", ip: "81.2.69.142", note: "report about spam@elsewhere (spam) via http" });
    expect(
      auditInputOf(
        rec("report-forwarded", {
          id: "r1",
          source: "localhost",
          reporter: "alice@localhost/r",
          reported: "x@y",
          destinations: [{ ok: true }, { ok: false }],
          pending: [],
        }),
      ),
    ).toMatchObject({ user: "alice@localhost", note: "report about x@y delivered to 1 destination(s), 1 failed for good" });
    expect(
      auditInputOf(rec("report-forwarded", { id: "r2", reported: "x@y", destinations: [{ ok: true }], pending: ["mods@conference.localhost"] })),
    ).toMatchObject({ note: "report about x@y delivered to 1 destination(s), 1 still being tried", details: { pending: ["mods@conference.localhost"] } });
    expect(
      auditInputOf(rec("report-rejected", { via: "message", source: "mallory@localhost", reason: "unlisted-source", error: "not a listed source" })),
    ).toMatchObject({ actor: "mallory@localhost", note: "report refused (unlisted-source): not a listed source" });
    expect(
      auditInputOf(rec("affiliation-queried", { requester: "bob@localhost", jid: "alice@localhost", via: "delegation", outcome: "forbidden" })),
    ).toMatchObject({ actor: "bob@localhost", user: "alice@localhost", note: "XEP-0489 query by bob@localhost: forbidden" });
    expect(auditInputOf(rec("muc-ghost-detected", { jid: "gw.localhost", room: "r@c", nick: "desk", reason: "gone", trigger: "error" }))).toMatchObject({
      note: "no longer in r@c as desk: gone",
    });
    expect(auditInputOf(rec("link-down", { reason: "ECONNRESET" }))).toMatchObject({ note: "link to the server lost: ECONNRESET" });
    expect(
      auditInputOf(
        rec("permissions-granted", {
          server: "localhost",
          namespace: "urn:xmpp:privilege:2",
          roster: "both",
          message: "outgoing",
          presence: "managed_entity",
          iq: {},
        }),
      ),
    ).toMatchObject({ host: "localhost", note: "XEP-0356: roster both, message outgoing, presence managed_entity" });
  });

  it("unknown and noisy events are not recorded unless listed", () => {
    expect(auditInputOf(rec("muc-left", { room: "r@c" }))).toBeUndefined();
    expect(auditInputOf(rec("muc-left", { room: "r@c" }), { extraTypes: ["muc-left"] })).toMatchObject({ type: "muc-left", details: { room: "r@c" } });
  });

  it("recordBusEvents queues without waiting, and a failing log never reaches the emitter", async () => {
    const bus = new EventBus();
    const got: AuditEventInput[] = [];
    const errors: string[] = [];
    const stop = recordBusEvents(
      bus,
      {
        record: async (i) => {
          got.push(i);
          if (i.type === "link-down") throw new Error("store down");
          return {} as never;
        },
      },
      { onError: (_e, t) => errors.push(t) },
    );
    bus.emit("link-up", { jid: "gw.localhost", reconnected: false, resumed: false });
    bus.emit("link-down", { reason: "x" });
    await new Promise((r) => setTimeout(r, 0));
    expect(got.map((g) => g.type)).toEqual(["link-up", "link-down"]);
    expect(errors).toEqual(["link-down"]);
    stop();
    bus.emit("link-up", { jid: "gw.localhost", reconnected: true, resumed: false });
    expect(got).toHaveLength(2);
  });
});
