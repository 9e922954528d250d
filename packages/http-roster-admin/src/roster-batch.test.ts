import { NS_ROSTER, setupKit, xml, type Element, type Kit, type XmppEntity } from "@xmppkit/core";
import { mockComponent, type MockEntity } from "@xmppkit/testing";
import { beforeEach, describe, expect, it } from "vitest";
import { privilegedRoster } from "./roster-access.js";
import {
  NS_ROSTER_BATCH,
  rosterBatchElement,
  rosterBatchOutcomes,
  rosterReplaceElement,
  rosterReplaceResult,
  supportsRosterBatch,
  type RosterEdit,
} from "./roster-batch.js";

const GW = "gateway.localhost";
const edits: RosterEdit[] = [
  { item: { jid: "a@example.com", name: "A", subscription: "both", groups: ["G"] }, change: "add" },
  { item: { jid: "b@example.com", groups: [] }, change: "remove" },
  { item: { jid: "c@example.com/res", groups: [] }, change: "change" },
];
const isBatch = (s: Element) => s.name === "iq" && !!s.getChild("query", NS_ROSTER_BATCH);
const isRosterSet = (s: Element) => s.name === "iq" && s.attrs.type === "set" && !!s.getChild("query", NS_ROSTER);
const stanzaError = (condition: string) => xml("error", { type: "cancel" }, xml(condition, "urn:ietf:params:xml:ns:xmpp-stanzas"));

/** A component online, with the roster grant announced by the server. */
async function grantedComponent(): Promise<{ mock: MockEntity<XmppEntity>; kit: Kit }> {
  const mock = await mockComponent<XmppEntity>({ domain: GW });
  const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
  mock.entity.emit("online", mock.entity.jid);
  await mock.receive(xml("message", { from: "localhost", to: GW }, xml("privilege", "urn:xmpp:privilege:2", xml("perm", { access: "roster", type: "both" }))));
  return { mock, kit };
}

describe("the roster batch protocol", () => {
  it("one <query/> in the batch namespace, one item per edit, a removal as subscription remove", () => {
    const el = rosterBatchElement(edits);
    expect(el.attrs.xmlns).toBe(NS_ROSTER_BATCH);
    expect(el.getChildren("item").map((i) => i.attrs)).toEqual([
      { jid: "a@example.com", name: "A", subscription: "both" },
      { jid: "b@example.com", subscription: "remove" },
      { jid: "c@example.com/res" },
    ]);
    expect(el.getChildren("item")[0]!.getChildText("group")).toBe("G");
  });

  it("the reply's refused items become per-edit errors; an empty result means all applied", () => {
    const reply = xml(
      "query",
      NS_ROSTER_BATCH,
      xml("item", { jid: "a@example.com", change: "add" }),
      xml("item", { jid: "c@example.com/res", error: "bad-request" }),
    );
    const outcomes = rosterBatchOutcomes(edits, reply);
    expect(outcomes.map((o) => o?.condition)).toEqual([undefined, undefined, "bad-request"]);
    expect(rosterBatchOutcomes(edits, undefined)).toEqual([undefined, undefined, undefined]);
  });
});

describe("privilegedRoster with batches", () => {
  let mock: MockEntity<XmppEntity>;
  let kit: Kit;

  beforeEach(async () => {
    ({ mock, kit } = await grantedComponent());
  });

  it("finds the feature on the server's disco#info", async () => {
    const remove = mock.replyToIq(
      (s) => s.attrs.to === "localhost" && !!s.getChild("query", "http://jabber.org/protocol/disco#info"),
      xml("query", "http://jabber.org/protocol/disco#info", xml("feature", { var: NS_ROSTER_BATCH })),
    );
    expect(await supportsRosterBatch(kit.iq, "localhost")).toBe(true);
    remove();
    mock.replyToIq(() => true, xml("query", "http://jabber.org/protocol/disco#info", xml("feature", { var: "urn:xmpp:ping" })));
    expect(await supportsRosterBatch(kit.iq, "localhost")).toBe(false);
  });

  it("sends one set to the user's bare JID once batching is on, and one set per edit before", async () => {
    const roster = privilegedRoster({ privilege: kit.privilege, iq: kit.iq }, { server: "localhost" });
    mock.replyToIq(isRosterSet, true);
    mock.replyToIq(isBatch, xml("query", NS_ROSTER_BATCH, xml("item", { jid: "c@example.com/res", error: "bad-request" })));
    expect(roster.batchSize).toBe(0);
    expect(await roster.setMany!("alice@localhost", edits.slice(0, 2))).toEqual([undefined, undefined]);
    expect(mock.sent.filter(isRosterSet)).toHaveLength(2);

    roster.useBatch(true);
    expect(roster.batchSize).toBe(250);
    const outcomes = await roster.setMany!("alice@localhost", edits);
    expect(outcomes.map((o) => (o as { condition?: string } | undefined)?.condition)).toEqual([undefined, undefined, "bad-request"]);
    const batches = mock.sent.filter(isBatch);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.attrs).toMatchObject({ type: "set", to: "alice@localhost" });
    expect(mock.sent.filter(isRosterSet)).toHaveLength(2);
  });

  it("falls back to per-edit sets, and stops batching, when the server no longer knows the batch (module unloaded)", async () => {
    const roster = privilegedRoster({ privilege: kit.privilege, iq: kit.iq }, { server: "localhost", batchSize: 50 });
    roster.useBatch(true);
    mock.replyToIq(isBatch, stanzaError("service-unavailable"));
    mock.replyToIq(isRosterSet, true);
    expect(await roster.setMany!("alice@localhost", edits.slice(0, 2))).toEqual([undefined, undefined]);
    expect(mock.sent.filter(isRosterSet)).toHaveLength(2);
    expect(roster.batchSize).toBe(0);
  });

  it("a whole-set failure (storage error) fails every edit of the set, and sends nothing else", async () => {
    const roster = privilegedRoster({ privilege: kit.privilege, iq: kit.iq }, { server: "localhost" });
    roster.useBatch(true);
    mock.replyToIq(isBatch, xml("error", { type: "wait" }, xml("internal-server-error", "urn:ietf:params:xml:ns:xmpp-stanzas")));
    const outcomes = await roster.setMany!("alice@localhost", edits.slice(0, 2));
    expect(outcomes.map((o) => (o as { condition?: string }).condition)).toEqual(["internal-server-error", "internal-server-error"]);
    expect(mock.sent.filter(isRosterSet)).toHaveLength(0);
    expect(roster.batchSize).toBe(250);
  });
});

describe("replacing a whole roster in one request", () => {
  let mock: MockEntity<XmppEntity>;
  let kit: Kit;
  const items = [
    { jid: "a@example.com", name: "A", subscription: "both" as const, groups: ["G"] },
    { jid: "b@example.com", groups: [] },
  ];

  beforeEach(async () => {
    ({ mock, kit } = await grantedComponent());
  });

  it("the payload says replace; the reply's changes, refusals and the unchanged count are read", () => {
    const el = rosterReplaceElement(items);
    expect(el.attrs).toEqual({ xmlns: NS_ROSTER_BATCH, replace: "true" });
    expect(el.getChildren("item").map((i) => i.attrs.jid)).toEqual(["a@example.com", "b@example.com"]);
    const reply = xml(
      "query",
      { xmlns: NS_ROSTER_BATCH, unchanged: "3" },
      xml("item", { jid: "a@example.com", change: "add" }),
      xml("item", { jid: "z@example.com", change: "remove" }),
      xml("item", { jid: "bad@example.com/x", error: "bad-request" }),
    );
    expect(rosterReplaceResult(reply)).toEqual({
      applied: [
        { jid: "a@example.com", change: "add" },
        { jid: "z@example.com", change: "remove" },
      ],
      refused: [{ jid: "bad@example.com/x", error: "bad-request" }],
      added: 1,
      changed: 0,
      removed: 1,
      unchanged: 3,
    });
    // A module that counts names the changes only beside a refusal.
    const counted = xml("query", { xmlns: NS_ROSTER_BATCH, added: "4", changed: "2", removed: "1", unchanged: "3", ver: "id:9" });
    expect(rosterReplaceResult(counted)).toEqual({ applied: [], refused: [], added: 4, changed: 2, removed: 1, unchanged: 3, ver: "id:9" });
  });

  it("is not tried before the feature is found, nor for more items than the module takes; a policy-violation falls back", async () => {
    const roster = privilegedRoster({ privilege: kit.privilege, iq: kit.iq }, { server: "localhost" });
    expect(await roster.replace!("alice@localhost", items)).toBeUndefined();
    roster.useBatch(true);
    const many = Array.from({ length: 1001 }, (_, i) => ({ jid: `m${i}@example.com`, groups: [] }));
    expect(await roster.replace!("alice@localhost", many)).toBeUndefined();
    expect(mock.sent.filter(isBatch)).toEqual([]);

    const off = mock.replyToIq(isBatch, stanzaError("policy-violation"));
    expect(await roster.replace!("alice@localhost", items)).toBeUndefined();
    expect(roster.batchSize).toBe(250); // a smaller roster_batch_max_items: the next user may fit
    off();
    mock.replyToIq(isBatch, xml("query", { xmlns: NS_ROSTER_BATCH, unchanged: "2" }));
    expect(await roster.replace!("alice@localhost", items)).toEqual({ applied: [], refused: [], added: 0, changed: 0, removed: 0, unchanged: 2 });
  });
});
