// Find out, after anything that may have cost us a room, whether each room still counts us in — and if not,
// say so to the application the way a room would, and rejoin.
//
// Triggers:
//   - the link came back while occupancies are still believed: a client's XEP-0198 resumption, a component's
//     reconnect (the server does not leave rooms on a component's behalf; its link is its "s2s");
//   - an error from a room we are in (or from its service) on something we sent there;
//   - optionally, a room silent for `interval` (XEP-0410 suggests about 15 minutes);
//   - on demand: check().
// After a trigger, wait `delay` (Prosody's ping_muc_delay, 60 s), then one self-ping per room from the JID that
// joined it, at most `concurrency` at once, each spread by up to `jitter`. A client's new stream without
// resumption needs no ping: the server has left every room, track-muc-joins ends them (stream-ended), and
// `rejoin` rejoins at once.
import { TypedEmitter, createLimiter, extend, logListenerErrors, type BackoffOptions, type Iq, type Kit, type Logger } from "@xmppkit/core";
import type { MucJoins } from "@xmppkit/track-muc-joins";
import { occupancyCheck, type PingMucEvents } from "./occupancy-check.js";
import { PingScheduler, type PingTrigger, type SelfPingResult } from "./ping-scheduler.js";
import { watchPingTriggers } from "./ping-triggers.js";

export type { PingMucEvents } from "./occupancy-check.js";
export type { PingTrigger, SelfPingResult } from "./ping-scheduler.js";

export interface PingMucOptions {
  /** Wait after a trigger before pinging, in ms (Prosody's ping_muc_delay; default 60 s). */
  delay?: number;
  /** Ping a room that has been silent this long, in ms (0: never; default 0). */
  interval?: number;
  /** How long to wait for each ping's reply, in ms (default 30 s). */
  timeout?: number;
  /** Pings in flight at once, over all rooms (default 16). */
  concurrency?: number;
  /** Spread the pings of one trigger over up to this many ms more (default 5 s). */
  jitter?: number;
  /** Rejoin a room that no longer counts us in, and rooms a client's new stream took away (default true). */
  rejoin?: boolean;
  /** Prosody's reading: any error or timeout means "not joined" (default false: XEP-0410's reading). */
  prosodyCompat?: boolean;
  /** Delays before asking again after an undecided ping (default 30 s doubling up to 10 min). */
  retryBackoff?: BackoffOptions;
  /** For tests: a source of randomness in [0, 1). */
  random?: () => number;
}

export interface PingMuc extends TypedEmitter<PingMucEvents> {
  /** Ping `room` now from `jid` (default: the entity's own JID); shares a ping already under way. */
  check(room: string, options?: { jid?: string }): Promise<SelfPingResult>;
  /** Ping every joined room of every local JID now (bounded by `concurrency`). */
  checkAll(): Promise<SelfPingResult[]>;
  /** Schedule pings after `delayMs` (default `delay`) for the rooms that match; returns how many were scheduled. */
  schedule(trigger: PingTrigger, filter?: { jid?: string; room?: string; domain?: string }, delayMs?: number): number;
  /** Pings waiting for their time. */
  readonly scheduled: number;
  /** Pings waiting for a reply or for a free slot. */
  readonly inFlight: number;
  stop(): void;
}

export type PingMucDeps = Pick<Kit, "stanzas" | "lifecycle" | "kind"> & {
  iq: Pick<Iq, "request">;
  joins: MucJoins;
  /** Where failing listeners are reported (a kit carries its logger). */
  logger?: Logger | undefined;
};

/** Composition: the triggers feed the scheduler, whose slots the occupancy check pings and acts on. */
export function setupPingMuc({ joins, iq, stanzas, lifecycle, kind, logger }: PingMucDeps, options: PingMucOptions = {}): PingMuc {
  const emitter = new TypedEmitter<PingMucEvents>(logListenerErrors(logger, "a ping-muc listener failed"));
  const rejoin = options.rejoin ?? true;
  const random = options.random ?? Math.random;
  /** Rooms whose synthetic removal we delivered and whose `left` should lead to a rejoin. */
  const ghosts = new Set<string>();
  const scheduler: PingScheduler = new PingScheduler(
    { joins, lifecycle, ping: (slot) => check(slot) },
    { delay: options.delay ?? 60_000, jitter: options.jitter ?? 5_000, random },
  );
  const check = occupancyCheck(
    { joins, iq, stanzas, kind, limit: createLimiter(options.concurrency ?? 16), slots: scheduler, emitter, ghosts },
    {
      timeout: options.timeout ?? 30_000,
      prosodyCompat: options.prosodyCompat ?? false,
      rejoin,
      retryBackoff: { initial: 30_000, max: 600_000, ...options.retryBackoff },
      random,
    },
  );
  const schedule: PingScheduler["schedule"] = (trigger, filter, delayMs) => scheduler.schedule(trigger, filter, delayMs);
  const offTriggers = watchPingTriggers({ lifecycle, joins, stanzas, schedule, ghosts }, { rejoin, interval: options.interval ?? 0 });

  return extend(emitter, {
    check: (room: string, o?: { jid?: string }) => scheduler.check(room, o),
    checkAll: () => scheduler.checkAll(),
    schedule,
    get scheduled() {
      return scheduler.scheduled;
    },
    get inFlight() {
      return scheduler.inFlight;
    },
    stop() {
      offTriggers();
      scheduler.stop();
    },
  }) as PingMuc;
}
