import { NS_DATA, NS_DISCO_INFO, NS_STANZAS, setupKit, xml, type Element, type XmppEntity } from "@xmppkit/core";
import { mockComponent } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import { SERVERINFO_FORM_TYPE } from "./contact-addresses.js";
import { createContactLookup, type ContactLookupOptions } from "./contact-lookup.js";

const info = (...fields: [string, string[]][]) =>
  xml(
    "query",
    NS_DISCO_INFO,
    xml("identity", { category: "server", type: "im" }),
    xml(
      "x",
      { xmlns: NS_DATA, type: "result" },
      xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, SERVERINFO_FORM_TYPE)),
      ...fields.map(([v, values]) => xml("field", { var: v }, ...values.map((x) => xml("value", {}, x)))),
    ),
  );
const isDisco = (to: string) => (s: Element) => s.name === "iq" && s.attrs.to === to && s.getChild("query", NS_DISCO_INFO) !== undefined;

async function setup(options: ContactLookupOptions = {}) {
  const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
  const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
  let t = 1_000_000; // not 0: lru-cache reads a start time of 0 as "no TTL"
  const lookup = createContactLookup(kit, { timeout: 200, ttl: 1000, now: () => t, ...options });
  return { mock, lookup, advance: (ms: number) => (t += ms) };
}

describe("the XEP-0157 origin lookup", () => {
  it("asks from the component's JID, prefers report-addresses, and caches for the TTL", async () => {
    const { mock, lookup, advance } = await setup();
    mock.replyToIq(
      isDisco("bad.example"),
      info(["abuse-addresses", ["xmpp:abuse@bad.example"]], ["report-addresses", ["mailto:r@bad.example", "xmpp:reports@bad.example"]]),
    );
    expect(await lookup.lookup("bad.example")).toEqual({ domain: "bad.example", address: "reports@bad.example", kind: "published", cached: false });
    expect(mock.sent.filter(isDisco("bad.example"))[0]!.attrs.from).toBe("gateway.localhost");
    expect(await lookup.lookup("bad.example")).toMatchObject({ address: "reports@bad.example", cached: true });
    expect(mock.sent.filter(isDisco("bad.example"))).toHaveLength(1);
    advance(1001);
    expect(await lookup.lookup("bad.example")).toMatchObject({ cached: false });
    expect(mock.sent.filter(isDisco("bad.example"))).toHaveLength(2);
  });

  it("one lookup in flight per domain", async () => {
    const { mock, lookup } = await setup();
    mock.replyToIq(isDisco("bad.example"), info(["abuse-addresses", ["xmpp:abuse@bad.example"]]));
    const all = await Promise.all([lookup.lookup("bad.example"), lookup.lookup("bad.example"), lookup.lookup("bad.example")]);
    expect(all.map((a) => a.address)).toEqual(["abuse@bad.example", "abuse@bad.example", "abuse@bad.example"]);
    expect(mock.sent.filter(isDisco("bad.example"))).toHaveLength(1);
  });

  it("no address published: the bare domain with the fallback, nothing without it", async () => {
    const a = await setup();
    a.mock.replyToIq(isDisco("quiet.example"), info(["abuse-addresses", ["mailto:abuse@quiet.example", "xmpp:abuse@quiet.example?message"]]));
    expect(await a.lookup.lookup("quiet.example")).toMatchObject({ address: "quiet.example", kind: "fallback" });
    const b = await setup({ fallback: false });
    b.mock.replyToIq(isDisco("quiet.example"), info());
    expect(await b.lookup.lookup("quiet.example")).toMatchObject({ address: undefined, kind: "none" });
  });

  it("an error reply or a timeout falls back too (the seed sent nothing), and is not cached", async () => {
    const { mock, lookup } = await setup();
    const off = mock.replyToIq(isDisco("down.example"), xml("error", { type: "cancel" }, xml("remote-server-not-found", NS_STANZAS)));
    expect(await lookup.lookup("down.example")).toMatchObject({ address: "down.example", kind: "fallback", error: "remote-server-not-found" });
    off();
    const timedOut = await lookup.lookup("down.example");
    expect(timedOut).toMatchObject({ address: "down.example", kind: "fallback", cached: false });
    expect(timedOut.error).toMatch(/no reply from down.example/);
    expect(lookup.size).toBe(0);
  });

  it("a TTL of 0 caches nothing: each lookup asks again", async () => {
    const { mock, lookup } = await setup({ ttl: 0 });
    mock.replyToIq(isDisco("bad.example"), info(["abuse-addresses", ["xmpp:abuse@bad.example"]]));
    expect(await lookup.lookup("bad.example")).toMatchObject({ address: "abuse@bad.example", cached: false });
    expect(await lookup.lookup("bad.example")).toMatchObject({ address: "abuse@bad.example", cached: false });
    expect(mock.sent.filter(isDisco("bad.example"))).toHaveLength(2);
    expect(lookup.size).toBe(0);
  });

  it("keeps at most cacheSize domains", async () => {
    const { mock, lookup } = await setup({ cacheSize: 2 });
    mock.replyToIq((s) => s.name === "iq" && s.getChild("query", NS_DISCO_INFO) !== undefined, info());
    for (const d of ["a.example", "b.example", "c.example"]) await lookup.lookup(d);
    expect(lookup.size).toBe(2);
    await lookup.lookup("a.example");
    expect(mock.sent.filter(isDisco("a.example"))).toHaveLength(2); // the oldest was evicted
  });
});
