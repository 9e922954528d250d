import { createElement as xml } from "@xmpp/xml";
import { describe, expect, it } from "vitest";
import { mockClient, mockComponent } from "./mock-entity.js";

interface Iq {
  request(el: unknown, timeout?: number): Promise<{ getChild(name: string): unknown }>;
}

describe("mock entities", () => {
  it("a component: incoming stanzas run through the real iqCallee; replies are captured", async () => {
    const mock = await mockComponent<{ iqCallee: { get(ns: string, n: string, f: () => unknown): void } }>({ domain: "c.localhost" });
    mock.entity.iqCallee.get("urn:example", "q", () => true);
    await mock.receive(xml("iq", { type: "get", id: "1", from: "a@localhost/r", to: "c.localhost" }, xml("q", "urn:example")));
    expect(mock.sent.at(-1)!.attrs).toMatchObject({ type: "result", id: "1", to: "a@localhost/r", from: "c.localhost" });
  });

  it("a client: replyToIq scripts the answer to an outgoing request", async () => {
    const mock = await mockClient<{ iqCaller: Iq }>({ jid: "bot@localhost/x" });
    mock.replyToIq((iq) => !!iq.getChild("query", "jabber:iq:roster"), xml("query", "jabber:iq:roster", xml("item", { jid: "a@b" })));
    const reply = await mock.entity.iqCaller.request(xml("iq", { type: "get" }, xml("query", "jabber:iq:roster")), 1000);
    expect(reply.getChild("query")).toBeDefined();
  });

  it("nextSent times out with what was sent, so a failing test says why", async () => {
    const mock = await mockComponent();
    await expect(mock.nextSent(() => false, 20)).rejects.toThrow(/no matching stanza sent within 20 ms/);
  });

  it("dropLink turns into a real disconnect of the entity", async () => {
    const mock = await mockComponent<{ on(e: string, f: () => void): void; status: string }>();
    const disconnected = new Promise<void>((r) => mock.entity.on("disconnect", () => r()));
    mock.dropLink();
    await disconnected;
    expect(mock.entity.status).toBe("disconnect");
  });
});
