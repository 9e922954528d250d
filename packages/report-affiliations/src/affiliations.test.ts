import { NS_DISCO_INFO, NS_FORWARD, NS_STANZAS, setupKit, xml, type Element, type Kit, type XmppEntity } from "@xmppkit/core";
import { mockClient, mockComponent, waitFor, type MockEntity } from "@xmppkit/testing";
import { afterEach, describe, expect, it } from "vitest";
import {
  setupReportAffiliations,
  queryAffiliation,
  embedKind,
  type ReportAffiliations,
  type ReportAffiliationsEvents,
  type ReportAffiliationsOptions,
} from "./affiliations.js";
import { staticSource } from "./affiliation-source.js";
import { NS_ACCOUNT_INFO, accountCreation } from "./account-info.js";
import { EMBED_FEATURES, NS_RAA } from "./info.js";

const GW = "gateway.localhost";
const NS_DELEGATION = "urn:xmpp:delegation:2";

/** The stanza sent with this id (replies go out while receive() runs, before a nextSent() could listen). */
async function sentWithId(mock: MockEntity<XmppEntity>, id: string): Promise<Element> {
  return waitFor(() => mock.sent.find((s) => s.attrs.id === id), `a stanza sent with id ${id}`, 30_000, 5);
}

let current: ReportAffiliations | undefined;
afterEach(() => current?.stop());

async function component(options: ReportAffiliationsOptions = {}) {
  const mock = await mockComponent<XmppEntity>({ domain: GW });
  const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
  const raa = setupReportAffiliations(kit, { trustedServers: ["rtbl.example"], source: staticSource({ admins: ["boss@localhost"] }), ...options });
  current = raa;
  const queried: ReportAffiliationsEvents["queried"][] = [];
  raa.on("queried", (q) => queried.push(q));
  mock.entity.emit("online", mock.entity.jid);
  await mock.receive(xml("message", { from: "localhost", to: GW }, xml("delegation", NS_DELEGATION, xml("delegated", { namespace: NS_RAA }))));
  return { mock, kit, raa, queried };
}

/** What the server forwards for `<iq type="get" from=requester to=user><query xmlns=raa/></iq>`; resolves with the inner reply. */
async function delegated(
  mock: MockEntity<XmppEntity>,
  requester: string,
  user: string,
  payload: Element = xml("query", NS_RAA),
  type = "get",
): Promise<Element> {
  const id = `d${Math.random().toString(36).slice(2)}`;
  await mock.receive(
    xml(
      "iq",
      { type: "set", from: "localhost", to: GW, id },
      xml("delegation", NS_DELEGATION, xml("forwarded", NS_FORWARD, xml("iq", { xmlns: "jabber:client", type, from: requester, to: user, id: "q1" }, payload))),
    ),
  );
  const outer = await sentWithId(mock, id);
  expect(outer.attrs.type).toBe("result");
  return outer.getChild("delegation", NS_DELEGATION)!.getChild("forwarded", NS_FORWARD)!.getChild("iq")!;
}

describe("XEP-0489 queries through delegation", () => {
  it("a trusted server gets <info/> as the IQ payload, from the user's JID", async () => {
    const { mock, queried } = await component();
    const inner = await delegated(mock, "rtbl.example", "alice@localhost");
    expect(inner.attrs).toMatchObject({ type: "result", from: "alice@localhost", to: "rtbl.example", id: "q1" });
    expect(inner.getChild("info", NS_RAA)!.attrs).toEqual({ xmlns: NS_RAA, affiliation: "registered", trust: "50" });
    expect((await delegated(mock, "rtbl.example/bot", "boss@localhost")).getChild("info", NS_RAA)!.attrs.affiliation).toBe("admin");
    expect(queried.map((q) => [q.requester, q.jid, q.outcome, q.affiliation])).toEqual([
      ["rtbl.example", "alice@localhost", "answered", "registered"],
      ["rtbl.example/bot", "boss@localhost", "answered", "admin"],
    ]);
  });

  it("anyone else gets forbidden (auth), a user of the trusted server too", async () => {
    const { mock, queried } = await component();
    for (const requester of ["bob@localhost/r1", "admin@rtbl.example", "other.example"]) {
      const inner = await delegated(mock, requester, "alice@localhost");
      expect(inner.attrs.type).toBe("error");
      expect(inner.getChild("error")!.attrs.type).toBe("auth");
      expect(inner.getChild("error")!.getChild("forbidden", NS_STANZAS)).toBeDefined();
      expect(inner.getChild("info", NS_RAA)).toBeUndefined();
    }
    expect(queried.map((q) => q.outcome)).toEqual(["forbidden", "forbidden", "forbidden"]);
  });

  it("an account nobody knows gets an answer of the same shape as any other", async () => {
    const { mock } = await component();
    const known = await delegated(mock, "rtbl.example", "alice@localhost");
    const unknown = await delegated(mock, "rtbl.example", "no-such-user@localhost");
    const shape = (e: Element) => e.toString().replace(/(from|to|id)="[^"]*"/g, "");
    expect(shape(unknown)).toBe(shape(known));
  });

  it("a source failure is internal-server-error for everyone alike, and the event says why", async () => {
    const { mock, queried } = await component({ source: async () => Promise.reject(new Error("db down")) });
    const inner = await delegated(mock, "rtbl.example", "alice@localhost");
    expect(inner.getChild("error")!.getChild("internal-server-error", NS_STANZAS)).toBeDefined();
    expect(queried[0]).toMatchObject({ outcome: "error", error: "db down" });
  });

  it("a set, or another payload, is bad-request", async () => {
    const { mock } = await component();
    const inner = await delegated(mock, "rtbl.example", "alice@localhost", xml("query", NS_RAA), "set");
    expect(inner.getChild("error")!.getChild("bad-request", NS_STANZAS)).toBeDefined();
  });

  it("the delegation disco nodes advertise urn:xmpp:raa:0 only, never embedding for the server's users", async () => {
    const { mock } = await component({ stamp: ["presence-sub", "presence-directed", "message"] });
    for (const node of [`${NS_DELEGATION}::${NS_RAA}`, `${NS_DELEGATION}:bare:${NS_RAA}`]) {
      await mock.receive(xml("iq", { type: "get", from: "localhost", to: GW, id: node }, xml("query", { xmlns: NS_DISCO_INFO, node })));
      const reply = await sentWithId(mock, node);
      expect(
        reply
          .getChild("query")!
          .getChildren("feature")
          .map((f) => f.attrs.var),
      ).toEqual([NS_RAA]);
    }
  });
});

describe("since from the server's account creation times", () => {
  const infoOf = async (mock: MockEntity<XmppEntity>, user: string) => (await delegated(mock, "rtbl.example", user)).getChild("info", NS_RAA)!.attrs;

  it("a registered account gets since, rounded to the UTC day; admins and members are not asked about", async () => {
    const asked: string[] = [];
    const accountCreated = async (jid: string) => {
      asked.push(jid);
      return new Date("2026-11-20T10:11:12Z");
    };
    const { mock } = await component({ accountCreated });
    expect(await infoOf(mock, "alice@localhost")).toEqual({ xmlns: NS_RAA, affiliation: "registered", since: "2026-11-20T00:00:00Z", trust: "50" });
    expect(await infoOf(mock, "boss@localhost")).toEqual({ xmlns: NS_RAA, affiliation: "admin" });
    expect(asked).toEqual(["alice@localhost"]);
  });

  it("the source's own since wins; an anonymous host is not asked; no date or a failure is an answer without since", async () => {
    const asked: string[] = [];
    const accountCreated = async (jid: string) => {
      asked.push(jid);
      if (jid.startsWith("gone@")) return undefined;
      throw new Error("link down");
    };
    const source = async (jid: string) => (jid.startsWith("carol@") ? { since: new Date("2024-05-06T07:08:09Z") } : undefined);
    const { mock } = await component({ accountCreated, source });
    expect((await infoOf(mock, "carol@localhost")).since).toBe("2024-05-06T00:00:00Z");
    expect(await infoOf(mock, "gone@localhost")).toEqual({ xmlns: NS_RAA, affiliation: "registered", trust: "50" });
    expect(await infoOf(mock, "alice@localhost")).toEqual({ xmlns: NS_RAA, affiliation: "registered", trust: "50" });
    expect(asked).toEqual(["gone@localhost", "alice@localhost"]);
    const anon = await component({ accountCreated, anonymousHost: true });
    expect(await infoOf(anon.mock, "guest@localhost")).toEqual({ xmlns: NS_RAA, affiliation: "anonymous", trust: "50" });
    expect(asked).toHaveLength(2);
  });

  it("with accountCreation(kit): the server is asked over XMPP, once per account", async () => {
    const mock = await mockComponent<XmppEntity>({ domain: GW });
    const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
    const created = accountCreation(kit);
    created.use("localhost", true);
    mock.replyToIq(
      (s) => !!s.getChild("query", NS_ACCOUNT_INFO),
      xml("query", NS_ACCOUNT_INFO, xml("account", { user: "alice", created: "2026-11-30T23:59:59Z" })),
    );
    const raa = setupReportAffiliations(kit, { trustedServers: ["rtbl.example"], accountCreated: created.created });
    current = raa;
    await mock.receive(xml("message", { from: "localhost", to: GW }, xml("delegation", NS_DELEGATION, xml("delegated", { namespace: NS_RAA }))));
    expect((await infoOf(mock, "alice@localhost")).since).toBe("2026-11-30T00:00:00Z");
    expect((await infoOf(mock, "alice@localhost")).since).toBe("2026-11-30T00:00:00Z");
    expect(mock.sent.filter((s) => s.getChild("query", NS_ACCOUNT_INFO))).toHaveLength(1);
  });
});

describe("the component's own JIDs", () => {
  it("answers queries to them directly, with its own affiliation", async () => {
    const { mock } = await component({ self: { affiliation: "admin" } });
    await mock.receive(xml("iq", { type: "get", from: "rtbl.example", to: `abuse@${GW}`, id: "o1" }, xml("query", NS_RAA)));
    const reply = await sentWithId(mock, "o1");
    expect(reply.attrs).toMatchObject({ type: "result", from: `abuse@${GW}` });
    expect(reply.getChild("info", NS_RAA)!.attrs.affiliation).toBe("admin");
    await mock.receive(xml("iq", { type: "get", from: "bob@localhost/x", to: GW, id: "o2" }, xml("query", NS_RAA)));
    expect((await sentWithId(mock, "o2")).attrs.type).toBe("error");
  });

  it("stamps subscription requests and directed presence, replacing any <info/> already there", async () => {
    const { mock, kit } = await component();
    await kit.stanzas.send(
      xml("presence", { type: "subscribe", from: `bot@${GW}`, to: "alice@localhost" }, xml("info", { xmlns: NS_RAA, affiliation: "admin" })),
    );
    await kit.stanzas.send(xml("presence", { from: GW, to: "room@conference.localhost/desk" }));
    await kit.stanzas.send(xml("presence", { from: GW })); // broadcast: not stamped (Prosody's module stamps it)
    await kit.stanzas.send(xml("message", { from: GW, to: "alice@localhost" }, xml("body", {}, "hi"))); // messages: not enabled
    const [sub, directed, broadcast, message] = mock.sent.filter((s) => s.name !== "iq" && s.attrs.to !== "localhost");
    expect(sub!.getChildren("info", NS_RAA).map((i) => i.attrs.affiliation)).toEqual(["member"]);
    expect(directed!.getChild("info", NS_RAA)).toBeDefined();
    expect(broadcast!.getChild("info", NS_RAA)).toBeUndefined();
    expect(message!.getChild("info", NS_RAA)).toBeUndefined();
  });

  it("messages when enabled, to non-contacts only; the disco says exactly what is stamped", async () => {
    const { mock, kit } = await component({ stamp: ["message"] });
    await kit.stanzas.send(xml("message", { from: `bot@${GW}`, to: "alice@localhost" }));
    await mock.receive(xml("presence", { type: "subscribed", from: "alice@localhost", to: `bot@${GW}` }));
    await kit.stanzas.send(xml("message", { from: `bot@${GW}`, to: "alice@localhost/phone" }));
    await kit.stanzas.send(xml("presence", { type: "subscribe", from: `bot@${GW}`, to: "carol@localhost" }));
    const [first, second, sub] = mock.sent.filter((s) => s.name !== "iq" && s.attrs.to !== "localhost");
    expect(first!.getChild("info", NS_RAA)).toBeDefined();
    expect(second!.getChild("info", NS_RAA)).toBeUndefined(); // alice approved our subscription: a contact
    expect(sub!.getChild("info", NS_RAA)).toBeUndefined();
    expect(kit.disco.info().features).toEqual(expect.arrayContaining([NS_RAA, EMBED_FEATURES.message]));
    expect(kit.disco.info().features).not.toContain(EMBED_FEATURES["presence-sub"]);
  });
});

describe("reading <info/> and asking for it", () => {
  const serverInfo = (...features: string[]) => xml("query", NS_DISCO_INFO, ...features.map((v) => xml("feature", { var: v })));

  it("believes <info/> only from a trusted server that advertises embedding for that stanza kind", async () => {
    const { mock, raa } = await component();
    mock.replyToIq((s) => s.attrs.to === "rtbl.example", serverInfo(NS_RAA, EMBED_FEATURES["presence-sub"]));
    const info = xml("info", { xmlns: NS_RAA, affiliation: "registered", since: "2024-11-22T00:00:00Z", trust: "40" });
    const sub = xml("presence", { type: "subscribe", from: "eve@rtbl.example", to: `bot@${GW}` }, info);
    expect(await raa.readInfo(sub)).toEqual({
      affiliation: "registered",
      since: new Date("2024-11-22T00:00:00Z"),
      trust: 40,
      server: "rtbl.example",
      kind: "presence-sub",
    });
    const msg = xml("message", { from: "eve@rtbl.example/x", to: `bot@${GW}` }, info);
    expect(await raa.readInfo(msg)).toBeUndefined(); // rtbl.example does not advertise #embed-message
    expect(await raa.readInfo(xml("presence", { type: "subscribe", from: "eve@elsewhere.example" }, info))).toBeUndefined();
    expect(
      await raa.readInfo(xml("presence", { type: "subscribe", from: "eve@rtbl.example" }, xml("info", { xmlns: NS_RAA, affiliation: "guest" }))),
    ).toBeUndefined();
    expect(mock.sent.filter((s) => s.attrs.to === "rtbl.example" && s.name === "iq")).toHaveLength(1); // features cached
  });

  it("queryAffiliation asks a user's server and reads the answer", async () => {
    const mock = await mockClient<XmppEntity>({ jid: "rtbl@localhost/bot" });
    const kit: Kit = setupKit(mock.entity, { ping: { interval: 0 } });
    mock.replyToIq((s) => s.attrs.to === "alice@example.org" && !!s.getChild("query", NS_RAA), xml("info", { xmlns: NS_RAA, affiliation: "member" }));
    expect(await queryAffiliation(kit, "alice@example.org")).toEqual({ affiliation: "member" });
    mock.replyToIq((s) => s.attrs.to === "bob@example.org", xml("error", { type: "auth" }, xml("forbidden", NS_STANZAS)));
    await expect(queryAffiliation(kit, "bob@example.org")).rejects.toMatchObject({ condition: "forbidden" });
  });

  it("embedKind", () => {
    expect(embedKind(xml("presence", { type: "subscribe", to: "a@b" }))).toBe("presence-sub");
    expect(embedKind(xml("presence", { to: "r@m/n" }))).toBe("presence-directed");
    expect(embedKind(xml("presence", {}))).toBeUndefined();
    expect(embedKind(xml("presence", { type: "unavailable", to: "r@m/n" }))).toBeUndefined();
    expect(embedKind(xml("message", { to: "a@b" }))).toBe("message");
    expect(embedKind(xml("message", { to: "b" }))).toBeUndefined();
    expect(embedKind(xml("message", { to: "r@m", type: "groupchat" }))).toBeUndefined();
  });
});
