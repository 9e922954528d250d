import { NS_PING, NS_STANZAS, setupKit, xml, type Element, type Kit, type XmppEntity } from "@xmppkit/core";
import { fakeTime, mockClient, mockComponent, type MockEntity } from "@xmppkit/testing";
import { NS_MUC, NS_MUC_USER, setupMucJoins, type MucJoins } from "@xmppkit/track-muc-joins";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setupPingMuc, type PingMuc, type PingMucOptions, type SelfPingResult } from "./ping-muc.js";

const GW = "gateway.localhost";
const MUC = "conference.localhost";
const room = (n: number | string) => `room${n}@${MUC}`;

// Self-pings of room occupants (the kit's own link check pings the server, `localhost` and `localhost/xmppkit`).
const isPing = (s: Element) => s.name === "iq" && s.attrs.type === "get" && s.getChild("ping", NS_PING) !== undefined && String(s.attrs.to).includes("@");
const pingTo = (target: string) => (s: Element) => isPing(s) && s.attrs.to === target;
const errorEl = (condition: string, text?: string) =>
  xml("error", { type: "cancel" }, xml(condition, NS_STANZAS), ...(text ? [xml("text", NS_STANZAS, text)] : []));
const selfPresence = (to: string, r: string, nick: string, codes: string[], type?: string) =>
  xml(
    "presence",
    { from: `${r}/${nick}`, to, ...(type ? { type } : {}) },
    xml("x", NS_MUC_USER, xml("item", { affiliation: "none", role: type ? "none" : "participant" }), ...codes.map((code) => xml("status", { code }))),
  );
// Time is fake (delays, jitter, retries, ping timeouts); the mock's replies and xmpp.js's own turns are real.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
});
afterEach(() => {
  vi.useRealTimers();
});
const { sleep, until, settle } = fakeTime(vi);

interface Setup {
  mock: MockEntity<XmppEntity>;
  kit: Kit;
  joins: MucJoins;
  ping: PingMuc;
  /** Stanzas the application's own `stanza` listeners received. */
  appSaw: Element[];
  results: SelfPingResult[];
  /** Enter a room by hand, as the application would. */
  enter(r: string, nick: string, jid?: string): Promise<void>;
}

let current: Setup | undefined;
afterEach(() => {
  current?.ping.stop();
  current?.joins.stop();
  current = undefined;
});

async function setup(kind: "component" | "client", options: PingMucOptions = {}): Promise<Setup> {
  const mock = kind === "component" ? await mockComponent<XmppEntity>({ domain: GW }) : await mockClient<XmppEntity>({ jid: "bot@localhost/r1" });
  const me = kind === "component" ? GW : "bot@localhost/r1";
  const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
  const joins = setupMucJoins(kit, { joinTimeout: 300, rejoinBackoff: { initial: 20, max: 40, jitter: 0 } });
  const ping = setupPingMuc({ ...kit, joins }, { delay: 30, jitter: 0, timeout: 150, retryBackoff: { initial: 30, max: 60, jitter: 0 }, ...options });
  const appSaw: Element[] = [];
  mock.entity.on("stanza", (s: Element) => appSaw.push(s));
  const results: SelfPingResult[] = [];
  ping.on("self-ping", (r) => results.push(r));
  mock.entity.emit("online", mock.entity.jid);
  const enter = async (r: string, nick: string, jid = me) => {
    await mock.entity.send(xml("presence", { to: `${r}/${nick}`, ...(kind === "component" ? { from: jid } : {}) }, xml("x", NS_MUC)));
    await mock.receive(selfPresence(jid, r, nick, ["110"]));
  };
  current = { mock, kit, joins, ping, appSaw, results, enter };
  return current;
}

/** Simulate the link coming back: a component's reconnect (or, with `resumed`, a client's resumption). */
function linkRestored(s: Setup, resumed = false) {
  if (resumed) (s.mock.entity as unknown as { streamManagement: { emit(e: string): void } }).streamManagement.emit("resumed");
  else s.mock.entity.emit("online", s.mock.entity.jid);
}

describe("ping-muc in a component (the gateway, bridges)", () => {
  it("after a reconnect and the delay, pings each room; a room that forgot us gets the 110+333 presence and a rejoin", async () => {
    const s = await setup("component");
    await s.enter(room(1), "desk");
    await s.enter(room(2), "desk");
    await s.enter(room(3), "desk");
    s.mock.replyToIq(pingTo(`${room(1)}/desk`), errorEl("not-acceptable", "You are not currently connected to this chat"));
    s.mock.replyToIq(pingTo(`${room(2)}/desk`), true);
    s.mock.replyToIq(pingTo(`${room(3)}/desk`), errorEl("service-unavailable"));
    s.mock.clear();

    linkRestored(s);
    expect(s.ping.scheduled).toBe(3);
    expect(s.mock.sent.filter(isPing)).toEqual([]); // nothing before the delay
    const ghost = await settle(s.ping.next("ghost", 2000));
    expect(ghost).toMatchObject({ jid: GW, room: room(1), nick: "desk", reason: "You are not currently connected to this chat", trigger: "link-restored" });

    await until(() => s.results.length === 3);
    const pings = s.mock.sent.filter(isPing);
    expect(pings.map((p) => p.attrs.to).sort()).toEqual([`${room(1)}/desk`, `${room(2)}/desk`, `${room(3)}/desk`]);
    expect(pings.every((p) => p.attrs.from === GW)).toBe(true);

    // The application's own handlers saw the room "remove" it, exactly as Prosody's mod_ping_muc words it.
    await sleep(10);
    const removal = s.appSaw.find((p) => p.name === "presence" && p.attrs.type === "unavailable")!;
    expect(removal.attrs).toMatchObject({ from: `${room(1)}/desk`, to: GW });
    const x = removal.getChild("x", NS_MUC_USER)!;
    expect(x.getChildren("status").map((st) => st.attrs.code)).toEqual(["110", "333"]);
    expect(x.getChild("item")!.attrs).toEqual({ affiliation: "none", role: "none" });
    expect(x.getChild("item")!.getChildText("reason")).toBe("You are not currently connected to this chat");

    // track-muc-joins saw it too, and the rejoin went out with the same nick.
    expect(s.joins.isJoined(room(1))).toBe(false);
    const rejoin = await settle(s.mock.nextSent((p) => p.name === "presence" && p.attrs.to === `${room(1)}/desk`, 1000));
    expect(rejoin.getChild("x", NS_MUC)).toBeDefined();
    await s.mock.receive(selfPresence(GW, room(1), "desk", ["110"]));
    expect(s.joins.isJoined(room(1))).toBe(true);

    // result and service-unavailable mean still joined (XEP-0410): nothing happened to rooms 2 and 3.
    await sleep(20);
    expect(s.results.map((r) => [r.room, r.verdict]).sort()).toEqual([
      [room(1), "not-joined"],
      [room(2), "joined"],
      [room(3), "joined"],
    ]);
    expect(s.joins.isJoined(room(2)) && s.joins.isJoined(room(3))).toBe(true);
  });

  it("with rejoin off, the ghost is reported and nothing is rejoined", async () => {
    const s = await setup("component", { rejoin: false });
    await s.enter(room(1), "desk");
    s.mock.replyToIq(pingTo(`${room(1)}/desk`), errorEl("not-acceptable"));
    s.mock.clear();
    await settle(s.ping.check(room(1)));
    await sleep(60);
    expect(s.mock.sent.filter((p) => p.name === "presence")).toEqual([]);
    expect(s.joins.isJoined(room(1))).toBe(false);
  });

  it("an undecided ping (remote server unreachable, timeout) is asked again with backoff, and never rejoins", async () => {
    const s = await setup("component");
    await s.enter(room(1), "desk");
    let n = 0;
    s.mock.replyToIq(pingTo(`${room(1)}/desk`), () => (++n === 1 ? errorEl("remote-server-not-found") : true));
    const undecided: number[] = [];
    s.ping.on("undecided", (u) => undecided.push(u.retryInMs));
    s.ping.schedule("manual", {}, 0);
    await until(() => s.results.length === 2, 500);
    expect(s.results.map((r) => r.verdict)).toEqual(["undecided", "joined"]);
    expect(undecided).toEqual([30]);
    expect(s.joins.isJoined(room(1))).toBe(true);
    expect(s.mock.sent.filter((p) => p.name === "presence" && p.attrs.to === `${room(1)}/desk`)).toHaveLength(1); // the first join only
  });

  it("a ping that races a real leave does not resurrect the room or deliver a second removal", async () => {
    const s = await setup("component");
    await s.enter(room(1), "desk");
    const checking = s.ping.check(room(1));
    const sent = await settle(s.mock.nextSent(isPing));
    // The room removes us for real while the ping is out, then answers the ping.
    await s.mock.receive(selfPresence(GW, room(1), "desk", ["110", "307"], "unavailable"));
    await s.mock.receive(xml("iq", { type: "error", id: sent.attrs.id, from: sent.attrs.to, to: GW }, errorEl("not-acceptable")));
    const result = await checking;
    expect(result).toMatchObject({ verdict: "not-joined", stale: true });
    await sleep(60);
    expect(s.appSaw.filter((p) => p.name === "presence" && p.attrs.type === "unavailable")).toHaveLength(1); // the real kick only
    expect(s.mock.sent.filter((p) => p.name === "presence")).toEqual(
      s.mock.sent.filter((p) => p.name === "presence" && p.attrs.to === `${room(1)}/desk`).slice(0, 1),
    );
    expect(s.joins.isJoined(room(1))).toBe(false);
  });

  it("fan-out is bounded: never more than `concurrency` pings in flight, and one ping per room however many triggers", async () => {
    const s = await setup("component", { concurrency: 4, delay: 0 });
    for (let i = 0; i < 40; i++) await s.enter(room(i), "desk");
    s.mock.clear();
    let outstanding = 0;
    let peak = 0;
    s.mock.entity.on("send", (el: Element) => {
      if (!isPing(el)) return;
      outstanding++;
      peak = Math.max(peak, outstanding);
      setTimeout(() => {
        outstanding--;
        void s.mock.receive(xml("iq", { type: "result", id: el.attrs.id, from: el.attrs.to, to: GW }));
      }, 3);
    });
    expect(s.ping.schedule("manual")).toBe(40);
    expect(s.ping.schedule("manual")).toBe(0);
    linkRestored(s);
    await sleep(400);
    expect(s.mock.sent.filter(isPing)).toHaveLength(40);
    expect(peak).toBe(4);
    expect(s.results.every((r) => r.verdict === "joined")).toBe(true);
  });

  it("an error from a room we are in schedules a ping of that room; a remote-server error from the service, of all its rooms", async () => {
    const s = await setup("component", { delay: 0 });
    await s.enter(room(1), "desk");
    await s.enter(room(2), "desk");
    s.mock.replyToIq(isPing, true);
    await s.mock.receive(xml("message", { type: "error", from: room(1), to: GW }, errorEl("not-acceptable", "You are not currently connected to this chat")));
    await sleep(40);
    expect(s.results.map((r) => [r.room, r.trigger])).toEqual([[room(1), "room-error"]]);
    await s.mock.receive(xml("message", { type: "error", from: MUC, to: GW }, errorEl("remote-server-timeout")));
    await sleep(40);
    expect(
      s.results
        .slice(1)
        .map((r) => r.room)
        .sort(),
    ).toEqual([room(1), room(2)]);
    // An IQ the room refuses (say, a disco query) says nothing about occupancy.
    await s.mock.receive(xml("iq", { type: "error", id: "x", from: room(1), to: GW }, errorEl("feature-not-implemented")));
    await sleep(40);
    expect(s.results).toHaveLength(3);
  });

  it("never pings while a nick change is pending (XEP-0410 §5)", async () => {
    const s = await setup("component", { delay: 0 });
    await s.enter(room(1), "desk");
    s.mock.replyToIq(isPing, true);
    await s.mock.entity.send(xml("presence", { from: GW, to: `${room(1)}/desk2` })); // rename, unanswered
    s.ping.schedule("manual");
    await sleep(50);
    expect(s.mock.sent.filter(isPing)).toEqual([]);
    await s.mock.receive(selfPresence(GW, room(1), "desk2", ["110"]));
    await sleep(2100);
    expect(s.mock.sent.filter(isPing).map((p) => p.attrs.to)).toEqual([`${room(1)}/desk2`]);
  });

  it("pings a room that has been silent for `interval`", async () => {
    // Fake timers: the idle check's 1,000 ms tick, not a sleep that races it on a slow machine.
    {
      const s = await setup("component", { interval: 1000 });
      await s.enter(room(1), "desk");
      s.mock.replyToIq(isPing, true);
      await vi.advanceTimersByTimeAsync(999);
      expect(s.results).toEqual([]);
      await vi.advanceTimersByTimeAsync(1); // the tick finds the room silent for `interval`
      await vi.advanceTimersByTimeAsync(1); // the self-ping it schedules (a 0 ms timer, 1 ms inside a tick) goes out
      await sleep(0); // the (real) reply comes back
      expect(s.results.map((r) => [r.room, r.trigger, r.verdict])).toEqual([[room(1), "idle", "joined"]]);
    }
  });

  it("prosody_compat: a timeout is a removal, worded as Prosody does", async () => {
    const s = await setup("component", { prosodyCompat: true, rejoin: false });
    await s.enter(room(1), "desk");
    const ghost = s.ping.next("ghost", 2000);
    void s.ping.check(room(1));
    expect(await settle(ghost)).toMatchObject({ reason: "IQ stanza timed out", outcome: { kind: "timeout" } });
  });
});

describe("ping-muc in a client (bots)", () => {
  it("a resumed stream is checked after the delay; a new stream rejoins at once, without a ping", async () => {
    const s = await setup("client");
    await s.enter(room(1), "bot");
    s.mock.replyToIq(isPing, true);
    s.mock.clear();
    linkRestored(s, true);
    await sleep(80);
    expect(s.results.map((r) => [r.room, r.verdict, r.trigger])).toEqual([[room(1), "joined", "link-restored"]]);

    s.mock.clear();
    linkRestored(s); // a new stream: the server has left every room for us
    const rejoin = await settle(s.mock.nextSent((p) => p.name === "presence" && p.attrs.to === `${room(1)}/bot`, 1000));
    expect(rejoin.getChild("x", NS_MUC)).toBeDefined();
    await sleep(80);
    expect(s.mock.sent.filter(isPing)).toEqual([]);
  });
});
