import { mockComponent } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import type { XmppEntity } from "./entity.js";
import { IqNotRoutedError } from "./errors.js";
import { setupIq } from "./iq.js";
import { droppedByServer, watchIqReach } from "./iq-reach.js";
import { setupKit } from "./kit.js";
import { setupLifecycle } from "./lifecycle.js";
import { setupStanzas } from "./stanzas.js";
import { xml } from "./xml.js";

const isPing = (s: { getChild(n: string, ns: string): unknown }) => !!s.getChild("ping", "urn:xmpp:ping");

async function setup(answer: (to: string) => boolean, timeout = 2000) {
  const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
  const stanzas = setupStanzas({ entity: mock.entity });
  const iq = setupIq({ entity: mock.entity, stanzas });
  const lifecycle = setupLifecycle({ entity: mock.entity });
  mock.replyToIq((s) => isPing(s) && answer(String(s.attrs.to)), true);
  const reach = watchIqReach({ iq, lifecycle }, { server: "localhost", timeout, grace: 50 });
  return { mock, iq, reach };
}

describe("which IQs the server routes", () => {
  it("a server that answers its domain: all, nothing refused, round trips go to the domain", async () => {
    const { mock, iq, reach } = await setup(() => true);
    mock.entity.emit("online", mock.entity.jid);
    expect(await reach.settled()).toBe("all");
    expect(reach.echoTarget()).toBe("localhost");
    mock.replyToIq((s) => s.attrs.to === "conference.localhost", true);
    await expect(iq.get(xml("query", "http://jabber.org/protocol/disco#info"), "conference.localhost")).resolves.toBeUndefined();
  });

  it("a server that drops IQs to its domain but answers its full JID: full-jids-only, such requests refused at once", async () => {
    const { mock, iq, reach } = await setup((to) => to.includes("/"));
    const changes: string[] = [];
    reach.on("changed", (p) => changes.push(p.state));
    mock.entity.emit("online", mock.entity.jid);
    expect(await reach.settled()).toBe("full-jids-only");
    expect(changes).toEqual(["full-jids-only"]);
    expect(reach.echoTarget()).toBe("localhost/xmppkit");
    mock.clear();
    const refused = await iq.get(xml("query", "http://jabber.org/protocol/disco#info"), "conference.localhost").catch((e: unknown) => e);
    expect(IqNotRoutedError.isInstance(refused)).toBe(true);
    expect((refused as IqNotRoutedError).to).toBe("conference.localhost");
    expect(mock.sent).toEqual([]); // never reached the wire
    // A full JID, a roster query and a privileged IQ still go out.
    mock.replyToIq(() => true, true);
    await iq.get(xml("ping", "urn:xmpp:ping"), "room@conference.localhost/nick");
    await iq.get(xml("query", "jabber:iq:roster"), "alice@localhost");
    expect(mock.sent.map((s) => s.attrs.to)).toEqual(["room@conference.localhost/nick", "alice@localhost"]);
  });

  it("a server that answers neither: no verdict, nothing refused", async () => {
    const { mock, reach } = await setup(() => false, 50);
    mock.entity.emit("online", mock.entity.jid);
    expect(await reach.settled()).toBeUndefined(); // both pings timed out
    expect(reach.state).toBeUndefined();
  });

  it("a link lost before the domain's answer could come: no verdict (not taken for a drop)", async () => {
    const { mock, reach } = await setup((to) => to.includes("/"));
    mock.entity.emit("online", mock.entity.jid);
    await mock.nextSent((s) => isPing(s) && String(s.attrs.to).includes("/"));
    mock.dropLink(); // the domain's answer can no longer come: its silence proves nothing
    expect(await reach.settled()).toBeUndefined();
    expect(reach.state).toBeUndefined();
  });

  it("names what the server drops: bare JIDs and domains, not full JIDs, roster queries or privileged IQs", () => {
    const iq = (to: string, child = xml("ping", "urn:xmpp:ping")) => xml("iq", { type: "get", to }, child);
    expect(droppedByServer(iq("localhost"))).toMatch(/ejabberd 24\.10–24\.12 with mod_privilege/);
    expect(droppedByServer(iq("room@conference.localhost"))).toBeDefined();
    expect(droppedByServer(iq("localhost/xmppkit"))).toBeUndefined();
    expect(droppedByServer(iq("alice@localhost", xml("query", "jabber:iq:roster")))).toBeUndefined();
    expect(droppedByServer(iq("alice@localhost", xml("privileged_iq", "urn:xmpp:privilege:2")))).toBeUndefined();
  });

  it("in a kit, the component's keepalive pings the server's full JID once the domain is known to be dropped", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 30, timeout: 5000 }, reach: { grace: 50 } });
    mock.replyToIq((s) => isPing(s) && String(s.attrs.to).includes("/"), true);
    mock.entity.emit("online", mock.entity.jid);
    // Until the verdict the keepalive pings the domain; that ping is then refused, not left to time out.
    expect(await kit.reach.settled()).toBe("full-jids-only");
    mock.clear();
    const keepalive = await mock.nextSent(isPing, 1000);
    expect(keepalive.attrs.to).toBe("localhost/xmppkit");
    kit.ping.stop();
    kit.reach.stop();
  });
});
