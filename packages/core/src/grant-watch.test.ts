import { mockComponent } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import type { XmppEntity } from "./entity.js";
import { setupKit } from "./kit.js";
import { xml } from "./xml.js";

const ANNOUNCEMENT = xml(
  "message",
  { from: "localhost", to: "gateway.localhost" },
  xml("privilege", "urn:xmpp:privilege:1", xml("perm", { access: "roster", type: "both" })),
);

describe("grant watch", () => {
  it("a privileged IQ answered forbidden: the grants are forgotten, the state says revoked, and a component rebuilds its link", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
    mock.entity.emit("online", mock.entity.jid);
    await mock.receive(ANNOUNCEMENT);
    let forbidden = false;
    mock.replyToIq(
      (s) => s.getChild("query", "jabber:iq:roster") !== undefined,
      () =>
        forbidden
          ? xml(
              "error",
              { type: "auth" },
              xml("forbidden", "urn:ietf:params:xml:ns:xmpp-stanzas"),
              xml("text", "urn:ietf:params:xml:ns:xmpp-stanzas", "Query to another users is forbidden"),
            )
          : xml("query", "jabber:iq:roster"),
    );
    expect(await kit.privilege.verify()).toBe(true);
    expect(kit.grants.state).toBe("ok");
    forbidden = true;
    const lost = kit.lifecycle.next("link-lost", 1000);
    expect(await kit.privilege.verify()).toBe(false);
    expect(kit.grants.state).toBe("revoked");
    expect(kit.privilege.permissions("localhost")).toBeUndefined();
    expect((await lost).reason).toBe("the server withdrew the XEP-0356 grants (forbidden: Query to another users is forbidden)");
    await mock.receive(ANNOUNCEMENT); // the new stream's announcement
    expect(kit.grants.state).toBe("ok");
    await kit.lifecycle.stop();
  });

  it("a roster check the server no longer answers while it answers a ping (ejabberd 24.12): revoked, link rebuilt", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 40, timeout: 60 }, reach: { timeout: 60, grace: 10 } });
    // Pings to the server's full JID answered; its domain and roster queries never (the 24.12 drop).
    mock.replyToIq((s) => !!s.getChild("ping", "urn:xmpp:ping") && String(s.attrs.to).includes("/"), true);
    mock.entity.emit("online", mock.entity.jid);
    await mock.receive(ANNOUNCEMENT);
    const lost = await kit.lifecycle.next("link-lost", 2000);
    expect(lost.reason).toBe("the server withdrew the XEP-0356 grants (the server no longer answers privileged roster queries)");
    expect(kit.grants.state).toBe("revoked");
    await kit.lifecycle.stop();
  });

  it("an error reply to the roster check (not forbidden) is no sign of withdrawn grants, even where silence would be", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 30, timeout: 60 }, reach: { timeout: 60, grace: 10 } });
    mock.replyToIq((s) => !!s.getChild("ping", "urn:xmpp:ping") && String(s.attrs.to).includes("/"), true);
    let checks = 0;
    mock.replyToIq(
      (s) => s.getChild("query", "jabber:iq:roster") !== undefined && ++checks > 0,
      () => xml("error", { type: "wait" }, xml("internal-server-error", "urn:ietf:params:xml:ns:xmpp-stanzas")),
    );
    mock.entity.emit("online", mock.entity.jid);
    await mock.receive(ANNOUNCEMENT);
    expect(await kit.reach.settled()).toBe("full-jids-only");
    while (checks < 3) await mock.nextSent((s) => s.getChild("query", "jabber:iq:roster") !== undefined, 2000); // three checks answered
    expect(kit.grants.state).toBe("ok");
    expect(kit.privilege.permissions("localhost")).toBeDefined();
    await kit.lifecycle.stop();
  });

  it("without a roster grant there is nothing to verify", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
    expect(await kit.privilege.verify()).toBeUndefined();
  });
});
