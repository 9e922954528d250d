import { IqTimeoutError, StanzaError, createLimiter, type Element } from "@xmppkit/core";
import { NS_MUC_USER, type MucJoins, type RoomJoin } from "@xmppkit/track-muc-joins";
import { describe, expect, it, vi } from "vitest";
import { occupancyCheck, type PingMucEvents } from "./occupancy-check.js";
import { slotKey, type Slot } from "./ping-scheduler.js";

const GW = "gateway.localhost";
const ROOM = "room@conference.localhost";

/** A check whose ping is answered by `answer` (a thrown error is the reply); `changeTo` replaces the entry while the ping is out. */
function setup(answer: () => Promise<Element>, changeTo?: Partial<RoomJoin>) {
  let entry: RoomJoin | undefined = { room: ROOM, nick: "bot", state: "joined", epoch: 1 } as RoomJoin;
  const joins = { tracker: { entry: () => entry }, touch: vi.fn() } as unknown as Pick<MucJoins, "tracker" | "touch">;
  const sent: Element[] = [];
  const request = vi.fn(async (iq: Element) => {
    sent.push(iq);
    if (changeTo) entry = { ...entry!, ...changeTo };
    return answer();
  });
  const delivered: Element[] = [];
  const slots = { stopped: false, drop: vi.fn(), release: vi.fn(), retry: vi.fn() };
  const events: Array<[keyof PingMucEvents, unknown]> = [];
  const emitter = { emit: (name: keyof PingMucEvents, payload: unknown) => events.push([name, payload]) } as never;
  const ghosts = new Set<string>();
  const check = occupancyCheck(
    {
      joins,
      iq: { request },
      stanzas: { deliver: (s: Element) => void delivered.push(s) } as never,
      kind: "component",
      limit: createLimiter(1),
      slots,
      emitter,
      ghosts,
    },
    { timeout: 100, prosodyCompat: false, rejoin: true, retryBackoff: { initial: 30, max: 60, jitter: 0 }, random: () => 0 },
  );
  const slot: Slot = { jid: GW, room: ROOM, trigger: "manual", attempt: 0 };
  return { check, slot, joins, sent, delivered, slots, events, ghosts, forget: () => (entry = undefined) };
}

describe("occupancyCheck", () => {
  it("pings our occupant JID from the component's JID; a result notes the activity and releases the slot", async () => {
    const t = setup(async () => ({}) as Element);
    const result = await t.check(t.slot);
    expect(t.sent[0]?.attrs).toMatchObject({ type: "get", to: `${ROOM}/bot`, from: GW });
    expect(result).toMatchObject({ verdict: "joined", stale: false, nick: "bot" });
    expect(t.joins.touch).toHaveBeenCalledWith(ROOM, GW);
    expect(t.slots.release).toHaveBeenCalledWith(t.slot);
    expect(t.events.map(([name]) => name)).toEqual(["self-ping"]);
  });

  it("an undecided ping is asked again after a backoff", async () => {
    const t = setup(() => Promise.reject(new IqTimeoutError(ROOM, 100)));
    await t.check(t.slot);
    await t.check(t.slot);
    expect(t.slots.retry.mock.calls.map(([, ms]) => ms)).toEqual([30, 60]);
    expect(t.events.filter(([name]) => name === "undecided").map(([, e]) => (e as { attempt: number }).attempt)).toEqual([1, 2]);
  });

  it("a ghost is told to the application with a 110+333 unavailable and marked for a rejoin", async () => {
    const t = setup(() => Promise.reject(new StanzaError("not-acceptable", "cancel", "You are not currently connected to this chat")));
    const result = await t.check(t.slot);
    expect(result.verdict).toBe("not-joined");
    expect(t.slots.release).toHaveBeenCalledWith(t.slot);
    expect(t.ghosts.has(slotKey(GW, ROOM))).toBe(true);
    expect(t.events.map(([name]) => name)).toEqual(["self-ping", "ghost"]);
    const codes = t.delivered[0]
      ?.getChild("x", NS_MUC_USER)
      ?.getChildren("status")
      .map((s) => s.attrs.code);
    expect(codes).toEqual(["110", "333"]);
  });

  it("a verdict about an occupancy that changed meanwhile is stale and not acted on", async () => {
    const t = setup(() => Promise.reject(new StanzaError("not-acceptable")), { epoch: 2 });
    const result = await t.check(t.slot);
    expect(result).toMatchObject({ verdict: "not-joined", stale: true });
    expect(t.delivered).toEqual([]);
    expect(t.joins.touch).not.toHaveBeenCalled();
  });

  it("a room we are not in drops the slot and fails", async () => {
    const t = setup(async () => ({}) as Element);
    t.forget();
    await expect(t.check(t.slot)).rejects.toThrow(/not in/);
    expect(t.slots.drop).toHaveBeenCalledWith(t.slot);
    expect(t.sent).toEqual([]);
  });
});
