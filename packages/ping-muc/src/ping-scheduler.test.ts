import type { MucJoins, RoomJoin } from "@xmppkit/track-muc-joins";
import { fakeTime } from "@xmppkit/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PingScheduler, joinedRooms, type SelfPingResult, type Slot } from "./ping-scheduler.js";

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
});
afterEach(() => {
  vi.useRealTimers();
});
const { sleep } = fakeTime(vi);

const GW = "gateway.localhost";
const room = (n: number) => `room${n}@conference.localhost`;

/** A scheduler over fake joins (`entries`: room → state of GW's occupancy) whose pings wait for `answer()`. */
function setup(entries: Record<string, RoomJoin["state"]>) {
  const tracker = {
    entries: (jid: string) => (jid === GW ? Object.entries(entries).map(([r, state]) => ({ room: r, state }) as RoomJoin) : []),
    entry: (jid: string, r: string) => (jid === GW && entries[r] ? ({ room: r, state: entries[r] } as RoomJoin) : undefined),
  };
  const joins = { jidOf: (jid?: string) => jid ?? GW, jids: () => [GW], tracker } as unknown as Pick<MucJoins, "jidOf" | "jids" | "tracker">;
  const lifecycle = { online: true };
  const pending: Array<() => void> = [];
  const ping = vi.fn(
    (slot: Slot) =>
      new Promise<SelfPingResult>((resolve) => pending.push(() => resolve({ jid: slot.jid, room: slot.room, trigger: slot.trigger } as SelfPingResult))),
  );
  const scheduler = new PingScheduler({ joins, lifecycle, ping }, { delay: 1000, jitter: 100, random: () => 0.5 });
  const answer = () => {
    for (const done of pending.splice(0)) done();
  };
  return { scheduler, ping, lifecycle, joins, answer };
}

describe("joinedRooms", () => {
  it("yields the established occupancies that match the filter", () => {
    const { joins } = setup({ [room(1)]: "joined", [room(2)]: "renaming", [room(3)]: "joining", "x@elsewhere.example": "joined" });
    expect([...joinedRooms(joins)].map((r) => r.room)).toEqual([room(1), room(2), "x@elsewhere.example"]);
    expect([...joinedRooms(joins, { domain: "elsewhere.example" })]).toEqual([{ jid: GW, room: "x@elsewhere.example" }]);
    expect([...joinedRooms(joins, { room: room(2) })]).toEqual([{ jid: GW, room: room(2) }]);
  });
});

describe("PingScheduler", () => {
  it("schedules one slot per room after delay + jitter, and pings it then", async () => {
    const { scheduler, ping, answer } = setup({ [room(1)]: "joined", [room(2)]: "joined" });
    expect(scheduler.schedule("link-restored")).toBe(2);
    expect(scheduler.schedule("room-error", { room: room(1) })).toBe(0); // already scheduled
    expect(scheduler.scheduled).toBe(2);
    await sleep(1049);
    expect(ping).not.toHaveBeenCalled();
    await sleep(1);
    expect(ping).toHaveBeenCalledTimes(2);
    expect(scheduler.inFlight).toBe(2);
    answer();
    await sleep(0);
    expect(scheduler.inFlight).toBe(0);
  });

  it("drops the slot when offline or no longer joined, and waits out a nick change", async () => {
    const { scheduler, ping, lifecycle } = setup({ [room(1)]: "renaming" });
    scheduler.schedule("manual", {}, 0);
    await sleep(0);
    expect(ping).not.toHaveBeenCalled();
    expect(scheduler.scheduled).toBe(1); // armed again, 2 s later
    lifecycle.online = false;
    await sleep(2000);
    expect(ping).not.toHaveBeenCalled();
    expect(scheduler.scheduled).toBe(0);
    expect(scheduler.schedule("manual", {}, 0)).toBe(1); // the slot was dropped
  });

  it("check() pings at once, cancels the timer and shares a ping under way", async () => {
    const { scheduler, ping, answer } = setup({ [room(1)]: "joined" });
    scheduler.schedule("idle");
    const a = scheduler.check(room(1));
    const b = scheduler.check(room(1));
    await sleep(0);
    expect(ping).toHaveBeenCalledTimes(1);
    expect(ping.mock.calls[0]?.[0].trigger).toBe("idle");
    expect(scheduler.scheduled).toBe(0);
    answer();
    expect(await a).toBe(await b);
  });

  it("retry() arms the slot it still holds; release() forgets it; stop() refuses more", async () => {
    const { scheduler, ping, answer } = setup({ [room(1)]: "joined" });
    const result = scheduler.check(room(1));
    const slot = ping.mock.calls[0]![0];
    answer();
    await result;
    scheduler.retry(slot, 500);
    expect(scheduler.scheduled).toBe(1);
    await sleep(500);
    expect(ping).toHaveBeenCalledTimes(2);
    scheduler.release(slot);
    expect(scheduler.schedule("manual", {}, 10)).toBe(1);
    scheduler.stop();
    expect(scheduler.scheduled).toBe(0);
    expect(scheduler.schedule("manual")).toBe(0);
    scheduler.retry(slot, 10);
    await sleep(100);
    expect(ping).toHaveBeenCalledTimes(2);
  });
});
