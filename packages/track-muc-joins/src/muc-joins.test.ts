import { parseJid, setupKit, xml, type Element, type Kit, type XmppEntity } from "@xmppkit/core";
import { fakeTime, mockClient, mockComponent, type MockEntity } from "@xmppkit/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MucJoinError, MucTimeoutError, NS_MUC_OWNER } from "./join-room.js";
import { NS_MUC, NS_MUC_USER } from "./join-tracker.js";
import { setupMucJoins, type MucJoins } from "./muc-joins.js";

// Fake timers file-wide: join timeouts and rejoin backoff pass in fake time, not in sleeps that race them.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
});
afterEach(() => {
  vi.useRealTimers();
});
const { sleep, settle } = fakeTime(vi);

const ME = "bot@localhost/r1";
const ROOM = "room@conference.localhost";

const selfPresence = (to: string, nick: string, codes: string[], attrs: Record<string, string> = {}, ...extra: Element[]) =>
  xml(
    "presence",
    { from: `${ROOM}/${nick}`, to, ...attrs },
    xml(
      "x",
      NS_MUC_USER,
      xml("item", { affiliation: "member", role: attrs.type === "unavailable" ? "none" : "participant" }, ...extra),
      ...codes.map((code) => xml("status", { code })),
    ),
  );
/** The first stanza sent that matches and was not taken yet, waiting for it if need be. */
const taken = new WeakSet<Element>();
async function sentOnce(mock: MockEntity<XmppEntity>, match: (s: Element) => boolean, timeoutMs = 2000): Promise<Element> {
  const already = mock.sent.find((s) => !taken.has(s) && match(s));
  const el =
    already ??
    (await settle(
      mock.nextSent((s) => !taken.has(s) && match(s), timeoutMs),
      timeoutMs,
    ));
  taken.add(el);
  return el;
}
const isJoinTo = (nick: string) => (s: Element) => s.name === "presence" && s.attrs.to === `${ROOM}/${nick}` && !s.attrs.type && !!s.getChild("x", NS_MUC);

describe("setupMucJoins in a client", () => {
  let mock: MockEntity<XmppEntity>;
  let kit: Kit;
  let joins: MucJoins;

  beforeEach(async () => {
    mock = await mockClient<XmppEntity>({ jid: ME });
    kit = setupKit(mock.entity, { ping: { interval: 0 } });
    joins = setupMucJoins(kit, { joinTimeout: 500, rejoinBackoff: { initial: 20, max: 40, jitter: 0 } });
    mock.entity.emit("online", mock.entity.jid);
  });
  afterEach(() => joins.stop());

  it("join() sends the join presence with password and history, and resolves on the self-presence", async () => {
    const joining = joins.join(ROOM, { nick: "bot", password: "s3cret", history: { maxstanzas: 0, since: "2026-11-21T10:00:00.000Z" } });
    const sent = await sentOnce(mock, isJoinTo("bot"));
    expect(sent.attrs.from).toBeUndefined();
    const x = sent.getChild("x", NS_MUC)!;
    expect(x.getChildText("password")).toBe("s3cret");
    expect(x.getChild("history")!.attrs).toEqual({ maxstanzas: "0", since: "2026-11-21T10:00:00Z" });
    expect(joins.entries()[0]).toMatchObject({ room: ROOM, state: "joining" });
    await mock.receive(selfPresence(ME, "bot", ["110", "100"]));
    await expect(joining).resolves.toMatchObject({ room: ROOM, nick: "bot", created: false, nickAssigned: false, locked: false, codes: ["110", "100"] });
    expect(joins.rooms()).toEqual(new Map([[ROOM, "bot"]]));
    expect(joins.roomsJoined()).toEqual({ [ROOM]: "bot" });
    expect(Object.isFrozen(joins.roomsJoined())).toBe(true);
    expect(joins.tracker.password(ME, ROOM)).toBe("s3cret");
    expect(JSON.stringify(joins.entries())).not.toContain("s3cret");
  });

  it("join() of a new room (201) accepts the instant-room form; a nick the service assigns (210) is reported", async () => {
    mock.replyToIq((s) => s.getChild("query", NS_MUC_OWNER) !== undefined, true);
    const joining = joins.join(ROOM, { nick: "Bot" });
    await sentOnce(mock, isJoinTo("Bot"));
    await mock.receive(selfPresence(ME, "bot-1", ["110", "201", "210"]));
    const joined = await joining;
    expect(joined).toMatchObject({ nick: "bot-1", created: true, nickAssigned: true, locked: false });
    const form = mock.sent.find((s) => s.name === "iq")!;
    expect(form.attrs).toMatchObject({ type: "set", to: ROOM });
    expect(form.getChild("query", NS_MUC_OWNER)!.getChild("x", "jabber:x:data")!.attrs.type).toBe("submit");
    expect(joins.nick(ROOM)).toBe("bot-1");
  });

  it("join() rejects with the room's error (wrong password) and forgets the room; a silent room times out", async () => {
    const failed = vi.fn();
    joins.on("join-failed", failed);
    const joining = joins.join(ROOM, { nick: "bot", password: "wrong" }).catch((e: unknown) => e);
    await sentOnce(mock, isJoinTo("bot"));
    await mock.receive(
      xml(
        "presence",
        { from: `${ROOM}/bot`, to: ME, type: "error" },
        xml("x", NS_MUC),
        xml("error", { type: "auth" }, xml("not-authorized", "urn:ietf:params:xml:ns:xmpp-stanzas")),
      ),
    );
    const err = await joining;
    expect(err).toBeInstanceOf(MucJoinError);
    expect(err).toMatchObject({ condition: "not-authorized", room: ROOM, nick: "bot" });
    expect(failed).toHaveBeenCalledWith({ jid: ME, room: ROOM, nick: "bot", condition: "not-authorized" });
    expect(joins.entries()).toEqual([]);

    await expect(settle(joins.join("quiet@conference.localhost", { nick: "bot", timeout: 30 }))).rejects.toBeInstanceOf(MucTimeoutError);
  });

  it("join() refuses a full JID or a bare domain as the room", async () => {
    await expect(joins.join(`${ROOM}/nick`, { nick: "bot" })).rejects.toThrow(/not a room address/);
    await expect(joins.join("conference.localhost", { nick: "bot" })).rejects.toThrow(/not a room address/);
    await expect(joins.join(ROOM, { nick: "" })).rejects.toThrow(/nick is required/);
  });

  it("leave() sends unavailable to room/nick and resolves with the room's confirmation", async () => {
    const joining = joins.join(ROOM, { nick: "bot" });
    await sentOnce(mock, isJoinTo("bot"));
    await mock.receive(selfPresence(ME, "bot", ["110"]));
    await joining;
    const leaving = joins.leave(ROOM, { status: "bye" });
    const sent = await sentOnce(mock, (s) => s.attrs.type === "unavailable");
    expect(sent.attrs.to).toBe(`${ROOM}/bot`);
    expect(sent.getChildText("status")).toBe("bye");
    await mock.receive(selfPresence(ME, "bot", ["110"], { type: "unavailable" }));
    await expect(leaving).resolves.toEqual({ kind: "left", codes: ["110"] });
    expect(joins.rooms().size).toBe(0);
    await expect(joins.leave(ROOM)).resolves.toBeUndefined();
  });

  it("joins made by hand (not through join()) are tracked too, and stanzas from the room update lastSeen", async () => {
    await mock.entity.send(xml("presence", { to: `${ROOM}/hand` }, xml("x", NS_MUC)));
    await mock.receive(selfPresence(ME, "hand", ["110"]));
    expect(joins.nick(ROOM)).toBe("hand");
    const before = joins.entries()[0]!.lastSeen;
    await sleep(5);
    await mock.receive(xml("message", { from: `${ROOM}/alice`, to: ME, type: "groupchat" }, xml("body", {}, "hi")));
    expect(joins.entries()[0]!.lastSeen).toBeGreaterThan(before);
  });

  it("a new stream without resumption ends every occupancy; a resumed one keeps them", async () => {
    await mock.entity.send(xml("presence", { to: `${ROOM}/bot` }, xml("x", NS_MUC)));
    await mock.receive(selfPresence(ME, "bot", ["110"]));
    const left = vi.fn();
    joins.on("left", left);
    (mock.entity as unknown as { streamManagement: { emit(e: string): void } }).streamManagement?.emit?.("resumed");
    expect(joins.rooms().size).toBe(1);
    mock.entity.emit("online", mock.entity.jid);
    expect(left).toHaveBeenCalledWith({ jid: ME, room: ROOM, nick: "bot", reason: { kind: "stream-ended", codes: [] } });
    expect(joins.rooms().size).toBe(0);
  });

  it("a kept room is rejoined on a new stream even when the server assigned a new resource", async () => {
    joins.keep(ROOM, { nick: "bot" });
    await sentOnce(mock, isJoinTo("bot"));
    await mock.receive(selfPresence(ME, "bot", ["110"]));
    const NEW = "bot@localhost/server-assigned-2";
    (mock.entity as unknown as { jid: unknown }).jid = parseJid(NEW);
    mock.entity.emit("online", mock.entity.jid);
    await sentOnce(mock, isJoinTo("bot"));
    await mock.receive(selfPresence(NEW, "bot", ["110"]));
    await sleep(700); // longer than joinTimeout: a join waiting on the old JID would retry
    expect(joins.rooms()).toEqual(new Map([[ROOM, "bot"]]));
    expect(joins.jids()).toEqual([NEW]);
    expect(mock.sent.filter(isJoinTo("bot"))).toHaveLength(2); // no retry loop on the old JID
  });

  it("rejoin() reuses the nick and password of the last join and asks for the history since the last stanza", async () => {
    await mock.entity.send(xml("presence", { to: `${ROOM}/bot` }, xml("x", NS_MUC, xml("password", {}, "pw"))));
    await mock.receive(selfPresence(ME, "bot", ["110"]));
    await mock.receive(selfPresence(ME, "bot", ["110", "333"], { type: "unavailable" }));
    mock.clear();
    joins.rejoin(ROOM);
    joins.rejoin(ROOM); // one rejoin at a time
    const sent = await sentOnce(mock, isJoinTo("bot"));
    const x = sent.getChild("x", NS_MUC)!;
    expect(x.getChildText("password")).toBe("pw");
    expect(x.getChild("history")!.attrs.since).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await mock.receive(selfPresence(ME, "bot", ["110"]));
    expect(mock.sent.filter(isJoinTo("bot"))).toHaveLength(1);
    expect(joins.nick(ROOM)).toBe("bot");
  });

  it("a rejoin retries with backoff, and gives up on a permanent error (banned) for a room that is not kept", async () => {
    await mock.entity.send(xml("presence", { to: `${ROOM}/bot` }, xml("x", NS_MUC)));
    await mock.receive(selfPresence(ME, "bot", ["110"]));
    await mock.receive(selfPresence(ME, "bot", ["110", "333"], { type: "unavailable" }));
    mock.clear();
    const failures: { attempt: number; retryInMs?: number; condition?: string }[] = [];
    joins.on("rejoin-failed", (e) => failures.push({ attempt: e.attempt, retryInMs: e.retryInMs, condition: (e.error as MucJoinError).condition }));
    const errorReply = (condition: string) =>
      xml(
        "presence",
        { from: `${ROOM}/bot`, to: ME, type: "error" },
        xml("x", NS_MUC),
        xml("error", { type: "cancel" }, xml(condition, "urn:ietf:params:xml:ns:xmpp-stanzas")),
      );
    joins.rejoin(ROOM);
    await sentOnce(mock, isJoinTo("bot"));
    await mock.receive(errorReply("service-unavailable")); // room full: try again
    await sentOnce(mock, isJoinTo("bot"), 1000);
    await mock.receive(errorReply("forbidden"));
    await sleep(100);
    expect(failures).toEqual([
      { attempt: 1, retryInMs: 20, condition: "service-unavailable" },
      { attempt: 2, condition: "forbidden", retryInMs: undefined },
    ]);
    expect(mock.sent.filter(isJoinTo("bot"))).toHaveLength(2);
  });
});

describe("setupMucJoins in a component", () => {
  let mock: MockEntity<XmppEntity>;
  let kit: Kit;
  let joins: MucJoins;
  const GW = "gateway.localhost";

  beforeEach(async () => {
    mock = await mockComponent<XmppEntity>({ domain: GW });
    kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
    joins = setupMucJoins(kit, { joinTimeout: 500, rejoinBackoff: { initial: 20, max: 40, jitter: 0 } });
    mock.entity.emit("online", mock.entity.jid);
  });
  afterEach(() => joins.stop());

  it("forged self-presence from a plain user records nothing: 2,000 of them leave no entry and no rejoin", async () => {
    // Seated in one room, so the tracker looks at every incoming presence (with no room it skips them all).
    const joining = joins.join(ROOM, { nick: "abuse-desk" });
    await sentOnce(mock, isJoinTo("abuse-desk"));
    await mock.receive(selfPresence(GW, "abuse-desk", ["110"]));
    await joining;
    for (let i = 0; i < 2000; i++) {
      await mock.receive(xml("presence", { from: "mallory@localhost/x", to: `n${i}@${GW}` }, xml("x", NS_MUC_USER, xml("status", { code: "110" }))));
    }
    expect(joins.jids()).toEqual([GW]);
    expect(joins.entries().map((e) => e.room)).toEqual([ROOM]);
  });

  it("the hot path: stanzas from no tracked room are skipped untouched; a tracked room's (any case) update lastSeen", async () => {
    const joining = joins.join(ROOM, { nick: "abuse-desk" });
    await sentOnce(mock, isJoinTo("abuse-desk"));
    await mock.receive(selfPresence(GW, "abuse-desk", ["110"]));
    await joining;
    const touched = vi.spyOn(joins.tracker, "touchNormalized");
    const looked = vi.spyOn(joins.tracker, "entry");
    const seen = () => joins.entries()[0]!.lastSeen;
    const before = seen();
    await sleep(5);
    // A user's IQ, another room's message and presence, the MUC service itself: nothing looked up.
    await mock.receive(xml("iq", { from: "alice@localhost/phone", to: GW, type: "get", id: "d1" }, xml("query", "http://jabber.org/protocol/disco#info")));
    await mock.receive(xml("message", { from: "other@conference.localhost/bob", to: GW, type: "groupchat" }, xml("body", {}, "hi")));
    await mock.receive(selfPresence(GW, "abuse-desk", ["110"], { from: "other@conference.localhost/abuse-desk" }));
    await mock.receive(xml("message", { from: "conference.localhost", to: GW }, xml("body", {}, "service")));
    expect(touched).not.toHaveBeenCalled();
    expect(looked).not.toHaveBeenCalled();
    expect(seen()).toBe(before);
    expect(joins.entries().map((e) => e.room)).toEqual([ROOM]);
    // The tracked room, as the server may spell it: lastSeen moves; an error from it is no sign of life.
    await mock.receive(xml("message", { from: "room@conference.localhost/alice", to: GW, type: "error" }, xml("error", { type: "cancel" })));
    expect(seen()).toBe(before);
    await mock.receive(xml("message", { from: "Room@Conference.LOCALHOST/alice", to: GW.toUpperCase(), type: "groupchat" }, xml("body", {}, "hi")));
    expect(touched).toHaveBeenCalledWith(GW, ROOM);
    expect(seen()).toBeGreaterThan(before);
  });

  it("forged room presence for a tracked room to a JID of ours that holds no seat there changes nothing", async () => {
    const joining = joins.join(ROOM, { nick: "abuse-desk" });
    await sentOnce(mock, isJoinTo("abuse-desk"));
    await mock.receive(selfPresence(GW, "abuse-desk", ["110"]));
    await joining;
    // Past the fast path (the room is tracked), the state machine still believes only our own seats.
    await mock.receive(selfPresence(`n1@${GW}`, "abuse-desk", ["110", "201"]));
    await mock.receive(selfPresence(`n1@${GW}`, "abuse-desk", ["110", "307"], { type: "unavailable" }));
    await mock.receive(selfPresence(GW, "mallory", ["110", "307"], { type: "unavailable" }));
    // An escaped-looking local part takes the parsing path, and is no room of ours either.
    await mock.receive(xml("presence", { from: "o'room@conference.localhost/abuse-desk", to: GW }, xml("x", NS_MUC_USER, xml("status", { code: "110" }))));
    expect(joins.jids()).toEqual([GW]);
    expect(joins.entries()).toMatchObject([{ room: ROOM, nick: "abuse-desk", state: "joined" }]);
  });

  it("a user's own room presence forwarded by the server (ejabberd, presence=roster) never changes the gateway's seat", async () => {
    const joining = joins.join(ROOM, { nick: "abuse-desk" });
    await sentOnce(mock, isJoinTo("abuse-desk"));
    // alice's own self-presence for the same room arrives, addressed to the component's domain
    await mock.receive(selfPresence(GW, "alice", ["110", "201"]));
    expect(joins.entries()[0]).toMatchObject({ state: "joining" });
    await mock.receive(selfPresence(GW, "abuse-desk", ["110"]));
    await expect(joining).resolves.toMatchObject({ nick: "abuse-desk" });
    await mock.receive(selfPresence(GW, "alice", ["110", "303"], { type: "unavailable" }));
    await mock.receive(selfPresence(GW, "alice", ["110"], { type: "unavailable" }));
    expect(joins.rooms()).toEqual(new Map([[ROOM, "abuse-desk"]]));
    expect(joins.entries()[0]).toMatchObject({ state: "joined", nick: "abuse-desk" });
  });

  it("a leave or join waiting for the room ends at once when the link drops (a shutdown while the server goes away)", async () => {
    const joining = joins.join(ROOM, { nick: "desk", timeout: 30_000 });
    await sentOnce(mock, isJoinTo("desk"));
    await mock.receive(selfPresence(GW, "desk", ["110"]));
    await joining;
    const leaving = joins.leave(ROOM, { timeout: 30_000 });
    const other = joins.join("other@conference.localhost", { nick: "desk", timeout: 30_000 }).then(
      () => "joined",
      (e: Error) => e.message,
    );
    mock.dropLink();
    expect(await leaving).toEqual({ kind: "stream-ended", codes: [] });
    expect(await other).toMatch(/^the link to the server dropped before the room answered/);
  });

  it("tracks each JID of the domain separately, and sends from it", async () => {
    const a = joins.join(ROOM, { nick: "alice-bridge", from: `alice@${GW}/matrix` });
    const b = joins.join(ROOM, { nick: "abuse-desk" });
    const sentA = await sentOnce(mock, isJoinTo("alice-bridge"));
    expect(sentA.attrs.from).toBe(`alice@${GW}/matrix`);
    expect((await sentOnce(mock, isJoinTo("abuse-desk"))).attrs.from).toBe(GW);
    await mock.receive(selfPresence(`alice@${GW}/matrix`, "alice-bridge", ["110"]));
    await mock.receive(selfPresence(GW, "abuse-desk", ["110"]));
    await Promise.all([a, b]);
    expect(joins.rooms(`alice@${GW}/matrix`)).toEqual(new Map([[ROOM, "alice-bridge"]]));
    expect(joins.rooms()).toEqual(new Map([[ROOM, "abuse-desk"]]));
    expect(joins.jids().sort()).toEqual([`alice@${GW}/matrix`, GW]);
  });

  it("a reconnect keeps the occupancies: the server does not leave rooms for a component", async () => {
    await mock.entity.send(xml("presence", { from: GW, to: `${ROOM}/desk` }, xml("x", NS_MUC)));
    await mock.receive(selfPresence(GW, "desk", ["110"]));
    mock.entity.emit("online", mock.entity.jid);
    expect(joins.rooms()).toEqual(new Map([[ROOM, "desk"]]));
  });

  it("a kept room is joined when online and rejoined after a kick, but not after our own leave", async () => {
    joins.keep(ROOM, { nick: "desk", password: "pw" });
    const first = await sentOnce(mock, isJoinTo("desk"));
    expect(first.getChild("x", NS_MUC)!.getChildText("password")).toBe("pw");
    await mock.receive(selfPresence(GW, "desk", ["110"]));
    expect(joins.kept()).toEqual([{ room: ROOM, nick: "desk", from: GW }]);

    mock.clear();
    await mock.receive(selfPresence(GW, "desk", ["110", "307"], { type: "unavailable" }, xml("reason", {}, "out")));
    await sentOnce(mock, isJoinTo("desk"));
    await mock.receive(selfPresence(GW, "desk", ["110"]));
    expect(joins.isJoined(ROOM)).toBe(true);

    mock.clear();
    const leaving = joins.leave(ROOM);
    await sentOnce(mock, (s) => s.attrs.type === "unavailable");
    await mock.receive(selfPresence(GW, "desk", ["110"], { type: "unavailable" }));
    await leaving;
    await sleep(60);
    expect(mock.sent.filter(isJoinTo("desk"))).toEqual([]);
    expect(joins.kept()).toEqual([]);
  });

  it("a kept room keeps retrying even after a permanent error (an operator may unban it)", async () => {
    joins.keep(ROOM, { nick: "desk" });
    for (let i = 0; i < 3; i++) {
      await sentOnce(mock, isJoinTo("desk"), 1000);
      await mock.receive(
        xml(
          "presence",
          { from: `${ROOM}/desk`, to: GW, type: "error" },
          xml("x", NS_MUC),
          xml("error", { type: "auth" }, xml("forbidden", "urn:ietf:params:xml:ns:xmpp-stanzas")),
        ),
      );
    }
    await sentOnce(mock, isJoinTo("desk"), 1000);
    await mock.receive(selfPresence(GW, "desk", ["110"]));
    expect(joins.isJoined(ROOM)).toBe(true);
  });

  it("leaveAll() leaves every room of every JID and stops keeping them", async () => {
    joins.keep(ROOM, { nick: "desk" });
    await sentOnce(mock, isJoinTo("desk"));
    await mock.receive(selfPresence(GW, "desk", ["110"]));
    const done = joins.leaveAll({ status: "shutting down", timeout: 200 });
    const sent = await sentOnce(mock, (s) => s.attrs.type === "unavailable");
    expect(sent.attrs).toMatchObject({ from: GW, to: `${ROOM}/desk` });
    await mock.receive(selfPresence(GW, "desk", ["110"], { type: "unavailable" }));
    await done;
    expect(joins.kept()).toEqual([]);
    expect(joins.jids()).toEqual([]);
  });
});
