// When to self-ping a room: one slot per (local JID, room), scheduled after a trigger (spread by jitter), fired
// once the link is up and no nick change is pending, shared by an on-demand check, and armed again when a
// ping leaves the question open.
// https://xmpp.org/extensions/xep-0410.html
import { normalizeJid, parseJid, type Lifecycle } from "@xmppkit/core";
import type { MucJoins } from "@xmppkit/track-muc-joins";
import type { PingOutcome, Verdict } from "./self-ping.js";

export type PingTrigger = "link-restored" | "room-error" | "idle" | "manual";

export interface SelfPingResult {
  jid: string;
  room: string;
  nick: string;
  verdict: Verdict;
  outcome: PingOutcome;
  trigger: PingTrigger;
  /** Round trip in ms. */
  ms: number;
  /** The occupancy changed while the ping was out (we left, rejoined or were renamed): the verdict was not acted on. */
  stale: boolean;
}

/** One room to ping: scheduled (`timer`), under way (`running`), or waiting for a free slot. */
export interface Slot {
  jid: string;
  room: string;
  trigger: PingTrigger;
  attempt: number;
  timer?: NodeJS.Timeout;
  running?: Promise<SelfPingResult>;
}

export interface RoomFilter {
  jid?: string;
  room?: string;
  domain?: string;
}

export const slotKey = (jid: string, room: string) => `${jid}\n${room}`;

type JoinsView = Pick<MucJoins, "jidOf" | "jids" | "tracker">;

/** The rooms that match `filter` whose occupancy is established (joined, or a nick change under way). */
export function* joinedRooms(joins: JoinsView, filter: RoomFilter = {}) {
  const jids = filter.jid ? [joins.jidOf(filter.jid)] : joins.jids();
  const room = filter.room ? normalizeJid(filter.room) : undefined;
  for (const jid of jids) {
    for (const e of joins.tracker.entries(jid)) {
      if (e.state !== "joined" && e.state !== "renaming") continue;
      if (room && e.room !== room) continue;
      if (filter.domain && parseJid(e.room)?.domain !== filter.domain) continue;
      yield { jid, room: e.room };
    }
  }
}

export interface PingSchedulerDeps {
  joins: JoinsView;
  lifecycle: Pick<Lifecycle, "online">;
  /** One self-ping of the slot's room, acted on. */
  ping(slot: Slot): Promise<SelfPingResult>;
}

export interface PingSchedulerOptions {
  /** Default wait after a trigger, in ms. */
  delay: number;
  /** Spread of a trigger's pings, in ms. */
  jitter: number;
  random: () => number;
}

export class PingScheduler {
  readonly #slots = new Map<string, Slot>();
  readonly #deps: PingSchedulerDeps;
  readonly #options: PingSchedulerOptions;
  #stopped = false;

  constructor(deps: PingSchedulerDeps, options: PingSchedulerOptions) {
    this.#deps = deps;
    this.#options = options;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Pings waiting for their time. */
  get scheduled(): number {
    return [...this.#slots.values()].filter((s) => s.timer).length;
  }

  /** Pings waiting for a reply or for a free slot. */
  get inFlight(): number {
    return [...this.#slots.values()].filter((s) => s.running).length;
  }

  /** Schedule pings after `delayMs` for the rooms that match; returns how many were scheduled. */
  schedule(trigger: PingTrigger, filter: RoomFilter = {}, delayMs = this.#options.delay): number {
    if (this.#stopped) return 0;
    const { jitter, random } = this.#options;
    let n = 0;
    for (const { jid, room } of joinedRooms(this.#deps.joins, filter)) {
      const k = slotKey(jid, room);
      if (this.#slots.has(k)) continue; // one ping per room: already scheduled or on its way
      const slot: Slot = { jid, room, trigger, attempt: 0 };
      this.#slots.set(k, slot);
      this.#arm(slot, delayMs + Math.round(random() * (delayMs > 0 ? jitter : 0)));
      n++;
    }
    return n;
  }

  /** Ping `room` now from `jid` (default: the entity's own JID); shares a ping already under way. */
  async check(roomInput: string, o: { jid?: string } = {}): Promise<SelfPingResult> {
    const jid = this.#deps.joins.jidOf(o.jid);
    const room = normalizeJid(roomInput) ?? roomInput;
    const k = slotKey(jid, room);
    let slot = this.#slots.get(k);
    if (!slot) {
      slot = { jid, room, trigger: "manual", attempt: 0 };
      this.#slots.set(k, slot);
    }
    clearTimeout(slot.timer);
    delete slot.timer;
    return this.#run(slot);
  }

  /** Ping every joined room of every local JID now. */
  async checkAll(): Promise<SelfPingResult[]> {
    const all = [...joinedRooms(this.#deps.joins)];
    const settled = await Promise.allSettled(all.map(({ jid, room }) => this.check(room, { jid })));
    return settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  }

  /** The slot's room is not ours to ping: forget whatever slot it has. */
  drop(slot: Slot): void {
    this.#slots.delete(slotKey(slot.jid, slot.room));
  }

  /** The slot is done: forget it, unless another took its place. */
  release(slot: Slot): void {
    const k = slotKey(slot.jid, slot.room);
    if (this.#slots.get(k) === slot) this.#slots.delete(k);
  }

  /** Ask again in `ms`, unless another slot took this one's place or the scheduler stopped. */
  retry(slot: Slot, ms: number): void {
    if (this.#slots.get(slotKey(slot.jid, slot.room)) === slot && !this.#stopped) this.#arm(slot, ms);
  }

  stop(): void {
    this.#stopped = true;
    for (const s of this.#slots.values()) clearTimeout(s.timer);
    this.#slots.clear();
  }

  #arm(slot: Slot, ms: number): void {
    slot.timer = setTimeout(() => {
      delete slot.timer;
      void this.#fire(slot);
    }, ms);
    slot.timer.unref?.();
  }

  async #fire(slot: Slot): Promise<void> {
    const k = slotKey(slot.jid, slot.room);
    if (this.#slots.get(k) !== slot || this.#stopped) return;
    const entry = this.#deps.joins.tracker.entry(slot.jid, slot.room);
    if (!this.#deps.lifecycle.online || !entry || (entry.state !== "joined" && entry.state !== "renaming")) {
      // Offline: the link-restored trigger will schedule again. Not joined any more: nothing to check.
      this.#slots.delete(k);
      return;
    }
    if (entry.state === "renaming") {
      // XEP-0410 §5: never ping between a nick change and its answer.
      this.#arm(slot, 2000);
      return;
    }
    await this.#run(slot).catch(() => undefined);
  }

  #run(slot: Slot): Promise<SelfPingResult> {
    if (slot.running) return slot.running;
    const promise = this.#deps.ping(slot).finally(() => {
      if (slot.running === promise) delete slot.running;
    });
    slot.running = promise;
    return promise;
  }
}
