// The join tracker wired to an xmpp.js entity: it watches every presence the entity sends and every MUC
// presence it receives, for each local JID (a client's own full JID; any JID of a component's domain), and
// adds what every MUC bot writes by hand: join and leave that wait for the room's answer, and rooms kept
// joined across kicks, server restarts and new streams.
//
// A client's new stream without XEP-0198 resumption means the server has already taken the client out of
// every room (it sends unavailable on the client's behalf): all occupancies end. A resumed stream, and a
// component's reconnect, keep them: the server does not leave rooms for a component, so whether the
// component is still an occupant is a question for a self-ping (@xmppkit/ping-muc).
import { TypedEmitter, extend, logListenerErrors, type BackoffOptions, type Kit, type Logger } from "@xmppkit/core";
import { warnRosterPresence } from "./server-adaptation.js";
import { joinLeave, type JoinOptions, type Joined, type LeaveOptions } from "./join-leave.js";
import { JoinTracker, type LeaveReason, type RoomJoin, type TrackerEvent, type TrackerOptions } from "./join-tracker.js";
import { localJids, norm, occupancyViews } from "./local-jids.js";
import { RoomKeeper, type KeepOptions, type KeptRoom, type RejoinFailed } from "./room-keeper.js";
import { watchRoomTraffic } from "./room-traffic.js";
import { RoomWaiters } from "./room-waiters.js";

export type { JoinOptions, Joined, LeaveOptions } from "./join-leave.js";
export type { KeepOptions, KeptRoom } from "./room-keeper.js";

type EventOf<T extends TrackerEvent["type"]> = Omit<Extract<TrackerEvent, { type: T }>, "type">;

export interface MucJoinsEvents extends Record<string, unknown> {
  joined: EventOf<"joined">;
  "nick-changed": EventOf<"nick-changed">;
  left: EventOf<"left">;
  "join-failed": EventOf<"join-failed">;
  "rename-failed": EventOf<"rename-failed">;
  /** A rejoin attempt failed; `retryInMs` is absent when it gave up (a permanent error on a room not kept). */
  "rejoin-failed": RejoinFailed;
}

export interface MucJoinsOptions extends TrackerOptions {
  /** How long join() and leave() wait for the room's self-presence, in ms (default 30 s). */
  joinTimeout?: number;
  /** After creating a room (status 201), accept the default configuration so others can enter (default true). */
  instantRoom?: boolean;
  /** Delays between rejoin attempts (default 2 s doubling up to 5 min, with jitter). */
  rejoinBackoff?: BackoffOptions;
}

export interface MucJoins extends TypedEmitter<MucJoinsEvents> {
  /** The state machine itself, for inspection. */
  readonly tracker: JoinTracker;
  /** Rooms of a local JID (default: the entity's own JID): room bare JID → nick. */
  rooms(jid?: string): Map<string, string>;
  /** Our nick in `room`, if joined. */
  nick(room: string, jid?: string): string | undefined;
  isJoined(room: string, jid?: string): boolean;
  /** Every tracked entry, whatever its state (joining, joined, renaming, leaving). */
  entries(jid?: string): RoomJoin[];
  /** Local JIDs with at least one tracked room. */
  jids(): string[];
  /**
   * The local JID an occupancy belongs to: a client's current JID whatever is passed (its resource may change
   * with each new stream); for a component the JID given, or its domain.
   */
  jidOf(jid?: string): string;
  /** Prosody's `session.rooms_joined` for ported code: a frozen `{ [room]: nick }` snapshot. */
  roomsJoined(jid?: string): Readonly<Record<string, string>>;
  /** Note activity from `room` (for idle checks); incoming stanzas from the room do this already. */
  touch(room: string, jid?: string): void;
  /** Enter a room; resolves on the room's self-presence (110), rejects with MucJoinError or MucTimeoutError. */
  join(room: string, options: JoinOptions): Promise<Joined>;
  /** Leave a room (and stop keeping it); resolves with how the room confirmed it, or undefined if not in it. */
  leave(room: string, options?: LeaveOptions): Promise<LeaveReason | undefined>;
  /**
   * Rejoin a room we were in, with the nick and password of the last join and the history since the last
   * stanza seen, retrying with backoff until in the room; gives up on a permanent error (banned, wrong
   * password, members-only). Nothing happens if the room is joined or a rejoin is already under way.
   */
  rejoin(room: string, options?: { from?: string; nick?: string }): void;
  /** Stay in `room`: join when online, and rejoin after any removal other than our own leave. Returns "stop keeping". */
  keep(room: string, options: KeepOptions): () => void;
  kept(): KeptRoom[];
  /** Leave every joined room of every local JID (a component's graceful shutdown; a client's server does it). */
  leaveAll(options?: { status?: string; timeout?: number }): Promise<void>;
  /** Detach from the entity and cancel rejoins. */
  stop(): void;
}

export type MucJoinsDeps = Pick<Kit, "entity" | "stanzas" | "lifecycle" | "iq" | "kind"> &
  Partial<Pick<Kit, "privilege" | "reach" | "serverDomain">> & {
    /** Where failing listeners and what the server does wrong are reported (a kit carries its logger). */
    logger?: Logger | undefined;
  };

/** Composition: the tracker fed by the wire, the waiters, join and leave, and the room keeper. */
export function setupMucJoins(deps: MucJoinsDeps, options: MucJoinsOptions = {}): MucJoins {
  const { entity, stanzas, lifecycle, iq, kind, logger } = deps;
  const emitter = new TypedEmitter<MucJoinsEvents>(logListenerErrors(logger, "a track-muc-joins listener failed"));
  const tracker = new JoinTracker(options);
  const address = localJids({ entity, kind });
  const { localJid } = address;
  const waiters = new RoomWaiters(tracker);
  const { join, leave: leaveRoom } = joinLeave({ stanzas, iq, tracker, waiters, address }, options);
  const keeper = new RoomKeeper({ join, tracker, lifecycle, address, onRejoinFailed: (e) => emitter.emit("rejoin-failed", e) }, options.rejoinBackoff);

  function dispatch(events: TrackerEvent[]) {
    for (const ev of events) {
      const { type, ...payload } = ev;
      emitter.emit(type, payload as never);
      if (ev.type === "left") {
        waiters.left(ev.jid, ev.room, ev.reason);
        keeper.left(ev.jid, ev.room, ev.reason);
      }
    }
  }

  const offTraffic = watchRoomTraffic(
    { entity, stanzas, tracker },
    { dispatch, remember: (jid, room) => keeper.remember(jid, room), settleWaiters: (...a) => waiters.settleWaiters(...a) },
  );
  const offOnline = lifecycle.on("online", ({ resumed }) => {
    if (kind === "client" && !resumed) {
      // The server took us out of every room when the old stream ended; remember them for rejoins.
      for (const jid of tracker.jids()) for (const e of tracker.entries(jid)) keeper.remember(jid, e.room);
      dispatch(tracker.streamEnded());
    }
    keeper.online();
  });
  // A component with a kit: say when the server forwards presences it should not (ejabberd, presence = roster).
  const { privilege, reach } = deps;
  const offServer = kind === "component" && privilege && reach && logger ? warnRosterPresence({ ...deps, privilege, reach, logger }) : () => {};
  const offLost = lifecycle.on("link-lost", ({ reason }) => {
    keeper.linkLost();
    waiters.linkLost(reason);
  });

  async function leave(roomInput: string, o: LeaveOptions = {}): Promise<LeaveReason | undefined> {
    const room = norm(roomInput);
    const jid = localJid(o.from);
    keeper.forget(jid, room);
    return leaveRoom(room, jid, o);
  }

  async function leaveAll(o: { status?: string; timeout?: number } = {}) {
    keeper.clear();
    if (!lifecycle.online) return;
    const all = tracker.jids().flatMap((jid) => [...tracker.rooms(jid).keys()].map((room) => ({ jid, room })));
    await Promise.allSettled(all.map(({ jid, room }) => leave(room, { from: jid, status: o.status, timeout: o.timeout ?? 5000 })));
  }

  return extend(emitter, {
    tracker,
    ...occupancyViews(tracker, localJid),
    join,
    leave,
    rejoin: (room: string, o?: { from?: string; nick?: string }) => keeper.rejoin(room, o),
    keep: (room: string, o: KeepOptions) => keeper.keep(room, o),
    kept: () => keeper.kept(),
    leaveAll,
    stop() {
      offTraffic();
      offOnline();
      offLost();
      offServer();
      keeper.stop();
      waiters.rejectAll(new Error("track-muc-joins stopped"));
    },
  }) as MucJoins;
}
