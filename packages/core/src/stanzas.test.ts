import { mockClient, mockComponent } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import type { XmppEntity } from "./entity.js";
import { setupIq } from "./iq.js";
import { StanzaRefusedError } from "./errors.js";
import { captureLogger } from "@xmppkit/testing";
import { setupStanzas } from "./stanzas.js";
import { xml } from "./xml.js";

describe("stanza hooks", () => {
  it("outgoing hooks see, amend and drop every stanza the entity sends, iqCallee replies included", async () => {
    const mock = await mockComponent<XmppEntity>();
    const stanzas = setupStanzas({ entity: mock.entity });
    const seen: string[] = [];
    stanzas.onOutgoing((s) => void seen.push(s.name));
    stanzas.onOutgoing((s) => {
      if (s.attrs.type === "groupchat") return null;
      if (s.name === "message") {
        s.append(xml("stamped", "urn:example"));
        return s;
      }
      return undefined;
    });
    await mock.entity.send(xml("message", { to: "a@b", type: "chat" }));
    await stanzas.send(xml("message", { to: "room@muc", type: "groupchat" }));
    const iq = setupIq({ entity: mock.entity, stanzas });
    iq.handle("get", "urn:example", "q", () => true);
    await mock.receive(xml("iq", { type: "get", id: "1", from: "u@b/r", to: "component.localhost" }, xml("q", "urn:example")));
    expect(seen).toEqual(["message", "message", "iq"]);
    expect(mock.sent.map((s) => s.name)).toEqual(["message", "iq"]);
    expect(mock.sent[0]!.getChild("stamped", "urn:example")).toBeDefined();
  });

  it("an outgoing hook that returns something other than an element (a counter's result) does not replace the stanza", async () => {
    const mock = await mockComponent<XmppEntity>();
    const stanzas = setupStanzas({ entity: mock.entity });
    const counted = { labelHash: "name:message" };
    stanzas.onOutgoing(() => counted as unknown as ReturnType<Parameters<typeof stanzas.onOutgoing>[0]>);
    await mock.entity.send(xml("message", { to: "a@b" }, xml("body", {}, "hi")));
    expect(mock.sent.map((s) => s.toString())).toEqual(['<message to="a@b" from="component.localhost"><body>hi</body></message>']);
  });

  it("an incoming hook that returns true stops the chain; one that returns an element replies", async () => {
    const mock = await mockComponent<XmppEntity>();
    const stanzas = setupStanzas({ entity: mock.entity });
    const later: string[] = [];
    stanzas.onIncoming((s) => (s.attrs.id === "eat" ? true : undefined));
    stanzas.onIncoming((s) => (s.attrs.id === "echo" ? xml("message", { to: s.attrs.from, id: "echoed" }) : undefined));
    stanzas.onIncoming((s) => void later.push(s.attrs.id));
    await mock.receive(xml("message", { id: "eat", from: "a@b" }));
    await mock.receive(xml("message", { id: "echo", from: "a@b" }));
    await mock.receive(xml("message", { id: "pass", from: "a@b" }));
    expect(later).toEqual(["pass"]);
    expect(mock.sent.map((s) => s.attrs.id)).toEqual(["echoed"]);
  });

  it("incoming hooks that answer at once and hooks that return promises run in order; only promises are awaited", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const { logger, lines } = captureLogger();
    const stanzas = setupStanzas({ entity: mock.entity, logger });
    const order: string[] = [];
    stanzas.onIncoming((s) => void order.push(`sync1 ${s.attrs.id}`));
    stanzas.onIncoming(async (s) => {
      for (let i = 0; i < 3; i++) await null; // a few microtasks: it answers later than the hooks around it would
      order.push(`async ${s.attrs.id}`);
      if (s.attrs.id === "eat") return true;
      if (s.attrs.id === "answer") return xml("message", { to: s.attrs.from, id: "answered" });
      if (s.attrs.id === "fail") throw new Error("async hook bug");
      return undefined;
    });
    stanzas.onIncoming((s) => void order.push(`sync2 ${s.attrs.id}`));
    for (const id of ["pass", "eat", "answer"]) await mock.receive(xml("message", { id, from: "a@localhost", to: "gateway.localhost" }));
    expect(order).toEqual(["sync1 pass", "async pass", "sync2 pass", "sync1 eat", "async eat", "sync1 answer", "async answer"]);
    expect(mock.sent.map((s) => s.attrs.id)).toEqual(["answered"]);
    // A promise that rejects is a failing hook like a throw: an IQ get is still answered.
    await mock.receive(xml("iq", { type: "get", id: "fail", from: "a@localhost/r", to: "gateway.localhost" }, xml("query", "urn:example")));
    expect(mock.sent.at(-1)!.attrs).toMatchObject({ type: "error", id: "fail" });
    expect(mock.sent.at(-1)!.getChild("error")!.getChild("internal-server-error")).toBeDefined();
    expect(lines().filter((l) => l.msg === "an incoming stanza hook failed")).toHaveLength(1);
  });

  it("writes of one event-loop turn leave together: the socket is corked at the first and uncorked on the next tick", async () => {
    for (const coalesceWrites of [true, false]) {
      const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
      const stanzas = setupStanzas({ entity: mock.entity }, { coalesceWrites });
      const socket = mock.entity.socket as Record<string, unknown>;
      const seen: string[] = [];
      const write = socket.write as (data: string, cb?: (err?: Error) => void) => void;
      Object.assign(socket, {
        cork: () => seen.push("cork"),
        uncork: () => seen.push("uncork"),
        write: (data: string, cb?: (err?: Error) => void) => {
          seen.push(`write ${/ id="(\w+)"/.exec(data)?.[1]}`);
          write(data, cb);
        },
      });
      await Promise.all(["a", "b", "c"].map((id) => stanzas.send(xml("message", { to: "u@localhost", id }))));
      await new Promise((r) => setImmediate(r)); // a later turn of the event loop
      await stanzas.send(xml("message", { to: "u@localhost", id: "later" }));
      await new Promise((r) => setImmediate(r));
      expect(seen).toEqual(
        coalesceWrites
          ? ["cork", "write a", "write b", "write c", "uncork", "cork", "write later", "uncork"]
          : ["write a", "write b", "write c", "write later"],
      );
      expect(mock.sent.map((el) => el.attrs.id)).toEqual(["a", "b", "c", "later"]);
    }
  });

  it("a component's stanza without `from` is sent from its domain, before the hooks see it; an explicit one is kept", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const stanzas = setupStanzas({ entity: mock.entity });
    const seenFrom: (string | undefined)[] = [];
    stanzas.onOutgoing((s) => void seenFrom.push(s.attrs.from));
    await stanzas.send(xml("message", { to: "alice@localhost" }));
    await stanzas.send(xml("presence", { to: "room@muc/nick", from: "bot@gateway.localhost" }));
    expect(seenFrom).toEqual(["gateway.localhost", "bot@gateway.localhost"]);
    expect(mock.sent.map((s) => s.attrs.from)).toEqual(["gateway.localhost", "bot@gateway.localhost"]);

    const client = await mockClient<XmppEntity>({ jid: "bot@localhost/r1" });
    await setupStanzas({ entity: client.entity }).send(xml("message", { to: "alice@localhost" }));
    expect(client.sent.at(-1)!.attrs.from).toBeUndefined(); // a client's server stamps it
  });

  it("is idempotent per entity", async () => {
    const mock = await mockComponent<XmppEntity>();
    expect(setupStanzas({ entity: mock.entity })).toBe(setupStanzas({ entity: mock.entity }));
  });

  it("deliver() runs a local stanza through the incoming hooks, the middleware and `stanza` listeners", async () => {
    const mock = await mockComponent<XmppEntity>();
    const stanzas = setupStanzas({ entity: mock.entity });
    const seen: string[] = [];
    stanzas.onIncoming((s) => void seen.push(`hook:${s.attrs.id}`));
    mock.entity.middleware.use((ctx, next) => {
      seen.push(`middleware:${ctx.stanza.attrs.id}`);
      return next();
    });
    mock.entity.on("stanza", (s: { attrs: { id: string } }) => seen.push(`listener:${s.attrs.id}`));
    stanzas.deliver(xml("presence", { id: "p1", type: "unavailable", from: "room@muc/nick", to: "component.localhost" }));
    await new Promise((r) => setImmediate(r));
    // As for a stanza from the socket: `stanza` listeners run synchronously, the async middleware chain after.
    expect(seen.sort()).toEqual(["hook:p1", "listener:p1", "middleware:p1"]);
    expect(mock.sent).toEqual([]);
  });

  it("refuses to write a stanza with a character XML 1.0 forbids, and one over the size limit; the link stays up", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const stanzas = setupStanzas({ entity: mock.entity }, { maxStanzaBytes: 10_000 });
    for (const bad of ["\u0007", "\u0000", "\u001B", "\uFFFE", "\uD800", "a\uDC00"]) {
      const err = await stanzas.send(xml("message", { to: "alice@localhost" }, xml("body", {}, `x${bad}y`))).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StanzaRefusedError);
      expect((err as StanzaRefusedError).reason).toBe("forbidden-character");
    }
    const big = await stanzas.send(xml("message", { to: "alice@localhost" }, xml("body", {}, "é".repeat(6000)))).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((big as StanzaRefusedError).reason).toBe("too-large");
    expect((big as Error).message).toMatch(
      /^refused to send <message to="alice@localhost" from="gateway.localhost">: 12\d{3} bytes is over the 10000-byte stanza limit/,
    );
    await stanzas.send(xml("message", { to: "alice@localhost" }, xml("body", {}, "tab\tnewline\n😀 fine")));
    expect(mock.sent).toHaveLength(1);
    expect(mock.entity.status).toBe("online");
  });

  it("an IQ reply the guard refuses becomes an error reply: the requester is still answered", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const stanzas = setupStanzas({ entity: mock.entity });
    const iq = setupIq({ entity: mock.entity, stanzas });
    iq.handle("get", "jabber:iq:version", "query", () => xml("query", "jabber:iq:version", xml("name", {}, "bad\u0007name")));
    await mock.receive(xml("iq", { type: "get", id: "v1", from: "u@localhost/r", to: "gateway.localhost" }, xml("query", "jabber:iq:version")));
    const reply = mock.sent.at(-1)!;
    expect(reply.attrs).toMatchObject({ type: "error", id: "v1", to: "u@localhost/r" });
    expect(reply.getChild("error")!.getChild("internal-server-error")).toBeDefined();
  });

  it("a deeply nested IQ payload (8,000 levels) is answered with an error that does not echo it", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    setupStanzas({ entity: mock.entity });
    let deep = xml("x");
    for (let i = 0; i < 8000; i++) deep = xml("x", {}, deep);
    await mock.receive(xml("iq", { type: "get", id: "deep", from: "u@localhost/r", to: "gateway.localhost" }, xml("query", "urn:example:unknown", deep)));
    const reply = mock.sent.at(-1)!;
    expect(reply.attrs).toMatchObject({ type: "error", id: "deep" });
    expect(reply.getChild("query")!.toString()).toBe('<query xmlns="urn:example:unknown"/>');
  });

  it("an incoming hook that throws is logged; an IQ it was handling gets internal-server-error; nothing reaches the entity's error event", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const { logger, lines } = captureLogger();
    const stanzas = setupStanzas({ entity: mock.entity, logger });
    const errors: unknown[] = [];
    mock.entity.on("error", (e: unknown) => errors.push(e));
    stanzas.onIncoming(() => {
      throw new Error("hook bug");
    });
    await mock.receive(xml("message", { from: "a@localhost", to: "gateway.localhost" }, xml("body", {}, "hi")));
    await mock.receive(xml("iq", { type: "get", id: "i1", from: "a@localhost/r", to: "gateway.localhost" }, xml("query", "urn:example")));
    expect(mock.sent.at(-1)!.getChild("error")!.getChild("internal-server-error")).toBeDefined();
    expect(lines().filter((l) => l.msg === "an incoming stanza hook failed")).toHaveLength(2);
    expect(errors).toEqual([]);
  });
});
