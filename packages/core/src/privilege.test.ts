import { mockComponent, type MockEntity } from "@xmppkit/testing";
import { beforeEach, describe, expect, it } from "vitest";
import type { XmppEntity } from "./entity.js";
import { PermissionError } from "./errors.js";
import { setupKit, type Kit } from "./kit.js";
import { hasPermission, parsePrivilegeAnnouncement } from "./privilege.js";
import { xml } from "./xml.js";

const PROSODY_ANNOUNCEMENT = xml(
  "message",
  { to: "gateway.localhost", from: "localhost" },
  xml(
    "privilege",
    "urn:xmpp:privilege:2",
    xml("perm", { type: "both", access: "roster" }),
    xml("perm", { type: "outgoing", access: "message" }),
    xml("perm", { type: "roster", access: "presence" }),
  ),
);

// ejabberd ≤ 24.07: namespace :1, every perm listed, "none" where not granted.
const EJABBERD_ANNOUNCEMENT = xml(
  "message",
  { to: "gateway.localhost", from: "localhost" },
  xml(
    "privilege",
    "urn:xmpp:privilege:1",
    xml("perm", { type: "outgoing", access: "message" }),
    xml("perm", { type: "get", access: "roster" }),
    xml("perm", { type: "none", access: "presence" }),
  ),
);

describe("parsePrivilegeAnnouncement", () => {
  it("reads Prosody's urn:xmpp:privilege:2 announcement", () => {
    const p = parsePrivilegeAnnouncement(PROSODY_ANNOUNCEMENT.getChild("privilege")!, "localhost");
    expect(p).toEqual({ namespace: "urn:xmpp:privilege:2", server: "localhost", roster: "both", message: "outgoing", presence: "roster", iq: {} });
  });

  it("reads ejabberd's urn:xmpp:privilege:1 announcement with type=none entries", () => {
    const p = parsePrivilegeAnnouncement(EJABBERD_ANNOUNCEMENT.getChild("privilege")!, "localhost");
    expect(p).toMatchObject({ namespace: "urn:xmpp:privilege:1", roster: "get", message: "outgoing", presence: "none" });
  });

  it("reads IQ permissions, including Prosody 2023's nested <namespace/> elements", () => {
    const el = xml(
      "privilege",
      "urn:xmpp:privilege:2",
      xml("perm", { access: "iq" }, xml("namespace", { ns: "urn:xmpp:ping", type: "get" }, xml("namespace", { ns: "jabber:iq:roster", type: "set" }))),
    );
    expect(parsePrivilegeAnnouncement(el, "localhost").iq).toEqual({ "urn:xmpp:ping": "get", "jabber:iq:roster": "set" });
  });

  it("ignores unknown access types and invalid values", () => {
    const el = xml(
      "privilege",
      "urn:xmpp:privilege:2",
      xml("perm", { access: "roster", type: "everything" }),
      xml("perm", { access: "teleport", type: "both" }),
    );
    expect(parsePrivilegeAnnouncement(el, "localhost")).toMatchObject({ roster: "none", message: "none", presence: "none" });
  });

  it("an empty <privilege/> grants nothing", () => {
    const p = parsePrivilegeAnnouncement(xml("privilege", "urn:xmpp:privilege:2"), "localhost");
    expect(hasPermission(p, { access: "roster", type: "get" })).toBe(false);
  });

  it("presence=roster implies managed_entity; roster=both covers get and set", () => {
    const p = parsePrivilegeAnnouncement(PROSODY_ANNOUNCEMENT.getChild("privilege")!, "localhost");
    expect(hasPermission(p, { access: "presence", type: "managed_entity" })).toBe(true);
    expect(hasPermission(p, { access: "roster", type: "set" })).toBe(true);
    expect(hasPermission(p, { access: "iq", namespace: "urn:xmpp:ping", type: "get" })).toBe(false);
  });
});

describe("privilege helpers on a component", () => {
  let mock: MockEntity<XmppEntity>;
  let kit: Kit;
  beforeEach(async () => {
    mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
  });

  it("records the announcement and emits it on the event bus", async () => {
    const seen: unknown[] = [];
    kit.events.on("permissions-granted", (r) => seen.push(r.payload));
    await mock.receive(PROSODY_ANNOUNCEMENT);
    expect(kit.privilege.permissions()?.roster).toBe("both");
    expect(seen).toEqual([{ server: "localhost", namespace: "urn:xmpp:privilege:2", roster: "both", message: "outgoing", presence: "roster", iq: {} }]);
  });

  it("does not take an announcement from a user JID or a full JID", async () => {
    await mock.receive(
      xml(
        "message",
        { from: "mallory@localhost/x", to: "gateway.localhost" },
        xml("privilege", "urn:xmpp:privilege:2", xml("perm", { type: "both", access: "roster" })),
      ),
    );
    expect(kit.privilege.servers.size).toBe(0);
    await mock.receive(
      xml(
        "message",
        { from: "localhost/resource", to: "gateway.localhost" },
        xml("privilege", "urn:xmpp:privilege:2", xml("perm", { type: "both", access: "roster" })),
      ),
    );
    expect(kit.privilege.servers.size).toBe(0);
  });

  it("rosterGet sends a roster get to the user's bare JID and parses the items", async () => {
    await mock.receive(PROSODY_ANNOUNCEMENT);
    mock.replyToIq(
      (iq) => iq.attrs.to === "alice@localhost" && !!iq.getChild("query", "jabber:iq:roster"),
      xml("query", "jabber:iq:roster", xml("item", { jid: "bob@localhost", name: "Bob", subscription: "both" }, xml("group", {}, "Friends"))),
    );
    const items = await kit.privilege.rosterGet("alice@localhost");
    expect(items).toEqual([{ jid: "bob@localhost", name: "Bob", subscription: "both", groups: ["Friends"] }]);
  });

  it("rosterSet sends one set per item with name, subscription and groups", async () => {
    await mock.receive(PROSODY_ANNOUNCEMENT);
    mock.replyToIq((iq) => iq.attrs.type === "set", true);
    await kit.privilege.rosterSet("alice@localhost", [
      { jid: "marie@example.com", name: "Marie", subscription: "both", groups: ["Friends", "Work"] },
      { jid: "old@example.com", subscription: "remove", groups: [] },
    ]);
    const sets = mock.sent.filter((s) => s.attrs.type === "set");
    expect(sets).toHaveLength(2);
    const item = sets[0]!.getChild("query", "jabber:iq:roster")!.getChild("item")!;
    expect(item.attrs).toMatchObject({ jid: "marie@example.com", name: "Marie", subscription: "both" });
    expect(item.getChildren("group").map((g) => g.text())).toEqual(["Friends", "Work"]);
    expect(sets[1]!.getChild("query")!.getChild("item")!.attrs.subscription).toBe("remove");
  });

  it("a helper without the permission fails naming the permission and the config that grants it", async () => {
    await mock.receive(EJABBERD_ANNOUNCEMENT); // roster=get only
    const err = await kit.privilege.rosterSet("alice@localhost", [{ jid: "x@y", groups: [] }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionError);
    expect((err as PermissionError).permission).toBe("roster=set");
    expect((err as Error).message).toContain('privileged_entities = { ["gateway.localhost"] = { roster = "set" } }');
    expect((err as Error).message).toContain("localhost granted roster=get");
  });

  it("without any announcement the error says so", async () => {
    const err = await kit.privilege.rosterGet("alice@localhost").catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/localhost sent no XEP-0356 privilege announcement/);
  });

  it("sendMessage wraps the message for the server, inner xmlns jabber:client", async () => {
    await mock.receive(PROSODY_ANNOUNCEMENT);
    await kit.privilege.sendMessage(xml("message", { from: "alice@localhost", to: "bob@localhost", type: "chat" }, xml("body", {}, "hi")));
    const out = mock.sent.at(-1)!;
    expect(out.attrs.to).toBe("localhost");
    const inner = out.getChild("privilege", "urn:xmpp:privilege:2")!.getChild("forwarded", "urn:xmpp:forward:0")!.getChild("message")!;
    expect(inner.attrs).toMatchObject({ xmlns: "jabber:client", from: "alice@localhost", to: "bob@localhost" });
  });

  it("sendMessage refuses a full-JID from (the server would answer forbidden)", async () => {
    await mock.receive(PROSODY_ANNOUNCEMENT);
    await expect(kit.privilege.sendMessage(xml("message", { from: "alice@localhost/r1", to: "bob@localhost" }))).rejects.toThrow(/bare-JID/);
  });

  it("sendIq wraps in <privileged_iq/> and unwraps the forwarded reply", async () => {
    await mock.receive(
      xml(
        "message",
        { from: "localhost" },
        xml("privilege", "urn:xmpp:privilege:2", xml("perm", { access: "iq" }, xml("namespace", { ns: "urn:xmpp:ping", type: "get" }))),
      ),
    );
    mock.replyToIq(
      (iq) => !!iq.getChild("privileged_iq"),
      (iq) =>
        xml(
          "privilege",
          "urn:xmpp:privilege:2",
          xml(
            "forwarded",
            "urn:xmpp:forward:0",
            xml("iq", {
              xmlns: "jabber:client",
              type: "result",
              from: "bob@localhost",
              to: "alice@localhost",
              id: iq.getChild("privileged_iq")!.getChild("iq")!.attrs.id,
            }),
          ),
        ),
    );
    const reply = await kit.privilege.sendIq("alice@localhost", xml("iq", { type: "get", to: "bob@localhost" }, xml("ping", "urn:xmpp:ping")));
    expect(reply.attrs).toMatchObject({ type: "result", from: "bob@localhost" });
    const sent = mock.sent.find((s) => s.getChild("privileged_iq"))!;
    expect(sent.attrs).toMatchObject({ to: "alice@localhost", type: "get" });
    expect(sent.getChild("privileged_iq")!.getChild("iq")!.attrs.xmlns).toBe("jabber:client");
  });

  it("believes announcements from our server only: a remote server, another component or a user is ignored", async () => {
    for (const from of ["evil.example", "component2.localhost", "alice@localhost/x"]) {
      await mock.receive(xml("message", { to: "gateway.localhost", from }, PROSODY_ANNOUNCEMENT.getChild("privilege")!));
    }
    expect(kit.privilege.servers.size).toBe(0);
    await mock.receive(PROSODY_ANNOUNCEMENT);
    expect([...kit.privilege.servers.keys()]).toEqual(["localhost"]);
  });
});

describe("which servers a kit believes", () => {
  it("without serverDomain: a component believes the domain it is a subdomain of, a client its own", async () => {
    const component = await mockComponent<XmppEntity>({ domain: "gateway.example.org" });
    expect([...setupKit(component.entity, { ping: { interval: 0 } }).serverDomains]).toEqual(["example.org"]);
    const { mockClient } = await import("@xmppkit/testing");
    const client = await mockClient<XmppEntity>({ jid: "bot@example.org/r" });
    expect([...setupKit(client.entity, { ping: { interval: 0 } }).serverDomains]).toEqual(["example.org"]);
  });
});
