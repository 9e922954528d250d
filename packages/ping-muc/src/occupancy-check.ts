// One self-ping of a room we believe we are in, and what follows from its verdict: still in (a sign of life),
// undecided (ask again after a backoff), or no longer counted in (a ghost: say so to the application the way
// the room would have, with a synthetic 110+333 unavailable, and mark the room for a rejoin).
// https://xmpp.org/extensions/xep-0410.html
import { backoffDelay, type BackoffOptions, type Iq, type Kit, type Limiter, type TypedEmitter } from "@xmppkit/core";
import type { MucJoins } from "@xmppkit/track-muc-joins";
import { ghostPresence } from "./ghost-presence.js";
import { slotKey, type PingScheduler, type PingTrigger, type SelfPingResult, type Slot } from "./ping-scheduler.js";
import { classifySelfPing, ghostReason, selfPing, type PingOutcome } from "./self-ping.js";

export interface PingMucEvents extends Record<string, unknown> {
  "self-ping": SelfPingResult;
  /** The room no longer counted us in; the synthetic 110+333 unavailable was delivered. */
  ghost: { jid: string; room: string; nick: string; reason: string; outcome: PingOutcome; trigger: PingTrigger };
  /** No verdict (timeout, remote server unreachable); another ping follows in `retryInMs`. */
  undecided: { jid: string; room: string; nick: string; outcome: PingOutcome; attempt: number; retryInMs: number };
}

export interface OccupancyCheckDeps extends Pick<Kit, "kind"> {
  joins: Pick<MucJoins, "tracker" | "touch">;
  iq: Pick<Iq, "request">;
  stanzas: Pick<Kit["stanzas"], "deliver">;
  /** Bounds the pings in flight over all rooms. */
  limit: Limiter;
  slots: Pick<PingScheduler, "stopped" | "drop" | "release" | "retry">;
  emitter: Pick<TypedEmitter<PingMucEvents>, "emit">;
  /** Where a ghost's key (`slotKey`) goes when it is to be rejoined once its `left` arrives. */
  ghosts: Set<string>;
}

export interface OccupancyCheckOptions {
  /** How long to wait for the ping's reply, in ms. */
  timeout: number;
  prosodyCompat: boolean;
  /** Mark ghosts for a rejoin. */
  rejoin: boolean;
  retryBackoff: BackoffOptions;
  random: () => number;
}

/** Returns the check of one slot: ping its room, then act on the verdict unless the occupancy changed meanwhile. */
export function occupancyCheck(deps: OccupancyCheckDeps, options: OccupancyCheckOptions): (slot: Slot) => Promise<SelfPingResult> {
  const { joins, iq, kind, limit, slots, emitter } = deps;
  const compat = options.prosodyCompat;

  async function ping(slot: Slot): Promise<SelfPingResult> {
    const before = joins.tracker.entry(slot.jid, slot.room);
    if (!before) {
      slots.drop(slot);
      throw new Error(`${slot.jid} is not in ${slot.room}`);
    }
    const { nick, epoch } = before;
    const started = performance.now();
    const target = { room: slot.room, nick, timeoutMs: options.timeout, ...(kind === "component" ? { from: slot.jid } : {}) };
    const outcome = await limit(() => selfPing(iq, target));
    const ms = Math.round(performance.now() - started);
    const verdict = classifySelfPing(outcome, { prosodyCompat: compat });
    const now = joins.tracker.entry(slot.jid, slot.room);
    // A real leave, rejoin or rename while the ping was out: its answer is about an occupancy that is gone.
    const stale = !now || now.epoch !== epoch || now.nick !== nick || (now.state !== "joined" && now.state !== "renaming");
    const result: SelfPingResult = { jid: slot.jid, room: slot.room, nick, verdict, outcome, trigger: slot.trigger, ms, stale };
    if (slots.stopped) return result;
    emitter.emit("self-ping", result);
    actOn(slot, result);
    return result;
  }

  function actOn(slot: Slot, { nick, verdict, outcome, stale }: SelfPingResult): void {
    if (stale || verdict === "joined") {
      if (!stale) joins.touch(slot.room, slot.jid);
      slots.release(slot);
      return;
    }
    if (verdict === "undecided") {
      slot.attempt += 1;
      const retryInMs = backoffDelay(slot.attempt - 1, options.retryBackoff, options.random);
      emitter.emit("undecided", { jid: slot.jid, room: slot.room, nick, outcome, attempt: slot.attempt, retryInMs });
      slots.retry(slot, retryInMs);
      return;
    }
    slots.release(slot);
    const reason = ghostReason(outcome, { prosodyCompat: compat });
    if (options.rejoin) deps.ghosts.add(slotKey(slot.jid, slot.room));
    emitter.emit("ghost", { jid: slot.jid, room: slot.room, nick, reason, outcome, trigger: slot.trigger });
    deps.stanzas.deliver(ghostPresence({ jid: slot.jid, room: slot.room, nick, reason }));
  }

  return ping;
}
