import { mockComponent, type MockEntity } from "@xmppkit/testing";
import { beforeEach, describe, expect, it } from "vitest";
import { innerReply, unwrapDelegated, wrapDelegated } from "./delegation.js";
import type { XmppEntity } from "./entity.js";
import { StanzaError } from "./errors.js";
import { setupKit, type Kit } from "./kit.js";
import { xml, type Element } from "./xml.js";

const NS = "urn:xmpp:delegation:2";
const RAA = "urn:xmpp:raa:0";

function forwardedIq(attrs: Record<string, string>, payload: Element = xml("query", RAA)) {
  return xml("iq", { xmlns: "jabber:client", type: "get", id: "iq7", ...attrs }, payload);
}

function delegatedRequest(inner: Element, ns = NS, from = "localhost") {
  return xml("iq", { type: "set", id: "d1", from, to: "gateway.localhost" }, xml("delegation", ns, xml("forwarded", "urn:xmpp:forward:0", inner)));
}

describe("wrap/unwrap", () => {
  it("unwraps the forwarded IQ", () => {
    const inner = forwardedIq({ from: "bob@localhost/r1", to: "alice@localhost" });
    expect(unwrapDelegated(delegatedRequest(inner).getChild("delegation", NS)!)).toBe(inner);
  });

  it("rejects wrappers without exactly one forwarded IQ get/set", () => {
    expect(unwrapDelegated(xml("delegation", NS))).toBeNull();
    expect(unwrapDelegated(xml("delegation", NS, xml("forwarded", "urn:xmpp:forward:0")))).toBeNull();
    const result = forwardedIq({ type: "result" });
    expect(unwrapDelegated(xml("delegation", NS, xml("forwarded", "urn:xmpp:forward:0", result)))).toBeNull();
  });

  it("inner reply: to = forwarded from, from = forwarded to, same id, explicit jabber:client", () => {
    const reply = innerReply(forwardedIq({ from: "bob@localhost/r1", to: "alice@localhost" }), xml("info", RAA));
    expect(reply.attrs).toEqual({ xmlns: "jabber:client", id: "iq7", to: "bob@localhost/r1", from: "alice@localhost", type: "result" });
    expect(reply.getChild("info", RAA)).toBeDefined();
  });

  it("inner reply omits from when the forwarded IQ had no to (a user asking their own account)", () => {
    const reply = innerReply(forwardedIq({ from: "alice@localhost/r1" }), true);
    expect(reply.attrs.from).toBeUndefined();
    expect(reply.children).toHaveLength(0);
  });

  it("an error travels as an inner <iq type=error> echoing the request payload by name and namespace only", () => {
    const reply = innerReply(
      forwardedIq({ from: "bob@localhost/r1", to: "alice@localhost" }, xml("query", { xmlns: RAA, x: "1" }, xml("deep"))),
      new StanzaError("forbidden", "auth"),
    );
    expect(reply.attrs.type).toBe("error");
    expect(reply.getChild("query", RAA)!.toString()).toBe(`<query xmlns="${RAA}"/>`);
    expect(reply.getChild("error")!.attrs.type).toBe("auth");
    expect(reply.getChild("error")!.getChild("forbidden", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
  });

  it("wraps in the namespace the server used", () => {
    expect(wrapDelegated("urn:xmpp:delegation:1", xml("iq")).attrs.xmlns).toBe("urn:xmpp:delegation:1");
  });
});

describe("delegation on a component", () => {
  let mock: MockEntity<XmppEntity>;
  let kit: Kit;
  beforeEach(async () => {
    mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
    kit.delegation.handle(
      RAA,
      ({ element, to }) => {
        if (element.attrs.fail) throw new StanzaError("forbidden", "auth");
        if (element.attrs.crash) throw new Error("boom");
        return xml("info", { xmlns: RAA, affiliation: "registered", for: to });
      },
      { bareFeatures: [RAA] },
    );
  });

  async function announce(ns = NS) {
    await mock.receive(xml("message", { from: "localhost", to: "gateway.localhost" }, xml("delegation", ns, xml("delegated", { namespace: RAA }))));
  }

  it("answers the disco-nesting queries keeping the node attribute", async () => {
    for (const node of [`${NS}::${RAA}`, `${NS}:bare:${RAA}`, `urn:xmpp:delegation:1::${RAA}`]) {
      await mock.receive(
        xml("iq", { type: "get", id: "q", from: "localhost", to: "gateway.localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info", node })),
      );
      const reply = mock.sent.at(-1)!;
      expect(reply.attrs.type).toBe("result");
      const query = reply.getChild("query", "http://jabber.org/protocol/disco#info")!;
      expect(query.attrs.node).toBe(node);
      expect(query.getChildren("feature").map((f) => f.attrs.var)).toEqual([RAA]);
    }
  });

  it("records the announced namespaces", async () => {
    await announce();
    expect(kit.delegation.isDelegated(RAA)).toBe(true);
    expect(kit.delegation.isDelegated(RAA, "localhost")).toBe(true);
    expect(kit.delegation.isDelegated("jabber:iq:roster")).toBe(false);
  });

  it("routes a delegated IQ to its handler and wraps the answer in an outer result", async () => {
    await announce();
    await mock.receive(delegatedRequest(forwardedIq({ from: "bob@localhost/r1", to: "alice@localhost" })));
    const reply = mock.sent.at(-1)!;
    expect(reply.attrs).toMatchObject({ type: "result", to: "localhost", id: "d1" });
    const inner = reply.getChild("delegation", NS)!.getChild("forwarded", "urn:xmpp:forward:0")!.getChild("iq")!;
    expect(inner.attrs).toMatchObject({ xmlns: "jabber:client", type: "result", id: "iq7", to: "bob@localhost/r1", from: "alice@localhost" });
    expect(inner.getChild("info", RAA)!.attrs.for).toBe("alice@localhost");
  });

  it("a StanzaError becomes an inner error inside an outer result", async () => {
    await announce();
    await mock.receive(delegatedRequest(forwardedIq({ from: "bob@localhost/r1", to: "alice@localhost" }, xml("query", { xmlns: RAA, fail: "1" }))));
    const reply = mock.sent.at(-1)!;
    expect(reply.attrs.type).toBe("result");
    const inner = reply.getChild("delegation", NS)!.getChild("forwarded")!.getChild("iq")!;
    expect(inner.attrs.type).toBe("error");
    expect(inner.getChild("error")!.getChild("forbidden")).toBeDefined();
  });

  it("a crashing handler gives internal-server-error and reports the error", async () => {
    await announce();
    const errors: unknown[] = [];
    kit.delegation.on("handler-error", (e) => errors.push(e.error));
    await mock.receive(delegatedRequest(forwardedIq({ from: "bob@localhost/r1", to: "alice@localhost" }, xml("query", { xmlns: RAA, crash: "1" }))));
    const inner = mock.sent.at(-1)!.getChild("delegation", NS)!.getChild("forwarded")!.getChild("iq")!;
    expect(inner.getChild("error")!.getChild("internal-server-error")).toBeDefined();
    expect(errors).toHaveLength(1);
  });

  it("answers service-unavailable for a namespace nobody handles", async () => {
    await announce();
    await mock.receive(delegatedRequest(forwardedIq({ from: "bob@localhost/r1" }, xml("query", "jabber:iq:version"))));
    const inner = mock.sent.at(-1)!.getChild("delegation", NS)!.getChild("forwarded")!.getChild("iq")!;
    expect(inner.getChild("error")!.getChild("service-unavailable")).toBeDefined();
  });

  it("refuses a delegation wrapper from anyone but a delegating server", async () => {
    await announce();
    await mock.receive(delegatedRequest(forwardedIq({ from: "bob@localhost/r1" }), NS, "mallory@localhost/x"));
    const reply = mock.sent.at(-1)!;
    expect(reply.attrs.type).toBe("error");
    expect(reply.getChild("error")!.getChild("forbidden")).toBeDefined();
  });

  it("speaks urn:xmpp:delegation:1 to ejabberd", async () => {
    await announce("urn:xmpp:delegation:1");
    await mock.receive(delegatedRequest(forwardedIq({ from: "bob@localhost/r1", to: "alice@localhost" }), "urn:xmpp:delegation:1"));
    expect(mock.sent.at(-1)!.getChild("delegation", "urn:xmpp:delegation:1")).toBeDefined();
  });

  it("emits delegated-iq-answered on the event bus", async () => {
    await announce();
    const seen: unknown[] = [];
    kit.events.on("delegated-iq-answered", (r) => seen.push(r.payload));
    await mock.receive(delegatedRequest(forwardedIq({ from: "bob@localhost/r1", to: "alice@localhost" })));
    expect(seen).toEqual([{ namespace: RAA, from: "bob@localhost/r1", to: "alice@localhost", type: "result" }]);
  });

  it("ignores a delegation announced by anyone but our server (a remote server over s2s, a user)", async () => {
    for (const from of ["evil.example", "component2.localhost", "mallory@localhost/x"]) {
      await mock.receive(xml("message", { from, to: "gateway.localhost" }, xml("delegation", NS, xml("delegated", { namespace: RAA }))));
    }
    expect(kit.delegation.delegated.size).toBe(0);
    // …so the forged server cannot have its IQs answered either.
    await mock.receive(delegatedRequest(forwardedIq({ from: "trusted.example", to: "boss@evil.example" }), NS, "evil.example"));
    expect(mock.sent.at(-1)!.getChild("error")!.getChild("forbidden")).toBeDefined();
  });

  it("never answers a delegated IQ addressed outside the delegating server", async () => {
    await announce();
    await mock.receive(delegatedRequest(forwardedIq({ from: "trusted.example", to: "boss@evil.example" })));
    const inner = mock.sent.at(-1)!.getChild("delegation", NS)!.getChild("forwarded")!.getChild("iq")!;
    expect(inner.attrs.type).toBe("error");
    expect(inner.getChild("error")!.getChild("forbidden")).toBeDefined();
    expect(inner.getChild("info", RAA)).toBeUndefined();
  });

  it("a deeply nested payload (8,000 levels) is answered, not a stack overflow", async () => {
    await announce();
    let deep = xml("x");
    for (let i = 0; i < 8000; i++) deep = xml("x", {}, deep);
    await mock.receive(delegatedRequest(forwardedIq({ from: "bob@localhost/r1" }, xml("query", { xmlns: "urn:example:unhandled" }, deep))));
    const inner = mock.sent.at(-1)!.getChild("delegation", NS)!.getChild("forwarded")!.getChild("iq")!;
    expect(inner.getChild("error")!.getChild("service-unavailable")).toBeDefined();
  });
});
