import { mockComponent, type MockEntity } from "@xmppkit/testing";
import { beforeEach, describe, expect, it } from "vitest";
import type { XmppEntity } from "./entity.js";
import { setupKit, type Kit } from "./kit.js";
import type { SessionEvents } from "./sessions.js";
import { xml } from "./xml.js";

const grant = (presence: string) =>
  xml("message", { to: "gateway.localhost", from: "localhost" }, xml("privilege", "urn:xmpp:privilege:2", xml("perm", { access: "presence", type: presence })));

const presence = (from: string, attrs: Record<string, string> = {}, ...children: ReturnType<typeof xml>[]) =>
  xml("presence", { from, to: "gateway.localhost", ...attrs }, ...children);

describe("sessions from forwarded presence", () => {
  let mock: MockEntity<XmppEntity>;
  let kit: Kit;
  let seen: string[];

  beforeEach(async () => {
    mock = await mockComponent<XmppEntity>();
    kit = setupKit(mock.entity, { serverDomain: "localhost" });
    seen = [];
    for (const event of ["available", "unavailable", "user-online", "user-offline"] as const) {
      kit.sessions.on(event, (p: SessionEvents[typeof event]) => void seen.push(`${event} ${"jid" in p ? p.jid : p.user}`));
    }
  });

  it("tracks resources and users: first available → user-online, last unavailable → user-offline", async () => {
    await mock.receive(grant("managed_entity"));
    await mock.receive(presence("alice@localhost/phone"));
    await mock.receive(presence("alice@localhost/phone", {}, xml("show", {}, "away"))); // a change, not a new session
    await mock.receive(presence("alice@localhost/laptop"));
    expect(kit.sessions.resources("alice@localhost").sort()).toEqual(["laptop", "phone"]);
    await mock.receive(presence("alice@localhost/phone", { type: "unavailable" }));
    await mock.receive(presence("alice@localhost/laptop", { type: "unavailable" }));
    await mock.receive(presence("alice@localhost/laptop", { type: "unavailable" })); // duplicate: ignored
    expect(seen).toEqual([
      "available alice@localhost/phone",
      "user-online alice@localhost",
      "available alice@localhost/laptop",
      "unavailable alice@localhost/phone",
      "unavailable alice@localhost/laptop",
      "user-offline alice@localhost",
    ]);
    expect(kit.sessions.isOnline("alice@localhost")).toBe(false);
    expect(kit.sessions.size).toBe(0);
  });

  it("puts session-available and session-unavailable on the event bus (what audit-geoip records)", async () => {
    const bus: string[] = [];
    kit.events.onAny((r) => {
      if (r.type.startsWith("session-")) bus.push(`${r.type} ${(r.payload as { jid: string }).jid} ${r.module}`);
    });
    await mock.receive(grant("managed_entity"));
    await mock.receive(presence("alice@localhost/phone"));
    await mock.receive(presence("alice@localhost/phone", { type: "unavailable" }));
    expect(bus).toEqual(["session-available alice@localhost/phone core", "session-unavailable alice@localhost/phone core"]);
  });

  it("emits presence for every available presence, so a user ejabberd saw come back (no unavailable, no replay) is noticed", async () => {
    await mock.receive(grant("managed_entity"));
    const presences: string[] = [];
    kit.sessions.on("presence", (p) => void presences.push(p.jid));
    await mock.receive(presence("alice@localhost/phone"));
    // the client closed its stream: ejabberd forwards nothing; it comes back with the same resource
    await mock.receive(presence("alice@localhost/phone"));
    expect(presences).toEqual(["alice@localhost/phone", "alice@localhost/phone"]);
    expect(seen).toEqual(["available alice@localhost/phone", "user-online alice@localhost"]);
  });

  it("marks the server's replay on connect (presence with <delay/>)", async () => {
    await mock.receive(grant("roster"));
    const events: SessionEvents["user-online"][] = [];
    kit.sessions.on("user-online", (e) => void events.push(e));
    await mock.receive(presence("bob@localhost/r1", {}, xml("delay", { xmlns: "urn:xmpp:delay", stamp: "2026-11-21T10:00:00Z", from: "localhost" })));
    expect(events).toEqual([{ user: "bob@localhost", resource: "r1", replayed: true }]);
  });

  it("ignores presence from domains that granted no presence permission, subscriptions, probes and bare JIDs", async () => {
    await mock.receive(presence("alice@localhost/r1")); // no announcement yet
    await mock.receive(grant("roster"));
    await mock.receive(presence("carol@remote.example/r1")); // a remote contact's presence (presence=roster)
    await mock.receive(presence("alice@localhost/r1", { type: "subscribe" }));
    await mock.receive(presence("alice@localhost/r1", { type: "probe" }));
    await mock.receive(presence("alice@localhost"));
    await mock.receive(presence("localhost/r1"));
    expect(seen).toEqual([]);
    expect(kit.sessions.users()).toEqual([]);
  });
});
