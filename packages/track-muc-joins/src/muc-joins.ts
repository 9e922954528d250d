// The join tracker wired to an xmpp.js entity: it watches every presence the entity sends and every MUC
// presence it receives, for each local JID (a client's own full JID; any JID of a component's domain), and
// adds what every MUC bot writes by hand: join and leave that wait for the room's answer, and rooms kept
// joined across kicks, server restarts and new streams.
//
// A client's new stream without XEP-0198 resumption means the server has already taken the client out of
// every room (it sends unavailable on the client's behalf): all occupancies end. A resumed stream, and a
// component's reconnect, keep them: the server does not leave rooms for a component, so whether the
// component is still an occupant is a question for a self-ping (@xmppkit/ping-muc).
import { StanzaError, TypedEmitter, backoffDelay, extend, normalizeJid, parseJid, xml, type BackoffOptions, type Element, type Kit } from "@xmppkit/core";
import { JoinTracker, mucStatusCodes, type LeaveReason, type RoomJoin, type TrackerEvent, type TrackerOptions } from "./join-tracker.js";
import { MucJoinError, MucTimeoutError, PERMANENT_JOIN_CONDITIONS, instantRoomForm, joinPresence, type HistoryOptions } from "./join-room.js";

type EventOf<T extends TrackerEvent["type"]> = Omit<Extract<TrackerEvent, { type: T }>, "type">;

export interface MucJoinsEvents extends Record<string, unknown> {
  joined: EventOf<"joined">;
  "nick-changed": EventOf<"nick-changed">;
  left: EventOf<"left">;
  "join-failed": EventOf<"join-failed">;
  "rename-failed": EventOf<"rename-failed">;
  /** A rejoin attempt failed; `retryInMs` is absent when it gave up (a permanent error on a room not kept). */
  "rejoin-failed": { jid: string; room: string; nick: string; attempt: number; error: Error; retryInMs?: number };
}

export interface MucJoinsOptions extends TrackerOptions {
  /** How long join() and leave() wait for the room's self-presence, in ms (default 30 s). */
  joinTimeout?: number;
  /** After creating a room (status 201), accept the default configuration so others can enter (default true). */
  instantRoom?: boolean;
  /** Delays between rejoin attempts (default 2 s doubling up to 5 min, with jitter). */
  rejoinBackoff?: BackoffOptions;
}

export interface JoinOptions {
  nick: string;
  password?: string | undefined;
  history?: HistoryOptions | undefined;
  /** The local JID that joins: required for a component (any JID of its domain); a client's own JID by default. */
  from?: string | undefined;
  /** ms to wait for the self-presence (default: the `joinTimeout` option). */
  timeout?: number | undefined;
  /** Extra children for the join presence (<show/>, <status/>, <c/> caps…). */
  children?: Element[] | undefined;
}

export interface Joined {
  room: string;
  /** The nick the room gave us (it may differ from the one asked for: `nickAssigned`). */
  nick: string;
  /** 201: the join created the room. */
  created: boolean;
  /** 210, or a nick other than the one asked for. */
  nickAssigned: boolean;
  /** A room we created whose instant-room form was refused: it stays locked until configured. */
  locked: boolean;
  /** Status codes of the self-presence. */
  codes: string[];
  /** The self-presence itself. */
  presence: Element;
}

export interface LeaveOptions {
  from?: string | undefined;
  /** A <status/> text for the other occupants. */
  status?: string | undefined;
  timeout?: number | undefined;
}

export interface KeepOptions {
  nick: string;
  password?: string | undefined;
  from?: string | undefined;
  /** History on each (re)join; default: the room's default on the first join, then what was said since the last stanza seen. */
  history?: HistoryOptions | undefined;
}

export interface KeptRoom {
  room: string;
  nick: string;
  from: string;
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

const norm = (jid: string) => normalizeJid(jid) ?? jid;

interface Waiter<T> {
  jid: string;
  room: string;
  resolve(value: T): void;
  reject(err: Error): void;
}

interface RejoinTask {
  jid: string;
  room: string;
  nick: string;
  attempt: number;
  timer?: NodeJS.Timeout;
  running: boolean;
}

interface Remembered {
  nick: string;
  password?: string;
  lastSeen: number;
}

export type MucJoinsDeps = Pick<Kit, "entity" | "stanzas" | "lifecycle" | "iq" | "kind">;

export function setupMucJoins({ entity, stanzas, lifecycle, iq, kind }: MucJoinsDeps, options: MucJoinsOptions = {}): MucJoins {
  const emitter = new TypedEmitter<MucJoinsEvents>();
  const tracker = new JoinTracker(options);
  const joinTimeout = options.joinTimeout ?? 30_000;
  const backoff: BackoffOptions = { initial: 2000, max: 300_000, ...options.rejoinBackoff };
  const joinWaiters = new Set<Waiter<Element>>();
  const leaveWaiters = new Set<Waiter<LeaveReason>>();
  const keptRooms = new Map<string, KeptRoom & { password?: string | undefined; history?: HistoryOptions | undefined }>();
  const rejoins = new Map<string, RejoinTask>();
  const remembered = new Map<string, Remembered>();
  let stopped = false;

  const ownJid = () => {
    const j = entity.jid?.toString() ?? (kind === "component" ? entity.options.domain : undefined);
    if (!j) throw new Error("the entity has no JID yet: pass `from`, or call this once online");
    return norm(j);
  };
  // A client has one JID, whose resource may change with each new stream (a server-assigned one): its rooms
  // are always its current JID's, whatever JID an older event named. A component has many.
  const localJid = (jid?: string) => (kind === "client" || !jid ? ownJid() : norm(jid));
  const key = (jid: string, room: string) => (kind === "client" ? room : `${jid}\n${room}`);
  const sendFrom = (jid: string) => (kind === "component" ? { from: jid } : {});

  function remember(jid: string, room: string) {
    const e = tracker.entry(jid, room);
    if (!e) return;
    const password = tracker.password(jid, room);
    remembered.set(key(jid, room), { nick: e.nick, lastSeen: e.lastSeen, ...(password ? { password } : {}) });
  }

  function dispatch(events: TrackerEvent[]) {
    for (const ev of events) {
      const { type, ...payload } = ev;
      emitter.emit(type, payload as never);
      if (ev.type === "left") afterLeft(ev.jid, ev.room, ev.reason);
    }
  }

  function afterLeft(jid: string, room: string, reason: LeaveReason) {
    const k = key(jid, room);
    for (const w of [...leaveWaiters]) if (w.jid === jid && w.room === room) w.resolve(reason);
    if (reason.kind === "left") remembered.delete(k);
    if (keptRooms.has(k) && reason.kind !== "left") rejoin(room, { from: jid });
  }

  const offOutgoing = stanzas.onOutgoing((stanza) => {
    if (stanza.name !== "presence") return;
    const from = (stanza.attrs.from as string | undefined) ?? entity.jid?.toString();
    if (!from) return;
    dispatch(tracker.outgoing(stanza, from));
  });

  const offIncoming = stanzas.onIncoming((stanza) => {
    // The hot path: every stanza the entity receives comes here. One from no room with an entry (a user's
    // IQ, a roster push, a ping…) is told apart on its raw `from`, with a Set lookup and no JID parsed.
    if (!tracker.mayConcern(stanza.attrs.from as string | undefined)) return;
    // From a room we are in or joining: each address parsed once.
    const jid = normalizeJid(stanza.attrs.to as string | undefined);
    const from = parseJid(stanza.attrs.from as string | undefined);
    if (!jid || !from) return;
    const room = from.local ? `${from.local}@${from.domain}` : from.domain; // from.bare().toString(), without a new JID
    if (stanza.name !== "presence") {
      // An error is no sign of life (ping-muc treats errors from a room as a reason to check).
      if (stanza.attrs.type !== "error") tracker.touchNormalized(jid, room);
      return;
    }
    // Keep what a rejoin needs before the entry goes away (the only way entries of joined rooms go).
    if (!tracker.entry(jid, room)) return; // not a room we are in or joining: nothing to learn from it
    if (stanza.attrs.type === "unavailable") remember(jid, room);
    dispatch(tracker.incoming(stanza));
    tracker.touchNormalized(jid, room);
    settleWaiters(jid, room, from.resource, stanza);
  });

  /** A join waits for the room's error, or for our own self-presence (the nick the tracker holds). */
  function settleWaiters(jid: string, room: string, nick: string | undefined, presence: Element) {
    const type = presence.attrs.type as string | undefined;
    const settle = (w: Waiter<Element>) => {
      if (type === "error") w.reject(StanzaError.fromStanza(presence));
      else w.resolve(presence);
    };
    const ours =
      type === undefined && mucStatusCodes(presence).includes("110") && tracker.entry(jid, room)?.nick === nick && tracker.entry(jid, room)?.state === "joined";
    if (type === "error" || ours) {
      for (const w of [...joinWaiters]) if (w.jid === jid && w.room === room) settle(w);
    }
  }

  /** Wait for the room's answer about (jid, room); `timeoutError` after `timeoutMs`. `fail` ends the wait early. */
  function awaitRoom<T>(set: Set<Waiter<T>>, jid: string, room: string, timeoutMs: number, timeoutError: () => Error) {
    let waiter!: Waiter<T>;
    const answer = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => waiter.reject(timeoutError()), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        set.delete(waiter);
      };
      waiter = {
        jid,
        room,
        resolve: (v) => {
          done();
          resolve(v);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
    });
    set.add(waiter);
    return { answer, fail: (err: unknown) => waiter.reject(err instanceof Error ? err : new Error(String(err))) };
  }

  async function join(roomInput: string, o: JoinOptions): Promise<Joined> {
    const roomJid = parseJid(roomInput);
    if (!roomJid?.local || roomJid.resource) throw new TypeError(`not a room address (room@service): ${roomInput}`);
    if (!o.nick) throw new TypeError("a nick is required to join a room");
    const room = roomJid.toString();
    const jid = localJid(o.from);
    const timeout = o.timeout ?? joinTimeout;

    const { answer, fail } = awaitRoom(joinWaiters, jid, room, timeout, () => new MucTimeoutError(room, "join", timeout));
    stanzas.send(joinPresence(room, o.nick, { password: o.password, history: o.history, children: o.children, ...sendFrom(jid) })).catch(fail);
    let presence: Element;
    try {
      presence = await answer;
    } catch (err) {
      throw StanzaError.isInstance(err) && !MucJoinError.isInstance(err) ? new MucJoinError(room, o.nick, err) : err;
    }

    const nick = parseJid(presence.attrs.from as string)?.resource ?? o.nick;
    const codes = mucStatusCodes(presence);
    const created = codes.includes("201");
    let locked = false;
    if (created && options.instantRoom !== false) {
      try {
        await iq.request(xml("iq", { type: "set", to: room, ...sendFrom(jid) }, instantRoomForm()), { timeout });
      } catch {
        locked = true;
      }
    }
    return { room, nick, created, nickAssigned: codes.includes("210") || nick !== o.nick, locked, codes, presence };
  }

  async function leave(roomInput: string, o: LeaveOptions = {}): Promise<LeaveReason | undefined> {
    const room = norm(roomInput);
    const jid = localJid(o.from);
    const k = key(jid, room);
    keptRooms.delete(k);
    cancelRejoin(k);
    remembered.delete(k);
    const entry = tracker.entry(jid, room);
    if (!entry) return undefined;
    const timeout = o.timeout ?? joinTimeout;
    const { answer, fail } = awaitRoom(leaveWaiters, jid, room, timeout, () => new MucTimeoutError(room, "leave", timeout));
    stanzas
      .send(xml("presence", { type: "unavailable", to: `${room}/${entry.nick}`, ...sendFrom(jid) }, ...(o.status ? [xml("status", {}, o.status)] : [])))
      .catch(fail);
    return answer;
  }

  function cancelRejoin(k: string) {
    const task = rejoins.get(k);
    if (task) clearTimeout(task.timer);
    rejoins.delete(k);
  }

  function rejoin(roomInput: string, o: { from?: string; nick?: string } = {}) {
    if (stopped) return;
    const room = norm(roomInput);
    const jid = localJid(o.from);
    const k = key(jid, room);
    if (rejoins.has(k)) return;
    const nick = o.nick ?? keptRooms.get(k)?.nick ?? remembered.get(k)?.nick ?? tracker.entry(jid, room)?.nick;
    if (!nick) throw new Error(`no nick known for ${room}: pass one`);
    const task: RejoinTask = { jid, room, nick, attempt: 0, running: false };
    rejoins.set(k, task);
    if (lifecycle.online) void attemptRejoin(task);
  }

  async function attemptRejoin(task: RejoinTask) {
    const k = key(task.jid, task.room);
    if (rejoins.get(k) !== task || task.running || stopped) return;
    task.jid = localJid(task.jid);
    const state = tracker.entry(task.jid, task.room)?.state;
    if (state === "joined" || state === "renaming") {
      rejoins.delete(k);
      return;
    }
    task.running = true;
    const kept = keptRooms.get(k);
    const memory = remembered.get(k);
    const password = kept?.password ?? memory?.password;
    const history = kept?.history ?? (memory ? { since: new Date(memory.lastSeen) } : undefined);
    try {
      await join(task.room, { nick: task.nick, password, history, from: task.jid });
      if (rejoins.get(k) === task) rejoins.delete(k);
    } catch (err) {
      task.running = false;
      if (rejoins.get(k) !== task) return;
      task.attempt += 1;
      const error = err as Error;
      const permanent = StanzaError.isInstance(err) && PERMANENT_JOIN_CONDITIONS.has(err.condition);
      if (permanent && !keptRooms.has(k)) {
        rejoins.delete(k);
        emitter.emit("rejoin-failed", { jid: task.jid, room: task.room, nick: task.nick, attempt: task.attempt, error });
        return;
      }
      const retryInMs = backoffDelay(task.attempt - 1, backoff);
      emitter.emit("rejoin-failed", { jid: task.jid, room: task.room, nick: task.nick, attempt: task.attempt, error, retryInMs });
      task.timer = setTimeout(() => void attemptRejoin(task), retryInMs);
      task.timer.unref?.();
    }
  }

  function ensureKept() {
    for (const [k, spec] of keptRooms) {
      const state = tracker.entry(localJid(spec.from), spec.room)?.state;
      if (state === "joined" || state === "renaming" || state === "joining") continue;
      if (!rejoins.has(k)) rejoin(spec.room, { from: spec.from, nick: spec.nick });
    }
  }

  const offOnline = lifecycle.on("online", ({ resumed }) => {
    if (kind === "client" && !resumed) {
      // The server took us out of every room when the old stream ended; remember them for rejoins.
      for (const jid of tracker.jids()) for (const e of tracker.entries(jid)) remember(jid, e.room);
      dispatch(tracker.streamEnded());
    }
    ensureKept();
    for (const task of rejoins.values()) if (!task.timer && !task.running) void attemptRejoin(task);
  });
  const offLost = lifecycle.on("link-lost", ({ reason }) => {
    // Retry as soon as the link is back rather than on a timer set while it was down.
    for (const task of rejoins.values()) {
      clearTimeout(task.timer);
      delete task.timer;
    }
    // No room answers over a dead link: a leave is as done as it gets (a shutdown while the server goes
    // away must not wait out the timeout), a join fails now and its rejoin runs when the link is back.
    for (const w of [...leaveWaiters]) w.resolve({ kind: "stream-ended", codes: [] });
    for (const w of [...joinWaiters]) w.reject(new Error(`the link to the server dropped before the room answered (${reason})`));
  });

  function keep(roomInput: string, o: KeepOptions): () => void {
    const roomJid = parseJid(roomInput);
    if (!roomJid?.local || roomJid.resource) throw new TypeError(`not a room address (room@service): ${roomInput}`);
    const room = roomJid.toString();
    const jid = localJid(o.from);
    const k = key(jid, room);
    const spec = { room, nick: o.nick, from: jid, password: o.password, history: o.history };
    keptRooms.set(k, spec);
    if (lifecycle.online) ensureKept();
    return () => {
      if (keptRooms.get(k) === spec) keptRooms.delete(k); // not if a later keep() replaced it
    };
  }

  async function leaveAll(o: { status?: string; timeout?: number } = {}) {
    keptRooms.clear();
    for (const k of [...rejoins.keys()]) cancelRejoin(k);
    if (!lifecycle.online) return;
    const all = tracker.jids().flatMap((jid) => [...tracker.rooms(jid).keys()].map((room) => ({ jid, room })));
    await Promise.allSettled(all.map(({ jid, room }) => leave(room, { from: jid, status: o.status, timeout: o.timeout ?? 5000 })));
  }

  return extend(emitter, {
    tracker,
    rooms: (jid?: string) => tracker.rooms(localJid(jid)),
    nick: (room: string, jid?: string) => tracker.nick(localJid(jid), room),
    isJoined: (room: string, jid?: string) => tracker.nick(localJid(jid), room) !== undefined,
    entries: (jid?: string) => tracker.entries(localJid(jid)),
    jids: () => tracker.jids(),
    jidOf: localJid,
    roomsJoined: (jid?: string) => Object.freeze(Object.fromEntries(tracker.rooms(localJid(jid)))),
    touch: (room: string, jid?: string) => tracker.touch(localJid(jid), room),
    join,
    leave,
    rejoin,
    keep,
    kept: () => [...keptRooms.values()].map(({ room, nick, from }) => ({ room, nick, from })),
    leaveAll,
    stop() {
      stopped = true;
      offOutgoing();
      offIncoming();
      offOnline();
      offLost();
      for (const k of [...rejoins.keys()]) cancelRejoin(k);
      for (const w of [...joinWaiters, ...leaveWaiters]) w.reject(new Error("track-muc-joins stopped"));
    },
  }) as MucJoins;
}
