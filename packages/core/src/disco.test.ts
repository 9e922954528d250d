import { mockComponent } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import { hasFeature } from "./disco.js";
import type { XmppEntity } from "./entity.js";
import { setupKit } from "./kit.js";
import { xml } from "./xml.js";

describe("disco and ping on a component", () => {
  it("answers disco#info with the identity and the features of what is loaded", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const kit = setupKit(mock.entity, {
      serverDomain: "localhost",
      ping: { interval: 0 },
      identity: { category: "component", type: "generic", name: "test gateway" },
    });
    kit.disco.addFeature("urn:example:feature");
    await mock.receive(
      xml("iq", { type: "get", id: "d", from: "alice@localhost/r", to: "gateway.localhost" }, xml("query", "http://jabber.org/protocol/disco#info")),
    );
    const q = mock.sent.at(-1)!.getChild("query", "http://jabber.org/protocol/disco#info")!;
    expect(q.getChild("identity")!.attrs).toEqual({ category: "component", type: "generic", name: "test gateway" });
    const features = q.getChildren("feature").map((f) => f.attrs.var);
    expect(features).toEqual(expect.arrayContaining(["urn:xmpp:ping", "urn:example:feature", "http://jabber.org/protocol/disco#info"]));
  });

  it("the features are answered sorted, and one added after a query is in the next answer", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
    const features = async () => {
      await mock.receive(
        xml("iq", { type: "get", id: "d", from: "alice@localhost/r", to: "gateway.localhost" }, xml("query", "http://jabber.org/protocol/disco#info")),
      );
      return mock.sent
        .at(-1)!
        .getChild("query", "http://jabber.org/protocol/disco#info")!
        .getChildren("feature")
        .map((f) => f.attrs.var as string);
    };
    const first = await features();
    expect(first).toEqual([...first].sort());
    expect(await features()).toEqual(first);
    kit.disco.addFeature("a:first:feature", "urn:xmpp:ping");
    expect(await features()).toEqual(["a:first:feature", ...first]);
    expect(kit.disco.info().features).toContain("a:first:feature");
  });

  it("answers item-not-found for an unknown node", async () => {
    const mock = await mockComponent<XmppEntity>();
    setupKit(mock.entity, { ping: { interval: 0 } });
    await mock.receive(
      xml(
        "iq",
        { type: "get", id: "d", from: "a@b/r", to: "component.localhost" },
        xml("query", { xmlns: "http://jabber.org/protocol/disco#info", node: "nope" }),
      ),
    );
    expect(mock.sent.at(-1)!.getChild("error")!.getChild("item-not-found")).toBeDefined();
  });

  it("answers XEP-0199 pings (published @xmpp/component answers service-unavailable)", async () => {
    const mock = await mockComponent<XmppEntity>();
    setupKit(mock.entity, { ping: { interval: 0 } });
    await mock.receive(xml("iq", { type: "get", id: "p1", from: "a@b/r", to: "component.localhost" }, xml("ping", "urn:xmpp:ping")));
    expect(mock.sent.at(-1)!.attrs).toMatchObject({ type: "result", id: "p1", to: "a@b/r" });
  });

  it("keepalive: an unanswered ping drops the link", async () => {
    const mock = await mockComponent<XmppEntity>();
    const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 20, timeout: 30 }, lifecycle: { backoff: { initial: 60_000 } } });
    mock.entity.emit("online", mock.entity.jid);
    const lost = kit.lifecycle.next("link-lost", 2000);
    const ping = await mock.nextSent((s) => !!s.getChild("ping", "urn:xmpp:ping"));
    expect(ping.attrs.to).toBe("localhost");
    expect((await lost).reason).toMatch(/keepalive ping unanswered/);
    await kit.lifecycle.stop();
  });

  it("keepalive resumes after lifecycle stop() and start() (it stops with the link, not for good)", async () => {
    const mock = await mockComponent<XmppEntity>();
    const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 20, timeout: 1000 } });
    mock.entity.emit("online", mock.entity.jid);
    await new Promise((r) => setImmediate(r)); // the link check's two pings go out at once
    kit.lifecycle.emit("offline", {}); // what stop() emits
    mock.clear();
    await new Promise((r) => setTimeout(r, 60));
    expect(mock.sent.filter((s) => s.getChild("ping", "urn:xmpp:ping"))).toEqual([]);
    mock.entity.emit("online", mock.entity.jid); // start() again
    await mock.nextSent((s) => !!s.getChild("ping", "urn:xmpp:ping"), 1000);
    kit.ping.stop();
  });
});

describe("hasFeature", () => {
  it("finds a feature on the server's disco#info; no answer in time is no feature", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
    const answer = mock.replyToIq(
      (s) => s.attrs.to === "localhost" && !!s.getChild("query", "http://jabber.org/protocol/disco#info"),
      xml("query", "http://jabber.org/protocol/disco#info", xml("feature", { var: "urn:example:a" })),
    );
    expect(await hasFeature(kit.iq, "localhost", "urn:example:a")).toBe(true);
    expect(await hasFeature(kit.iq, "localhost", "urn:example:b")).toBe(false);
    answer();
    expect(await hasFeature(kit.iq, "localhost", "urn:example:a", { timeout: 20 })).toBe(false);
  });

  it("with tries, a query that got no answer is asked again; an error answer is not", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
    const asked = () => mock.sent.filter((s) => s.name === "iq" && s.attrs.to === "localhost").length;
    let answers = 0;
    mock.replyToIq(
      (s) => s.attrs.to === "localhost" && !!s.getChild("query") && answers++ > 0, // silent the first time
      xml("query", "http://jabber.org/protocol/disco#info", xml("feature", { var: "urn:example:a" })),
    );
    expect(await hasFeature(kit.iq, "localhost", "urn:example:a", { timeout: 50, tries: 3 })).toBe(true);
    expect(asked()).toBe(2);
    mock.replyToIq(
      (s) => s.attrs.to === "elsewhere.example",
      xml("error", { type: "cancel" }, xml("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas")),
    );
    expect(await hasFeature(kit.iq, "elsewhere.example", "urn:example:a", { timeout: 50, tries: 3 })).toBe(false);
    expect(mock.sent.filter((s) => s.name === "iq" && s.attrs.to === "elsewhere.example")).toHaveLength(1);
  });
});
