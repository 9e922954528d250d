// Rooms kept joined, and rejoins. A kept room is joined whenever the link is up and rejoined after any removal
// other than our own leave (a kick, a room or server restart, a client's new stream); any room we were in can
// be rejoined on demand. A rejoin uses the nick and password of the last join and asks for the history since
// the last stanza seen (remembered when the room went away), and retries with backoff until in the room; it
// gives up on a permanent error (banned, wrong password, members-only) unless the room is kept.
import { StanzaError, backoffDelay, parseJid, type BackoffOptions, type Lifecycle } from "@xmppkit/core";
import type { JoinOptions, Joined } from "./join-leave.js";
import { PERMANENT_JOIN_CONDITIONS, type HistoryOptions } from "./join-room.js";
import type { JoinTracker, LeaveReason } from "./join-tracker.js";
import { norm, type LocalJids } from "./local-jids.js";

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

/** A rejoin attempt failed; `retryInMs` is absent when it gave up (a permanent error on a room not kept). */
export interface RejoinFailed {
  jid: string;
  room: string;
  nick: string;
  attempt: number;
  error: Error;
  retryInMs?: number;
}

export interface RoomKeeperDeps {
  join(room: string, options: JoinOptions): Promise<Joined>;
  tracker: Pick<JoinTracker, "entry" | "password">;
  lifecycle: Pick<Lifecycle, "online">;
  address: Pick<LocalJids, "localJid" | "key">;
  onRejoinFailed(event: RejoinFailed): void;
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

type KeptSpec = KeptRoom & { password?: string | undefined; history?: HistoryOptions | undefined };

const settled = (state: string | undefined) => state === "joined" || state === "renaming";

export class RoomKeeper {
  readonly #kept = new Map<string, KeptSpec>();
  readonly #rejoins = new Map<string, RejoinTask>();
  readonly #remembered = new Map<string, Remembered>();
  readonly #deps: RoomKeeperDeps;
  readonly #backoff: BackoffOptions;
  #stopped = false;

  /** `backoff`: delays between rejoin attempts (default 2 s doubling up to 5 min, with jitter). */
  constructor(deps: RoomKeeperDeps, backoff?: BackoffOptions) {
    this.#deps = deps;
    this.#backoff = { initial: 2000, max: 300_000, ...backoff };
  }

  /** Stay in `room`: join when online, and rejoin after any removal other than our own leave. Returns "stop keeping". */
  keep(roomInput: string, o: KeepOptions): () => void {
    const roomJid = parseJid(roomInput);
    if (!roomJid?.local || roomJid.resource) throw new TypeError(`not a room address (room@service): ${roomInput}`);
    const room = roomJid.toString();
    const jid = this.#deps.address.localJid(o.from);
    const k = this.#deps.address.key(jid, room);
    const spec = { room, nick: o.nick, from: jid, password: o.password, history: o.history };
    this.#kept.set(k, spec);
    if (this.#deps.lifecycle.online) this.ensureKept();
    return () => {
      if (this.#kept.get(k) === spec) this.#kept.delete(k); // not if a later keep() replaced it
    };
  }

  kept(): KeptRoom[] {
    return [...this.#kept.values()].map(({ room, nick, from }) => ({ room, nick, from }));
  }

  /** Rejoin a room we were in; nothing happens if a rejoin of it is already under way. Throws when no nick is known. */
  rejoin(roomInput: string, o: { from?: string; nick?: string } = {}): void {
    if (this.#stopped) return;
    const room = norm(roomInput);
    const jid = this.#deps.address.localJid(o.from);
    const k = this.#deps.address.key(jid, room);
    if (this.#rejoins.has(k)) return;
    const nick = o.nick ?? this.#kept.get(k)?.nick ?? this.#remembered.get(k)?.nick ?? this.#deps.tracker.entry(jid, room)?.nick;
    if (!nick) throw new Error(`no nick known for ${room}: pass one`);
    const task: RejoinTask = { jid, room, nick, attempt: 0, running: false };
    this.#rejoins.set(k, task);
    if (this.#deps.lifecycle.online) void this.#attemptRejoin(task);
  }

  /** Start a rejoin for every kept room we are not in (nor entering). */
  ensureKept(): void {
    const { tracker, address } = this.#deps;
    for (const [k, spec] of this.#kept) {
      const state = tracker.entry(address.localJid(spec.from), spec.room)?.state;
      if (settled(state) || state === "joining") continue;
      if (!this.#rejoins.has(k)) this.rejoin(spec.room, { from: spec.from, nick: spec.nick });
    }
  }

  /** Keep what a rejoin of (jid, room) needs before the tracker's entry goes away. */
  remember(jid: string, room: string): void {
    const { tracker, address } = this.#deps;
    const e = tracker.entry(jid, room);
    if (!e) return;
    const password = tracker.password(jid, room);
    this.#remembered.set(address.key(jid, room), { nick: e.nick, lastSeen: e.lastSeen, ...(password ? { password } : {}) });
  }

  /** (jid, room) ended: forget it after our own leave, rejoin it if kept after anything else. */
  left(jid: string, room: string, reason: LeaveReason): void {
    const k = this.#deps.address.key(jid, room);
    if (reason.kind === "left") this.#remembered.delete(k);
    if (this.#kept.has(k) && reason.kind !== "left") this.rejoin(room, { from: jid });
  }

  /** Our own leave of (jid, room): stop keeping it, and rejoining it. */
  forget(jid: string, room: string): void {
    const k = this.#deps.address.key(jid, room);
    this.#kept.delete(k);
    this.#cancel(k);
    this.#remembered.delete(k);
  }

  /** The link is up: join the kept rooms we are not in, and run the rejoins that wait for no timer. */
  online(): void {
    this.ensureKept();
    for (const task of this.#rejoins.values()) if (!task.timer && !task.running) void this.#attemptRejoin(task);
  }

  /** Retry as soon as the link is back rather than on a timer set while it was down. */
  linkLost(): void {
    for (const task of this.#rejoins.values()) {
      clearTimeout(task.timer);
      delete task.timer;
    }
  }

  /** Keep no room, and cancel every rejoin. */
  clear(): void {
    this.#kept.clear();
    for (const k of [...this.#rejoins.keys()]) this.#cancel(k);
  }

  /** Cancel every rejoin, and start none again. */
  stop(): void {
    this.#stopped = true;
    for (const k of [...this.#rejoins.keys()]) this.#cancel(k);
  }

  #cancel(k: string): void {
    const task = this.#rejoins.get(k);
    if (task) clearTimeout(task.timer);
    this.#rejoins.delete(k);
  }

  async #attemptRejoin(task: RejoinTask): Promise<void> {
    const { join, tracker, address } = this.#deps;
    const k = address.key(task.jid, task.room);
    if (this.#rejoins.get(k) !== task || task.running || this.#stopped) return;
    task.jid = address.localJid(task.jid);
    if (settled(tracker.entry(task.jid, task.room)?.state)) {
      this.#rejoins.delete(k);
      return;
    }
    task.running = true;
    const kept = this.#kept.get(k);
    const memory = this.#remembered.get(k);
    const password = kept?.password ?? memory?.password;
    const history = kept?.history ?? (memory ? { since: new Date(memory.lastSeen) } : undefined);
    try {
      await join(task.room, { nick: task.nick, password, history, from: task.jid });
      if (this.#rejoins.get(k) === task) this.#rejoins.delete(k);
    } catch (err) {
      task.running = false;
      if (this.#rejoins.get(k) === task) this.#failed(k, task, err as Error);
    }
  }

  /** A rejoin attempt failed: give up on a permanent error for a room not kept, else try again after a backoff. */
  #failed(k: string, task: RejoinTask, error: Error): void {
    task.attempt += 1;
    const { jid, room, nick, attempt } = task;
    const permanent = StanzaError.isInstance(error) && PERMANENT_JOIN_CONDITIONS.has(error.condition);
    if (permanent && !this.#kept.has(k)) {
      this.#rejoins.delete(k);
      this.#deps.onRejoinFailed({ jid, room, nick, attempt, error });
      return;
    }
    const retryInMs = backoffDelay(attempt - 1, this.#backoff);
    this.#deps.onRejoinFailed({ jid, room, nick, attempt, error, retryInMs });
    task.timer = setTimeout(() => void this.#attemptRejoin(task), retryInMs);
    task.timer.unref?.();
  }
}
