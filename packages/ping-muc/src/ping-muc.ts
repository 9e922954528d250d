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
import { TypedEmitter, backoffDelay, createLimiter, extend, normalizeJid, parseJid, StanzaError, type BackoffOptions, type Iq, type Kit } from "@xmppkit/core";
import type { MucJoins } from "@xmppkit/track-muc-joins";
import { ghostPresence } from "./ghost-presence.js";
import { classifySelfPing, ghostReason, selfPing, type PingOutcome, type Verdict } from "./self-ping.js";

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

export interface PingMucEvents extends Record<string, unknown> {
  "self-ping": SelfPingResult;
  /** The room no longer counted us in; the synthetic 110+333 unavailable was delivered. */
  ghost: { jid: string; room: string; nick: string; reason: string; outcome: PingOutcome; trigger: PingTrigger };
  /** No verdict (timeout, remote server unreachable); another ping follows in `retryInMs`. */
  undecided: { jid: string; room: string; nick: string; outcome: PingOutcome; attempt: number; retryInMs: number };
}

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

export type PingMucDeps = Pick<Kit, "stanzas" | "lifecycle" | "kind"> & { iq: Pick<Iq, "request">; joins: MucJoins };

interface Slot {
  jid: string;
  room: string;
  trigger: PingTrigger;
  attempt: number;
  timer?: NodeJS.Timeout;
  running?: Promise<SelfPingResult>;
}

const REMOTE_FAILURES = new Set(["remote-server-not-found", "remote-server-timeout"]);
const key = (jid: string, room: string) => `${jid}\n${room}`;

export function setupPingMuc({ joins, iq, stanzas, lifecycle, kind }: PingMucDeps, options: PingMucOptions = {}): PingMuc {
  const emitter = new TypedEmitter<PingMucEvents>();
  const delay = options.delay ?? 60_000;
  const timeout = options.timeout ?? 30_000;
  const jitter = options.jitter ?? 5_000;
  const rejoin = options.rejoin ?? true;
  const compat = options.prosodyCompat ?? false;
  const retryBackoff: BackoffOptions = { initial: 30_000, max: 600_000, ...options.retryBackoff };
  const random = options.random ?? Math.random;
  const limit = createLimiter(options.concurrency ?? 16);
  const slots = new Map<string, Slot>();
  /** Rooms whose synthetic removal we delivered and whose `left` should lead to a rejoin. */
  const ghosts = new Set<string>();
  let stopped = false;

  function* joinedRooms(filter: { jid?: string; room?: string; domain?: string } = {}) {
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

  function schedule(trigger: PingTrigger, filter: { jid?: string; room?: string; domain?: string } = {}, delayMs = delay): number {
    if (stopped) return 0;
    let n = 0;
    for (const { jid, room } of joinedRooms(filter)) {
      const k = key(jid, room);
      if (slots.has(k)) continue; // one ping per room: already scheduled or on its way
      const slot: Slot = { jid, room, trigger, attempt: 0 };
      slots.set(k, slot);
      arm(slot, delayMs + Math.round(random() * (delayMs > 0 ? jitter : 0)));
      n++;
    }
    return n;
  }

  function arm(slot: Slot, ms: number) {
    slot.timer = setTimeout(() => {
      delete slot.timer;
      void fire(slot);
    }, ms);
    slot.timer.unref?.();
  }

  async function fire(slot: Slot) {
    const k = key(slot.jid, slot.room);
    if (slots.get(k) !== slot || stopped) return;
    const entry = joins.tracker.entry(slot.jid, slot.room);
    if (!lifecycle.online || !entry || (entry.state !== "joined" && entry.state !== "renaming")) {
      // Offline: the link-restored trigger will schedule again. Not joined any more: nothing to check.
      slots.delete(k);
      return;
    }
    if (entry.state === "renaming") {
      // XEP-0410 §5: never ping between a nick change and its answer.
      arm(slot, 2000);
      return;
    }
    await run(slot).catch(() => undefined);
  }

  function run(slot: Slot): Promise<SelfPingResult> {
    if (slot.running) return slot.running;
    const promise = ping(slot).finally(() => {
      if (slot.running === promise) delete slot.running;
    });
    slot.running = promise;
    return promise;
  }

  async function ping(slot: Slot): Promise<SelfPingResult> {
    const k = key(slot.jid, slot.room);
    const before = joins.tracker.entry(slot.jid, slot.room);
    if (!before) {
      slots.delete(k);
      throw new Error(`${slot.jid} is not in ${slot.room}`);
    }
    const { nick, epoch } = before;
    const started = performance.now();
    const outcome = await limit(() => selfPing(iq, { room: slot.room, nick, timeoutMs: timeout, ...(kind === "component" ? { from: slot.jid } : {}) }));
    const ms = Math.round(performance.now() - started);
    const verdict = classifySelfPing(outcome, { prosodyCompat: compat });
    const now = joins.tracker.entry(slot.jid, slot.room);
    // A real leave, rejoin or rename while the ping was out: its answer is about an occupancy that is gone.
    const stale = !now || now.epoch !== epoch || now.nick !== nick || (now.state !== "joined" && now.state !== "renaming");
    const result: SelfPingResult = { jid: slot.jid, room: slot.room, nick, verdict, outcome, trigger: slot.trigger, ms, stale };
    if (stopped) return result;
    emitter.emit("self-ping", result);

    if (stale || verdict === "joined") {
      if (!stale) joins.touch(slot.room, slot.jid);
      if (slots.get(k) === slot) slots.delete(k);
      return result;
    }
    if (verdict === "undecided") {
      slot.attempt += 1;
      const retryInMs = backoffDelay(slot.attempt - 1, retryBackoff, random);
      emitter.emit("undecided", { jid: slot.jid, room: slot.room, nick, outcome, attempt: slot.attempt, retryInMs });
      if (slots.get(k) === slot && !stopped) arm(slot, retryInMs);
      return result;
    }
    if (slots.get(k) === slot) slots.delete(k);
    const reason = ghostReason(outcome, { prosodyCompat: compat });
    if (rejoin) ghosts.add(k);
    emitter.emit("ghost", { jid: slot.jid, room: slot.room, nick, reason, outcome, trigger: slot.trigger });
    stanzas.deliver(ghostPresence({ jid: slot.jid, room: slot.room, nick, reason }));
    return result;
  }

  async function check(roomInput: string, o: { jid?: string } = {}): Promise<SelfPingResult> {
    const jid = joins.jidOf(o.jid);
    const room = normalizeJid(roomInput) ?? roomInput;
    const k = key(jid, room);
    let slot = slots.get(k);
    if (!slot) {
      slot = { jid, room, trigger: "manual", attempt: 0 };
      slots.set(k, slot);
    }
    clearTimeout(slot.timer);
    delete slot.timer;
    return run(slot);
  }

  async function checkAll(): Promise<SelfPingResult[]> {
    const all = [...joinedRooms()];
    const settled = await Promise.allSettled(all.map(({ jid, room }) => check(room, { jid })));
    return settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  }

  // Triggers.
  const offRestored = lifecycle.on("link-restored", () => void schedule("link-restored"));
  const offLeft = joins.on("left", ({ jid, room, nick, reason }) => {
    const k = key(jid, room);
    const wasGhost = ghosts.delete(k);
    if (rejoin && (wasGhost || reason.kind === "stream-ended")) joins.rejoin(room, { from: jid, nick });
  });
  const offIncoming = stanzas.onIncoming((stanza) => {
    if (stanza.attrs.type !== "error") return;
    const jid = normalizeJid(stanza.attrs.to as string | undefined);
    const from = parseJid(stanza.attrs.from as string | undefined);
    if (!jid || !from) return;
    const condition = StanzaError.fromStanza(stanza).condition;
    const remote = REMOTE_FAILURES.has(condition);
    if (!from.local) {
      // From the MUC service itself: only a remote-server failure says something about its rooms.
      if (remote) schedule("room-error", { jid, domain: from.domain });
      return;
    }
    const room = from.bare().toString();
    const entry = joins.tracker.entry(jid, room);
    if (entry?.state !== "joined") return; // a join or rename error is track-muc-joins' business
    if (stanza.name === "iq" && !remote) return; // an IQ the room refused says nothing about occupancy
    schedule("room-error", remote ? { jid, domain: from.domain } : { jid, room });
  });

  let idleTimer: NodeJS.Timeout | undefined;
  const interval = options.interval ?? 0;
  if (interval > 0) {
    idleTimer = setInterval(
      () => {
        if (!lifecycle.online) return;
        const now = Date.now();
        for (const { jid, room } of joinedRooms()) {
          const e = joins.tracker.entry(jid, room);
          if (e && now - e.lastSeen >= interval) schedule("idle", { jid, room }, 0);
        }
      },
      Math.max(1000, Math.floor(interval / 4)),
    );
    idleTimer.unref?.();
  }

  return extend(emitter, {
    check,
    checkAll,
    schedule,
    get scheduled() {
      return [...slots.values()].filter((s) => s.timer).length;
    },
    get inFlight() {
      return [...slots.values()].filter((s) => s.running).length;
    },
    stop() {
      stopped = true;
      offRestored();
      offLeft();
      offIncoming();
      clearInterval(idleTimer);
      for (const s of slots.values()) clearTimeout(s.timer);
      slots.clear();
    },
  }) as PingMuc;
}
