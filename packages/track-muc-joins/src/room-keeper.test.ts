import { StanzaError } from "@xmppkit/core";
import { fakeTime } from "@xmppkit/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { JoinOptions, Joined } from "./join-leave.js";
import type { RoomJoin } from "./join-tracker.js";
import { RoomKeeper, type RejoinFailed } from "./room-keeper.js";

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
});
afterEach(() => {
  vi.useRealTimers();
});
const { sleep } = fakeTime(vi);

const ME = "bot@localhost/r1";
const ROOM = "room@conference.localhost";

/** A keeper over a fake tracker whose join answers with `answers` in turn (an Error rejects), then succeeds. */
function setup(answers: Error[] = []) {
  const entries = new Map<string, Partial<RoomJoin> & { password?: string }>();
  const lifecycle = { online: true };
  const failures: RejoinFailed[] = [];
  const join = vi.fn(async (room: string, o: JoinOptions): Promise<Joined> => {
    const answer = answers.shift();
    if (answer) throw answer;
    entries.set(room, { room, nick: o.nick, state: "joined", lastSeen: Date.now() });
    return { room, nick: o.nick } as Joined;
  });
  const tracker = {
    entry: (_jid: string, room: string) => entries.get(room) as RoomJoin | undefined,
    password: (_jid: string, room: string) => entries.get(room)?.password,
  };
  const address = { localJid: (jid?: string) => jid ?? ME, key: (_jid: string, room: string) => room };
  const keeper = new RoomKeeper({ join, tracker, lifecycle, address, onRejoinFailed: (e) => failures.push(e) }, { initial: 100, max: 400, jitter: 0 });
  return { keeper, join, entries, lifecycle, failures };
}

describe("RoomKeeper", () => {
  it("keep() joins a kept room when online, and rejoins it after a kick", async () => {
    const { keeper, join, entries } = setup();
    const unkeep = keeper.keep(ROOM, { nick: "bot", password: "pw" });
    await sleep(0);
    expect(join).toHaveBeenCalledWith(ROOM, { nick: "bot", password: "pw", history: undefined, from: ME });
    expect(keeper.kept()).toEqual([{ room: ROOM, nick: "bot", from: ME }]);

    entries.delete(ROOM);
    keeper.left(ME, ROOM, { kind: "kicked", codes: ["307"] });
    await sleep(0);
    expect(join).toHaveBeenCalledTimes(2);

    unkeep();
    expect(keeper.kept()).toEqual([]);
    entries.delete(ROOM);
    keeper.left(ME, ROOM, { kind: "kicked", codes: ["307"] });
    await sleep(0);
    expect(join).toHaveBeenCalledTimes(2);
  });

  it("rejoin() uses what was remembered: nick, password, history since the last stanza seen", async () => {
    const { keeper, join, entries } = setup();
    entries.set(ROOM, { room: ROOM, nick: "bot2", state: "joined", lastSeen: 1_000, password: "pw" });
    keeper.remember(ME, ROOM);
    entries.delete(ROOM);
    keeper.rejoin(ROOM);
    keeper.rejoin(ROOM); // one rejoin at a time
    await sleep(0);
    expect(join).toHaveBeenCalledTimes(1);
    expect(join).toHaveBeenCalledWith(ROOM, { nick: "bot2", password: "pw", history: { since: new Date(1_000) }, from: ME });
  });

  it("rejoin() without a known nick throws", () => {
    const { keeper } = setup();
    expect(() => keeper.rejoin(ROOM)).toThrow(/no nick known/);
  });

  it("retries with backoff, and gives up on a permanent error for a room not kept", async () => {
    const { keeper, join, failures } = setup([new Error("timeout"), new StanzaError("forbidden")]);
    keeper.rejoin(ROOM, { nick: "bot" });
    await sleep(0);
    expect(failures.map((f) => f.retryInMs)).toEqual([100]);
    await sleep(100);
    expect(join).toHaveBeenCalledTimes(2);
    expect(failures).toHaveLength(2);
    expect(failures[1]).toMatchObject({ attempt: 2, room: ROOM, nick: "bot" });
    expect(failures[1]).not.toHaveProperty("retryInMs");
    await sleep(1000);
    expect(join).toHaveBeenCalledTimes(2);
  });

  it("a kept room keeps trying after a permanent error", async () => {
    const { keeper, join, failures } = setup([new StanzaError("forbidden")]);
    keeper.keep(ROOM, { nick: "bot" });
    await sleep(0);
    expect(failures[0]?.retryInMs).toBe(100);
    await sleep(100);
    expect(join).toHaveBeenCalledTimes(2);
  });

  it("waits for the link: a lost link drops the timers, online() runs the rejoins at once", async () => {
    const { keeper, join, lifecycle } = setup([new Error("timeout")]);
    keeper.rejoin(ROOM, { nick: "bot" });
    await sleep(0);
    keeper.linkLost();
    lifecycle.online = false;
    await sleep(1000);
    expect(join).toHaveBeenCalledTimes(1);
    lifecycle.online = true;
    keeper.online();
    await sleep(0);
    expect(join).toHaveBeenCalledTimes(2);
  });

  it("our own leave forgets the room; stop() cancels rejoins and refuses new ones", async () => {
    const { keeper, join } = setup([new Error("timeout")]);
    keeper.keep(ROOM, { nick: "bot" });
    await sleep(0);
    keeper.forget(ME, ROOM);
    expect(keeper.kept()).toEqual([]);
    await sleep(1000);
    expect(join).toHaveBeenCalledTimes(1);

    keeper.stop();
    keeper.rejoin(ROOM, { nick: "bot" });
    await sleep(0);
    expect(join).toHaveBeenCalledTimes(1);
  });
});
