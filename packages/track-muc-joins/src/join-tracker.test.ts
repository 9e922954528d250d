import { xml, type Element } from "@xmppkit/core";
import { beforeEach, describe, expect, it } from "vitest";
import { JoinTracker, NS_MUC, NS_MUC_USER } from "./join-tracker.js";

const ME = "bot@example.org/r1";
const ROOM = "room@conference.example.org";

const join = (nick: string) => xml("presence", { to: `${ROOM}/${nick}` }, xml("x", NS_MUC));
const self = (nick: string, codes: string[], attrs: Record<string, string> = {}, ...extra: Element[]) =>
  xml(
    "presence",
    { from: `${ROOM}/${nick}`, to: ME, ...attrs },
    xml("x", NS_MUC_USER, xml("item", { affiliation: "member", role: "participant" }, ...extra), ...codes.map((code) => xml("status", { code }))),
  );
const error = (nick: string, condition: string) =>
  xml(
    "presence",
    { from: `${ROOM}/${nick}`, to: ME, type: "error" },
    xml("x", NS_MUC),
    xml("error", { type: "cancel" }, xml(condition, "urn:ietf:params:xml:ns:xmpp-stanzas")),
  );

describe("JoinTracker: the XEP-0045 state machine", () => {
  let t: JoinTracker;
  beforeEach(() => {
    t = new JoinTracker();
  });

  const joined = (nick = "bot", codes = ["110"]) => {
    t.outgoing(join(nick), ME);
    return t.incoming(self(nick, codes));
  };

  it("join (110) and new room (201)", () => {
    expect(joined("bot", ["110", "201"])).toEqual([{ type: "joined", jid: ME, room: ROOM, nick: "bot", created: true, nickAssigned: false }]);
    expect(t.rooms(ME)).toEqual(new Map([[ROOM, "bot"]]));
    expect(t.nick(ME, ROOM)).toBe("bot");
  });

  it("a nick rewritten by the service on join (210) is tracked — the seed's known issue", () => {
    t.outgoing(join("Bot"), ME);
    expect(t.incoming(self("bot-2", ["110", "210"]))).toEqual([{ type: "joined", jid: ME, room: ROOM, nick: "bot-2", created: false, nickAssigned: true }]);
    expect(t.nick(ME, ROOM)).toBe("bot-2");
  });

  it("other occupants' presence and presence updates change nothing", () => {
    joined();
    expect(t.incoming(self("alice", []))).toEqual([]);
    expect(t.incoming(self("bot", ["110"]))).toEqual([]);
    expect(t.incoming(self("alice", [], { type: "unavailable" }))).toEqual([]);
    expect(t.nick(ME, ROOM)).toBe("bot");
  });

  it("nick change: 303 keeps the room, the new self-presence completes it", () => {
    joined();
    t.outgoing(xml("presence", { to: `${ROOM}/robot` }), ME);
    expect(t.incoming(self("bot", ["110", "303"], { type: "unavailable" }))).toEqual([]);
    expect(t.nick(ME, ROOM)).toBe("bot"); // still in the room during the rename
    expect(t.incoming(self("robot", ["110"]))).toEqual([{ type: "nick-changed", jid: ME, room: ROOM, from: "bot", to: "robot", nickAssigned: false }]);
    expect(t.rooms(ME)).toEqual(new Map([[ROOM, "robot"]]));
  });

  it("nick change rewritten by the service (303 then 110+210)", () => {
    joined();
    t.outgoing(xml("presence", { to: `${ROOM}/Robot` }), ME);
    const x303 = xml(
      "presence",
      { from: `${ROOM}/bot`, to: ME, type: "unavailable" },
      xml("x", NS_MUC_USER, xml("item", { nick: "robot" }), xml("status", { code: "303" }), xml("status", { code: "110" })),
    );
    expect(t.incoming(x303)).toEqual([]);
    expect(t.incoming(self("robot", ["110", "210"]))).toEqual([{ type: "nick-changed", jid: ME, room: ROOM, from: "bot", to: "robot", nickAssigned: true }]);
  });

  it("a refused rename keeps the old nick; a refused join is reported and forgotten", () => {
    joined();
    t.outgoing(xml("presence", { to: `${ROOM}/taken` }), ME);
    expect(t.incoming(error("taken", "conflict"))).toEqual([
      { type: "rename-failed", jid: ME, room: ROOM, nick: "bot", requestedNick: "taken", condition: "conflict" },
    ]);
    expect(t.nick(ME, ROOM)).toBe("bot");

    const other = "other@conference.example.org";
    t.outgoing(xml("presence", { to: `${other}/bot` }, xml("x", NS_MUC)), ME);
    const refused = xml(
      "presence",
      { from: `${other}/bot`, to: ME, type: "error" },
      xml(
        "error",
        { type: "auth" },
        xml("registration-required", "urn:ietf:params:xml:ns:xmpp-stanzas"),
        xml("text", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }, "members only"),
      ),
    );
    expect(t.incoming(refused)).toEqual([{ type: "join-failed", jid: ME, room: other, nick: "bot", condition: "registration-required", text: "members only" }]);
    expect(t.entries(ME).map((e) => e.room)).toEqual([ROOM]);
  });

  it("voluntary leave", () => {
    joined();
    t.outgoing(xml("presence", { to: `${ROOM}/bot`, type: "unavailable" }), ME);
    expect(t.incoming(self("bot", ["110"], { type: "unavailable" }))).toEqual([
      { type: "left", jid: ME, room: ROOM, nick: "bot", reason: { kind: "left", codes: ["110"] } },
    ]);
    expect(t.rooms(ME).size).toBe(0);
  });

  it.each([
    ["307", "kicked"],
    ["301", "banned"],
    ["321", "affiliation-changed"],
    ["322", "members-only"],
    ["332", "shutdown"],
    ["333", "error"],
  ])("removal with status %s → %s, with reason and actor", (code, kind) => {
    joined();
    const events = t.incoming(self("bot", ["110", code], { type: "unavailable" }, xml("actor", { nick: "owner" }), xml("reason", {}, "spam")));
    expect(events).toEqual([{ type: "left", jid: ME, room: ROOM, nick: "bot", reason: { kind, codes: ["110", code], reason: "spam", actor: "owner" } }]);
  });

  it("room destroyed, with or without 110", () => {
    const destroy = (codes: string[]) =>
      xml(
        "presence",
        { from: `${ROOM}/bot`, to: ME, type: "unavailable" },
        xml(
          "x",
          NS_MUC_USER,
          xml("item", { affiliation: "none", role: "none" }),
          xml("destroy", { jid: "new@conference.example.org" }, xml("reason", {}, "moved")),
          ...codes.map((code) => xml("status", { code })),
        ),
      );
    joined();
    expect(t.incoming(destroy([]))).toEqual([
      { type: "left", jid: ME, room: ROOM, nick: "bot", reason: { kind: "destroyed", codes: [], reason: "moved", alternate: "new@conference.example.org" } },
    ]);
    joined();
    expect(t.incoming(destroy(["110"]))[0]).toMatchObject({ type: "left", reason: { kind: "destroyed" } });
  });

  it("an unavailable from our occupant JID without 110 can be left alone (option)", () => {
    t = new JoinTracker({ unavailableWithout110EndsJoin: false });
    joined();
    expect(t.incoming(self("bot", [], { type: "unavailable" }))).toEqual([]);
    expect(t.nick(ME, ROOM)).toBe("bot");
  });

  it("a broadcast unavailable marks every room as leaving; the rooms' answers remove them", () => {
    joined();
    t.outgoing(xml("presence", { type: "unavailable" }), ME);
    expect(t.entries(ME)[0]!.state).toBe("leaving");
    expect(t.incoming(self("bot", ["110"], { type: "unavailable" }))[0]).toMatchObject({ type: "left", reason: { kind: "left" } });
  });

  it("a new stream without resumption ends every occupancy; nothing is left", () => {
    joined();
    expect(t.streamEnded(ME)).toEqual([{ type: "left", jid: ME, room: ROOM, nick: "bot", reason: { kind: "stream-ended", codes: [] } }]);
    expect(t.jids()).toEqual([]);
  });

  it("a self-presence (110) that no join of ours asked for changes nothing (a forger's, or one ejabberd forwards)", () => {
    expect(t.incoming(self("bot", ["110"]))).toEqual([]);
    expect(t.incoming(self("bot", ["110", "201"]))).toEqual([]);
    expect(t.jids()).toEqual([]);
  });

  it("in a room we hold, another occupant's 110 presence is not a nick change or a leave of ours", () => {
    joined();
    // ejabberd with presence=roster forwards alice's own room presence (110, 201) to the component.
    expect(t.incoming(self("alice", ["110", "201"]))).toEqual([]);
    expect(t.incoming(self("alice", ["110", "303"], { type: "unavailable" }))).toEqual([]);
    expect(t.incoming(self("alice", ["110", "307"], { type: "unavailable" }))).toEqual([]);
    expect(t.entries(ME)).toMatchObject([{ room: ROOM, nick: "bot", state: "joined" }]);
  });

  it("while joining, a 110 under another nick without 210 is not our answer", () => {
    t.outgoing(join("bot"), ME);
    expect(t.incoming(self("alice", ["110"]))).toEqual([]);
    expect(t.entries(ME)[0]!.state).toBe("joining");
    expect(t.incoming(self("bot", ["110"]))).toEqual([{ type: "joined", jid: ME, room: ROOM, nick: "bot", created: false, nickAssigned: false }]);
  });

  it("mayConcern() tells, from the raw address, whether a room with an entry may be meant: any case and resource", () => {
    expect(t.mayConcern(`${ROOM}/alice`)).toBe(false); // no entry at all
    t.outgoing(join("bot"), ME);
    expect(t.hasRoom(ROOM)).toBe(true);
    for (const from of [`${ROOM}/alice`, ROOM, `${ROOM}/Some One/with slash`, "Room@Conference.Example.ORG/x"]) expect(t.mayConcern(from)).toBe(true);
    for (const from of [undefined, "", "alice@example.org/phone", "other@conference.example.org/bot", "conference.example.org", "example.org"]) {
      expect(t.mayConcern(from)).toBe(false);
    }
    // A local part that XEP-0106 escaping changes cannot be judged on the string: a parse decides.
    expect(t.mayConcern("o'brien@conference.example.org/x")).toBe(true);
    expect(t.mayConcern("a\\5cb@conference.example.org/x")).toBe(true);
  });

  it("the room index follows every way an entry goes: error, leave, stream end; shared rooms count per local JID", () => {
    const OTHER = "bridge@example.org/b";
    joined();
    t.outgoing(join("bridge"), OTHER);
    t.incoming(xml("presence", { from: `${ROOM}/bridge`, to: OTHER }, xml("x", NS_MUC_USER, xml("status", { code: "110" }))));
    t.outgoing(xml("presence", { to: `${ROOM}/bot`, type: "unavailable" }), ME);
    t.incoming(self("bot", ["110"], { type: "unavailable" }));
    expect(t.jids()).toEqual([OTHER]);
    expect(t.mayConcern(`${ROOM}/x`)).toBe(true); // still OTHER's
    expect(t.streamEnded(OTHER)).toHaveLength(1);
    expect(t.mayConcern(`${ROOM}/x`)).toBe(false);
    expect(t.hasRoom(ROOM)).toBe(false);

    t.outgoing(join("bot"), ME);
    expect(t.incoming(error("bot", "not-authorized"))).toMatchObject([{ type: "join-failed" }]);
    expect(t.mayConcern(`${ROOM}/x`)).toBe(false);
  });

  it("touchNormalized() updates lastSeen for normalised addresses; touch() normalises first", () => {
    let now = 1000;
    const timed = new JoinTracker({}, () => now);
    timed.outgoing(join("bot"), ME);
    timed.incoming(self("bot", ["110"]));
    now = 2000;
    timed.touchNormalized(ME, ROOM);
    expect(timed.entry(ME, ROOM)!.lastSeen).toBe(2000);
    now = 3000;
    timed.touchNormalized(ME, "Room@conference.example.org"); // not normalised: no entry by that key
    expect(timed.entry(ME, ROOM)!.lastSeen).toBe(2000);
    timed.touch("BOT@example.org/r1", "Room@Conference.example.org");
    expect(timed.entry(ME, ROOM)!.lastSeen).toBe(3000);
  });
});
