// What the join tracker learns from the wire: every presence the entity sends (joins, nick changes, leaves),
// and every stanza it receives from a room it is in or joining (the room's presences; any other stanza is a
// sign of life for idle checks).
// https://xmpp.org/extensions/xep-0045.html
import { normalizeJid, parseJid, type Element, type Kit } from "@xmppkit/core";
import type { JoinTracker, TrackerEvent } from "./join-tracker.js";

export interface RoomTrafficHooks {
  /** Act on what the tracker concluded. */
  dispatch(events: TrackerEvent[]): void;
  /** An unavailable presence from (jid, room) is about to end its entry: keep what a rejoin needs. */
  remember(jid: string, room: string): void;
  /** A presence from `room/nick` came in and was tracked: a join waiting for it may be answered. */
  settleWaiters(jid: string, room: string, nick: string | undefined, presence: Element): void;
}

/** Watch the entity's stanzas; returns "stop watching". */
export function watchRoomTraffic(
  { entity, stanzas, tracker }: Pick<Kit, "entity" | "stanzas"> & { tracker: JoinTracker },
  hooks: RoomTrafficHooks,
): () => void {
  const offOutgoing = stanzas.onOutgoing((stanza) => {
    if (stanza.name !== "presence") return;
    const from = (stanza.attrs.from as string | undefined) ?? entity.jid?.toString();
    if (!from) return;
    hooks.dispatch(tracker.outgoing(stanza, from));
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
    if (stanza.attrs.type === "unavailable") hooks.remember(jid, room);
    hooks.dispatch(tracker.incoming(stanza));
    tracker.touchNormalized(jid, room);
    hooks.settleWaiters(jid, room, from.resource, stanza);
  });

  return () => {
    offOutgoing();
    offIncoming();
  };
}
