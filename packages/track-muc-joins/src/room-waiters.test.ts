import { StanzaError, xml, type Element } from "@xmppkit/core";
import { fakeTime } from "@xmppkit/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MucTimeoutError } from "./join-room.js";
import { NS_MUC_USER, type RoomJoin } from "./join-tracker.js";
import { RoomWaiters } from "./room-waiters.js";

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
});
afterEach(() => {
  vi.useRealTimers();
});
const { sleep } = fakeTime(vi);

const ME = "bot@localhost/r1";
const ROOM = "room@conference.localhost";
const presence = (nick: string, codes: string[], attrs: Record<string, string> = {}): Element =>
  xml("presence", { from: `${ROOM}/${nick}`, to: ME, ...attrs }, xml("x", NS_MUC_USER, ...codes.map((code) => xml("status", { code }))));
const errorPresence = () =>
  xml("presence", { from: `${ROOM}/bot`, to: ME, type: "error" }, xml("error", { type: "cancel" }, xml("forbidden", "urn:ietf:params:xml:ns:xmpp-stanzas")));

function setup(entry: Partial<RoomJoin> | undefined = { nick: "bot", state: "joined" }) {
  const tracker = { entry: (jid: string, room: string) => (jid === ME && room === ROOM && entry ? (entry as RoomJoin) : undefined) };
  return new RoomWaiters(tracker);
}
const outcome = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

describe("RoomWaiters", () => {
  it("a join is answered by our own self-presence (110, the nick the tracker holds, joined)", async () => {
    const waiters = setup();
    const { answer } = waiters.awaitJoin(ME, ROOM, 1000);
    const seen = outcome(answer);
    waiters.settleWaiters(ME, ROOM, "someone", presence("someone", ["110"])); // not the nick the tracker holds
    waiters.settleWaiters(ME, ROOM, "bot", presence("bot", [])); // no 110: another occupant's view
    waiters.settleWaiters("other@localhost/r1", ROOM, "bot", presence("bot", ["110"])); // another local JID
    await sleep(0);
    const self = presence("bot", ["110"]);
    waiters.settleWaiters(ME, ROOM, "bot", self);
    expect(await seen).toEqual({ value: self });
  });

  it("a join is not answered while the tracker does not hold it as joined", async () => {
    const waiters = setup({ nick: "bot", state: "joining" });
    const seen = outcome(waiters.awaitJoin(ME, ROOM, 100).answer);
    waiters.settleWaiters(ME, ROOM, "bot", presence("bot", ["110"]));
    await sleep(100);
    const { error } = (await seen) as { error: unknown };
    expect(error).toBeInstanceOf(MucTimeoutError);
  });

  it("a join fails with the room's error", async () => {
    const waiters = setup(undefined);
    const seen = outcome(waiters.awaitJoin(ME, ROOM, 1000).answer);
    waiters.settleWaiters(ME, ROOM, "bot", errorPresence());
    const { error } = (await seen) as { error: unknown };
    expect(StanzaError.isInstance(error) && error.condition).toBe("forbidden");
  });

  it("times out with MucTimeoutError, and fail() ends a wait early", async () => {
    const waiters = setup();
    const join = outcome(waiters.awaitJoin(ME, ROOM, 500).answer);
    const leave = waiters.awaitLeave(ME, ROOM, 500);
    leave.fail("not sent");
    expect(((await outcome(leave.answer)) as { error: Error }).error.message).toBe("not sent");
    await sleep(499);
    let done = false;
    void join.then(() => (done = true));
    await sleep(0);
    expect(done).toBe(false);
    await sleep(1);
    const { error } = (await join) as { error: MucTimeoutError };
    expect(error).toBeInstanceOf(MucTimeoutError);
  });

  it("left() answers the leave of that (jid, room) only", async () => {
    const waiters = setup();
    const ours = outcome(waiters.awaitLeave(ME, ROOM, 1000).answer);
    const other = outcome(waiters.awaitLeave(ME, "other@conference.localhost", 50).answer);
    waiters.left(ME, ROOM, { kind: "left", codes: ["110"] });
    expect(await ours).toEqual({ value: { kind: "left", codes: ["110"] } });
    await sleep(50);
    expect((await other) as { error: unknown }).toHaveProperty("error");
  });

  it("a lost link ends leaves as stream-ended and fails joins; rejectAll fails every wait", async () => {
    const waiters = setup();
    const leave = outcome(waiters.awaitLeave(ME, ROOM, 1000).answer);
    const join = outcome(waiters.awaitJoin(ME, ROOM, 1000).answer);
    waiters.linkLost("socket closed");
    expect(await leave).toEqual({ value: { kind: "stream-ended", codes: [] } });
    expect(((await join) as { error: Error }).error.message).toContain("(socket closed)");

    const stopped = new Error("stopped");
    const both = [outcome(waiters.awaitJoin(ME, ROOM, 1000).answer), outcome(waiters.awaitLeave(ME, ROOM, 1000).answer)];
    waiters.rejectAll(stopped);
    expect(await Promise.all(both)).toEqual([{ error: stopped }, { error: stopped }]);
  });
});
