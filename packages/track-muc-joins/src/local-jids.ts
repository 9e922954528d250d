// Which local JID an occupancy belongs to. A client has one JID, whose resource may change with each new
// stream (a server-assigned one): its rooms are always its current JID's, whatever JID an older event named.
// A component has many (any JID of its domain), and says which one each stanza is from.
import { normalizeJid, type Kit } from "@xmppkit/core";
import type { JoinTracker } from "./join-tracker.js";

export const norm = (jid: string) => normalizeJid(jid) ?? jid;

export interface LocalJids {
  /** A client's current JID whatever is passed; for a component the JID given, or its domain. */
  localJid(jid?: string): string;
  /** The key of (local JID, room) in per-room maps: the room alone for a client. */
  key(jid: string, room: string): string;
  /** The attributes that say which local JID sends a stanza: `from` for a component, none for a client. */
  sendFrom(jid: string): { from?: string };
}

export function localJids({ entity, kind }: Pick<Kit, "entity" | "kind">): LocalJids {
  const ownJid = () => {
    const j = entity.jid?.toString() ?? (kind === "component" ? entity.options.domain : undefined);
    if (!j) throw new Error("the entity has no JID yet: pass `from`, or call this once online");
    return norm(j);
  };
  return {
    localJid: (jid?: string) => (kind === "client" || !jid ? ownJid() : norm(jid)),
    key: (jid: string, room: string) => (kind === "client" ? room : `${jid}\n${room}`),
    sendFrom: (jid: string) => (kind === "component" ? { from: jid } : {}),
  };
}

/** The tracker's answers about one local JID (default: the entity's own), as MucJoins gives them. */
export function occupancyViews(tracker: JoinTracker, localJid: LocalJids["localJid"]) {
  return {
    rooms: (jid?: string) => tracker.rooms(localJid(jid)),
    nick: (room: string, jid?: string) => tracker.nick(localJid(jid), room),
    isJoined: (room: string, jid?: string) => tracker.nick(localJid(jid), room) !== undefined,
    entries: (jid?: string) => tracker.entries(localJid(jid)),
    jids: () => tracker.jids(),
    jidOf: localJid,
    roomsJoined: (jid?: string) => Object.freeze(Object.fromEntries(tracker.rooms(localJid(jid)))),
    touch: (room: string, jid?: string) => tracker.touch(localJid(jid), room),
  };
}
