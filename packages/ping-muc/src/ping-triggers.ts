// What makes ping-muc look: the link restored while occupancies are still believed, an error from a room we
// are in (or from its service), a room silent for `interval`. And what follows a room's `left` after a ghost or
// a client's lost stream: a rejoin.
// https://xmpp.org/extensions/xep-0410.html
import { StanzaError, normalizeJid, parseJid, type Element, type Kit, type Lifecycle } from "@xmppkit/core";
import type { MucJoins } from "@xmppkit/track-muc-joins";
import { joinedRooms, slotKey, type PingScheduler } from "./ping-scheduler.js";

const REMOTE_FAILURES = new Set(["remote-server-not-found", "remote-server-timeout"]);

type Schedule = PingScheduler["schedule"];
type JoinsView = Pick<MucJoins, "on" | "rejoin" | "jidOf" | "jids" | "tracker">;

export interface PingTriggersDeps {
  lifecycle: Pick<Lifecycle, "on" | "online">;
  joins: JoinsView;
  stanzas: Pick<Kit["stanzas"], "onIncoming">;
  schedule: Schedule;
  /** Keys (`slotKey`) of the ghosts whose `left` leads to a rejoin. */
  ghosts: Set<string>;
}

/** Start watching; returns "stop watching". */
export function watchPingTriggers(deps: PingTriggersDeps, options: { rejoin: boolean; interval: number }): () => void {
  const { lifecycle, joins, stanzas, schedule, ghosts } = deps;
  const offRestored = lifecycle.on("link-restored", () => void schedule("link-restored"));
  const offLeft = joins.on("left", ({ jid, room, nick, reason }) => {
    const wasGhost = ghosts.delete(slotKey(jid, room));
    if (options.rejoin && (wasGhost || reason.kind === "stream-ended")) joins.rejoin(room, { from: jid, nick });
  });
  const offIncoming = stanzas.onIncoming(roomErrorTrigger(joins, schedule));
  const idleTimer = options.interval > 0 ? idleTrigger(deps, options.interval) : undefined;
  return () => {
    offRestored();
    offLeft();
    offIncoming();
    clearInterval(idleTimer);
  };
}

/** An error from a room we are in, or a remote-server failure from a MUC service, schedules a check. */
export function roomErrorTrigger(joins: Pick<MucJoins, "tracker">, schedule: Schedule): (stanza: Element) => void {
  return (stanza) => {
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
  };
}

/** Every quarter of `interval` (at least 1 s) while online, schedule an immediate check of each room silent that long. */
export function idleTrigger({ lifecycle, joins, schedule }: Omit<PingTriggersDeps, "stanzas" | "ghosts">, interval: number): NodeJS.Timeout {
  const timer = setInterval(
    () => {
      if (!lifecycle.online) return;
      const now = Date.now();
      for (const { jid, room } of joinedRooms(joins)) {
        const e = joins.tracker.entry(jid, room);
        if (e && now - e.lastSeen >= interval) schedule("idle", { jid, room }, 0);
      }
    },
    Math.max(1000, Math.floor(interval / 4)),
  );
  timer.unref?.();
  return timer;
}
