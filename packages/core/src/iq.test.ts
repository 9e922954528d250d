import { captureLogger, mockClient, mockComponent, type MockEntity } from "@xmppkit/testing";
import { beforeEach, describe, expect, it } from "vitest";
import type { XmppEntity } from "./entity.js";
import { IqTimeoutError, StanzaError } from "./errors.js";
import { randomId, setupIq, type Iq } from "./iq.js";
import { setupStanzas } from "./stanzas.js";
import { xml } from "./xml.js";

describe("IQ requests", () => {
  let mock: MockEntity<XmppEntity>;
  let iq: Iq;
  beforeEach(async () => {
    mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    iq = setupIq({ entity: mock.entity, stanzas: setupStanzas({ entity: mock.entity }) });
  });

  it("resolves with the reply from the JID asked", async () => {
    const p = iq.get(xml("query", "jabber:iq:version"), "alice@localhost");
    const sent = await mock.nextSent((s) => s.name === "iq");
    await mock.receive(xml("iq", { type: "result", id: sent.attrs.id, from: "alice@localhost", to: "gateway.localhost" }, xml("query", "jabber:iq:version")));
    expect((await p)!.attrs.xmlns).toBe("jabber:iq:version");
  });

  it("ignores a spoofed reply with the right id from someone else", async () => {
    const p = iq.get(xml("ping", "urn:xmpp:ping"), "alice@localhost", { timeout: 300 });
    const sent = await mock.nextSent((s) => s.name === "iq");
    await mock.receive(xml("iq", { type: "result", id: sent.attrs.id, from: "mallory@evil.example", to: "gateway.localhost" }));
    expect(iq.pending).toBe(1);
    await mock.receive(xml("iq", { type: "result", id: sent.attrs.id, from: "alice@localhost", to: "gateway.localhost" }));
    await expect(p).resolves.toBeUndefined();
    expect(iq.pending).toBe(0);
  });

  it("uses unpredictable ids", async () => {
    void iq.get(xml("ping", "urn:xmpp:ping"), "a@localhost", { timeout: 50 }).catch(() => undefined);
    void iq.get(xml("ping", "urn:xmpp:ping"), "a@localhost", { timeout: 50 }).catch(() => undefined);
    await mock.nextSent((s) => s.name === "iq");
    await new Promise((r) => setImmediate(r));
    const ids = mock.sent.filter((s) => s.name === "iq").map((s) => s.attrs.id as string);
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids[0]!.length).toBeGreaterThanOrEqual(12);
  });

  it("rejects with a StanzaError on an error reply", async () => {
    const p = iq.set(xml("query", "jabber:iq:roster"), "alice@localhost").catch((e: unknown) => e);
    const sent = await mock.nextSent((s) => s.name === "iq");
    await mock.receive(
      xml(
        "iq",
        { type: "error", id: sent.attrs.id, from: "alice@localhost" },
        xml("error", { type: "auth" }, xml("forbidden", "urn:ietf:params:xml:ns:xmpp-stanzas"), xml("text", "urn:ietf:params:xml:ns:xmpp-stanzas", "no")),
      ),
    );
    const err = (await p) as StanzaError;
    expect(err).toBeInstanceOf(StanzaError);
    expect([err.condition, err.type, err.text]).toEqual(["forbidden", "auth", "no"]);
  });

  it("times out with IqTimeoutError and forgets the request", async () => {
    await expect(iq.get(xml("ping", "urn:xmpp:ping"), "alice@localhost", { timeout: 30 })).rejects.toBeInstanceOf(IqTimeoutError);
    expect(iq.pending).toBe(0);
  });

  it("a component must address its IQs", async () => {
    await expect(iq.get(xml("ping", "urn:xmpp:ping"))).rejects.toThrow(/needs a `to`/);
  });

  it("a client's request without to accepts the reply from its own account", async () => {
    const c = await mockClient<XmppEntity>({ jid: "bot@localhost/r" });
    const ciq = setupIq({ entity: c.entity, stanzas: setupStanzas({ entity: c.entity }) });
    const p = ciq.get(xml("query", "jabber:iq:roster"));
    const sent = await c.nextSent((s) => s.name === "iq");
    await c.receive(xml("iq", { type: "result", id: sent.attrs.id, to: "bot@localhost/r" }, xml("query", "jabber:iq:roster")));
    expect((await p)!.name).toBe("query");
  });

  it("handlers: element → result payload, true → empty result, thrown StanzaError → error", async () => {
    iq.handle("get", "urn:example", "a", () => xml("a", "urn:example", "payload"));
    iq.handle("get", "urn:example", "b", () => true);
    iq.handle("get", "urn:example", "c", () => {
      throw new StanzaError("not-allowed", "cancel", "nope");
    });
    for (const [name, expected] of [
      ["a", "result"],
      ["b", "result"],
      ["c", "error"],
    ] as const) {
      await mock.receive(xml("iq", { type: "get", id: name, from: "u@localhost/r", to: "gateway.localhost" }, xml(name, "urn:example")));
      const reply = mock.sent.at(-1)!;
      expect(reply.attrs).toMatchObject({ type: expected, id: name, to: "u@localhost/r" });
    }
    expect(mock.sent.at(-3)!.getChild("a")!.text()).toBe("payload");
    expect(mock.sent.at(-1)!.getChild("error")!.getChild("not-allowed")).toBeDefined();
  });

  it("a handler that returns nothing falls through; unhandled gets service-unavailable", async () => {
    iq.handle("get", "urn:example", "x", () => undefined);
    await mock.receive(xml("iq", { type: "get", id: "x1", from: "u@localhost/r", to: "gateway.localhost" }, xml("x", "urn:example")));
    expect(mock.sent.at(-1)!.getChild("error")!.getChild("service-unavailable")).toBeDefined();
  });

  it("handlers of one payload answer in the order registered, the first answer counts; get, set and namespace are told apart", async () => {
    const calls: string[] = [];
    iq.handle("get", "urn:example", "q", () => void calls.push("first: nothing"));
    iq.handle("get", "urn:example:other", "q", () => xml("q", "urn:example:other", "wrong namespace"));
    iq.handle("set", "urn:example", "q", () => xml("q", "urn:example", "wrong type"));
    iq.handle("get", "urn:example", "q", async () => {
      calls.push("second: answers");
      return xml("q", "urn:example", "second");
    });
    iq.handle("get", "urn:example", "q", () => xml("q", "urn:example", "third"));
    await mock.receive(xml("iq", { type: "get", id: "o1", from: "u@localhost/r", to: "gateway.localhost" }, xml("q", "urn:example")));
    expect(calls).toEqual(["first: nothing", "second: answers"]);
    expect(mock.sent.at(-1)!.getChild("q")!.text()).toBe("second");
    await mock.receive(xml("iq", { type: "set", id: "o2", from: "u@localhost/r", to: "gateway.localhost" }, xml("q", "urn:example")));
    expect(mock.sent.at(-1)!.getChild("q")!.text()).toBe("wrong type");
  });

  it("a handler's bug (thrown or rejected) is answered internal-server-error and logged, never the entity's error; async handlers fall through too", async () => {
    const fresh = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const { logger, lines } = captureLogger();
    const fiq = setupIq({ entity: fresh.entity, stanzas: setupStanzas({ entity: fresh.entity }), logger });
    const errors: unknown[] = [];
    fresh.entity.on("error", (e: unknown) => errors.push(e));
    fiq.handle("get", "urn:example", "sync", () => {
      throw new Error("sync bug");
    });
    fiq.handle("get", "urn:example", "async", async () => {
      throw new Error("async bug");
    });
    fiq.handle("get", "urn:example", "refused", async () => {
      throw new StanzaError("forbidden", "auth");
    });
    fiq.handle("get", "urn:example", "later", async () => undefined);
    fiq.handle("get", "urn:example", "later", () => xml("later", "urn:example", "second"));
    const ask = async (name: string) => {
      await fresh.receive(xml("iq", { type: "get", id: name, from: "u@localhost/r", to: "gateway.localhost" }, xml(name, "urn:example")));
      return fresh.sent.at(-1)!;
    };
    expect((await ask("sync")).getChild("error")!.getChild("internal-server-error")).toBeDefined();
    expect((await ask("async")).getChild("error")!.getChild("internal-server-error")).toBeDefined();
    expect((await ask("refused")).getChild("error")!.getChild("forbidden")).toBeDefined();
    expect((await ask("later")).getChild("later")!.text()).toBe("second");
    expect(lines().filter((l) => l.msg === "an IQ handler failed")).toHaveLength(2);
    expect(errors).toEqual([]);
  });

  it("one xmpp.js middleware routes every handler (xmpp.js composes its list again per stanza); iqCallee's own routes still answer after", async () => {
    const fresh = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const stanzas = setupStanzas({ entity: fresh.entity });
    const use = fresh.entity.middleware.use.bind(fresh.entity.middleware);
    let added = 0;
    fresh.entity.middleware.use = (fn) => {
      added += 1;
      return use(fn);
    };
    const fiq = setupIq({ entity: fresh.entity, stanzas });
    for (let i = 0; i < 10; i++) fiq.handle("get", `urn:example:${i}`, "q", () => xml("q", `urn:example:${i}`, String(i)));
    expect(added).toBe(1);
    fresh.entity.iqCallee.get("urn:example:direct", "q", () => xml("q", "urn:example:direct", "direct"));
    await fresh.receive(xml("iq", { type: "get", id: "m7", from: "u@localhost/r", to: "gateway.localhost" }, xml("q", "urn:example:7")));
    expect(fresh.sent.at(-1)!.getChild("q")!.text()).toBe("7");
    await fresh.receive(xml("iq", { type: "get", id: "md", from: "u@localhost/r", to: "gateway.localhost" }, xml("q", "urn:example:direct")));
    expect(fresh.sent.at(-1)!.getChild("q")!.text()).toBe("direct");
  });
});

describe("randomId", () => {
  it("gives 72-bit base64url ids, all different, across refills of its pool of random bytes", () => {
    const ids = Array.from({ length: 5000 }, () => randomId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{12}$/);
    // Each character position takes many values: the bytes are random, not a counter.
    for (let pos = 0; pos < 12; pos++) expect(new Set(ids.map((id) => id[pos])).size).toBeGreaterThan(40);
  });
});
