// Which rooms each local JID is in, from the presence it sends and the MUC presence it receives: the XEP-0045
// state machine. https://xmpp.org/extensions/xep-0045.html
//
// Prosody's mod_track_muc_joins only looks at status 110 and requires a directed presence to the exact
// `room/nick` it gets back, so a nick rewritten by the service (210) is never tracked, a nick change drops the
// room for a moment, and a destroyed room (no 110 in XEP-0045's example) stays "joined" forever. Here a pending
// join or rename accepts whatever nick the room assigns, 303 keeps the room through a rename, and an
// unavailable from our own occupant JID without 110 still ends the occupancy.
//
// This file is pure state: feed it presence stanzas, get events back. `track-muc-joins.ts` wires it to an entity.
import { StanzaError, normalizeJid, parseJid, type Element } from "@xmppkit/core";

export const NS_MUC = "http://jabber.org/protocol/muc";
export const NS_MUC_USER = "http://jabber.org/protocol/muc#user";

export type JoinState = "joining" | "joined" | "renaming" | "leaving";

export interface RoomJoin {
  room: string;
  /** The nick the room confirmed (the requested one while joining). */
  nick: string;
  state: JoinState;
  /** The nick asked for by the pending join or rename. */
  requestedNick: string;
  /** 201: the join created the room. */
  created: boolean;
  /** 210: the service assigned or changed the nick. */
  nickAssigned: boolean;
  /** Changes each time the occupancy starts anew, so a late answer about an older one can be told apart. */
  epoch: number;
  /** When a stanza from the room last reached this JID (ms since the epoch; the join time at first). */
  lastSeen: number;
}

/** An entry with what the join presence carried that is not for display (the room password). */
interface Entry extends RoomJoin {
  password?: string;
}

/** Why an occupancy ended. Status codes from XEP-0045 §15.2. */
export type LeaveKind =
  | "left"
  | "kicked"
  | "banned"
  | "affiliation-changed"
  | "members-only"
  | "shutdown"
  | "error"
  | "destroyed"
  | "unavailable"
  | "stream-ended";

export interface LeaveReason {
  kind: LeaveKind;
  /** Every status code in the presence. */
  codes: string[];
  /** <item><reason/> or <destroy><reason/>. */
  reason?: string;
  /** <item><actor nick|jid/>. */
  actor?: string;
  /** <destroy jid/>: where the room moved. */
  alternate?: string;
}

export type TrackerEvent =
  | { type: "joined"; jid: string; room: string; nick: string; created: boolean; nickAssigned: boolean }
  | { type: "nick-changed"; jid: string; room: string; from: string; to: string; nickAssigned: boolean }
  | { type: "left"; jid: string; room: string; nick: string; reason: LeaveReason }
  | { type: "join-failed"; jid: string; room: string; nick: string; condition: string; text?: string }
  | { type: "rename-failed"; jid: string; room: string; nick: string; requestedNick: string; condition: string; text?: string };

export interface TrackerOptions {
  /** An unavailable from our own occupant JID without 110 ends the occupancy (destroy; default true). */
  unavailableWithout110EndsJoin?: boolean;
}

const KIND_BY_CODE: Record<string, LeaveKind> = {
  "307": "kicked",
  "301": "banned",
  "321": "affiliation-changed",
  "322": "members-only",
  "332": "shutdown",
  "333": "error",
};

function statusCodes(x: Element | undefined): string[] {
  return x
    ? x
        .getChildren("status")
        .map((s) => String(s.attrs.code ?? ""))
        .filter(Boolean)
    : [];
}

/** The XEP-0045 status codes of a MUC presence (`<x xmlns="…muc#user"><status code/>`), as strings. */
export function mucStatusCodes(presence: Element): string[] {
  return statusCodes(presence.getChild("x", NS_MUC_USER));
}

function leaveReason(x: Element | undefined, codes: string[], fallback: LeaveKind): LeaveReason {
  const item = x?.getChild("item");
  const destroy = x?.getChild("destroy");
  const kind = destroy ? "destroyed" : (codes.map((c) => KIND_BY_CODE[c]).find(Boolean) ?? fallback);
  const out: LeaveReason = { kind, codes };
  const reason = (destroy?.getChildText("reason") ?? item?.getChildText("reason"))?.trim();
  if (reason) out.reason = reason;
  const actor = item?.getChild("actor");
  const actorName = actor?.attrs.nick ?? actor?.attrs.jid;
  if (actorName) out.actor = String(actorName);
  if (destroy?.attrs.jid) out.alternate = String(destroy.attrs.jid);
  return out;
}

function stanzaError(presence: Element): { condition: string; text?: string } {
  const { condition, text } = StanzaError.fromStanza(presence);
  return { condition, ...(text ? { text } : {}) };
}

let epochs = 0;

/** Lookups accept JIDs as the caller wrote them. */
const norm = (jid: string) => normalizeJid(jid) ?? jid;

/**
 * Characters of a local part that make @xmpp/jid apply XEP-0106 escaping (see its `detect`): with none of
 * them, a bare JID's normalised form is simply its lower-cased form.
 */
const ESCAPED_IN_LOCAL = /[ "&'/:<>@\\]/;

export class JoinTracker {
  readonly #joins = new Map<string, Map<string, Entry>>();
  /** Every room with an entry, whatever the local JID: room → how many local JIDs have one. */
  readonly #rooms = new Map<string, number>();
  readonly #options: Required<TrackerOptions>;
  readonly #now: () => number;

  constructor(options: TrackerOptions = {}, now: () => number = Date.now) {
    this.#options = { unavailableWithout110EndsJoin: options.unavailableWithout110EndsJoin ?? true };
    this.#now = now;
  }

  /** Rooms of a local full JID: room bare JID → nick (joined or renaming). */
  rooms(jid: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const [room, j] of this.#joins.get(norm(jid)) ?? []) if (j.state === "joined" || j.state === "renaming") out.set(room, j.nick);
    return out;
  }

  nick(jid: string, room: string): string | undefined {
    const j = this.#get(norm(jid), norm(room));
    return j && (j.state === "joined" || j.state === "renaming") ? j.nick : undefined;
  }

  /** Every tracked entry of a local JID, whatever its state (copies; the room password is left out). */
  entries(jid: string): RoomJoin[] {
    return [...(this.#joins.get(norm(jid))?.values() ?? [])].map(({ password: _password, ...j }) => j);
  }

  /** One entry (a copy without the password), whatever its state. */
  entry(jid: string, room: string): RoomJoin | undefined {
    const e = this.#get(norm(jid), norm(room));
    if (!e) return undefined;
    const { password: _password, ...j } = e;
    return j;
  }

  /** The password the last join presence to `room` carried, for a rejoin. */
  password(jid: string, room: string): string | undefined {
    return this.#get(norm(jid), norm(room))?.password;
  }

  /** A stanza from `room` reached `jid`: the occupancy is alive as far as we can tell. */
  touch(jid: string, room: string): void {
    this.touchNormalized(norm(jid), norm(room));
  }

  /** touch() for a local JID and a room already normalised (normalizeJid's output): nothing is parsed. */
  touchNormalized(jid: string, room: string): void {
    const e = this.#get(jid, room);
    if (e) e.lastSeen = this.#now();
  }

  /** Whether any local JID has an entry for `room`, whatever its state. */
  hasRoom(room: string): boolean {
    return this.#rooms.has(norm(room));
  }

  /**
   * Whether a stanza from `from` (an address as received, in any case) may concern a room with an entry:
   * false only when it certainly does not. Decided on the string, without parsing a JID: this runs for
   * every stanza the entity receives. A local part that XEP-0106 escaping would change is left to a real
   * parse (true).
   */
  mayConcern(from: string | undefined): boolean {
    if (!from || this.#rooms.size === 0) return false;
    const slash = from.indexOf("/");
    const bare = slash < 0 ? from : from.slice(0, slash);
    if (this.#rooms.has(bare)) return true;
    const at = bare.indexOf("@");
    if (at > 0 && ESCAPED_IN_LOCAL.test(bare.slice(0, at))) return true;
    return this.#rooms.has(bare.toLowerCase());
  }

  /** How many local JIDs have at least one entry (0: nothing to look at on incoming stanzas). */
  get size(): number {
    return this.#joins.size;
  }

  /** Local JIDs with at least one entry. */
  jids(): string[] {
    return [...this.#joins.keys()];
  }

  #get(jid: string, room: string) {
    return this.#joins.get(jid)?.get(room);
  }

  #set(jid: string, join: Entry) {
    let rooms = this.#joins.get(jid);
    if (!rooms) {
      rooms = new Map();
      this.#joins.set(jid, rooms);
    }
    if (!rooms.has(join.room)) this.#rooms.set(join.room, (this.#rooms.get(join.room) ?? 0) + 1);
    rooms.set(join.room, join);
  }

  #delete(jid: string, room: string) {
    const rooms = this.#joins.get(jid);
    if (rooms?.delete(room)) this.#forgetRoom(room);
    if (rooms?.size === 0) this.#joins.delete(jid);
  }

  #forgetRoom(room: string) {
    const n = (this.#rooms.get(room) ?? 0) - 1;
    if (n > 0) this.#rooms.set(room, n);
    else this.#rooms.delete(room);
  }

  /** A presence the local JID `from` sent (for a client, its own full JID). */
  outgoing(presence: Element, sender: string): TrackerEvent[] {
    const from = normalizeJid(sender) ?? sender;
    const type = presence.attrs.type as string | undefined;
    const to = parseJid(presence.attrs.to as string | undefined);
    if (!to) {
      // Broadcast unavailable: the server makes us leave every room.
      if (type === "unavailable") for (const j of this.#joins.get(from)?.values() ?? []) j.state = "leaving";
      return [];
    }
    if (!to.resource) return [];
    const room = to.bare().toString();
    const nick = to.resource;
    const existing = this.#get(from, room);
    if (type === "unavailable") {
      if (existing) existing.state = "leaving";
      return [];
    }
    if (type !== undefined) return [];
    const mucX = presence.getChild("x", NS_MUC);
    if (!existing || existing.state === "leaving") {
      if (mucX) {
        const password = mucX.getChildText("password") ?? undefined;
        this.#set(from, {
          room,
          nick,
          requestedNick: nick,
          state: "joining",
          created: false,
          nickAssigned: false,
          epoch: ++epochs,
          lastSeen: this.#now(),
          ...(password ? { password } : {}),
        });
      }
      return [];
    }
    if (mucX) {
      const password = mucX.getChildText("password");
      if (password) existing.password = password;
    }
    if (nick !== existing.nick && (existing.state === "joined" || existing.state === "renaming")) {
      existing.state = "renaming";
      existing.requestedNick = nick;
    }
    return [];
  }

  /** A presence received by the local JID in its `to`. */
  incoming(presence: Element): TrackerEvent[] {
    const jid = normalizeJid(presence.attrs.to as string | undefined);
    const from = parseJid(presence.attrs.from as string | undefined);
    if (!jid || !from?.resource) return [];
    const room = from.bare().toString();
    const nick = from.resource;
    const type = presence.attrs.type as string | undefined;
    const existing = this.#get(jid, room);

    if (type === "error") {
      if (!existing) return [];
      const err = stanzaError(presence);
      if (existing.state === "joining") {
        this.#delete(jid, room);
        return [{ type: "join-failed", jid, room, nick: existing.requestedNick, ...err }];
      }
      if (existing.state === "renaming") {
        existing.state = "joined";
        const requestedNick = existing.requestedNick;
        existing.requestedNick = existing.nick;
        return [{ type: "rename-failed", jid, room, nick: existing.nick, requestedNick, ...err }];
      }
      return [];
    }

    const x = presence.getChild("x", NS_MUC_USER);
    // Only a join or rename we asked for, or an occupancy we hold, is changed by a room's presence: an
    // unsolicited "self-presence" (a forger's, or a user's own room presence that ejabberd forwards to a
    // component with the presence permission) changes nothing.
    if (!x || !existing) return [];
    const codes = statusCodes(x);
    const self = codes.includes("110");
    if (type === undefined) return self ? this.#selfAvailable(jid, existing, nick, codes) : [];
    if (type !== "unavailable" || nick !== existing.nick) return [];
    if (self && codes.includes("303")) {
      const newNick = x.getChild("item")?.attrs.nick as string | undefined;
      existing.state = "renaming";
      if (newNick) existing.requestedNick = newNick;
      return [];
    }
    if (!self && !this.#options.unavailableWithout110EndsJoin) return [];
    if (!self && existing.state === "joining") return [];
    this.#delete(jid, room);
    const reason = leaveReason(x, codes, existing.state === "leaving" ? "left" : "unavailable");
    return [{ type: "left", jid, room, nick: existing.nick, reason }];
  }

  /** An available self-presence (110) for an entry we hold: it completes a join or a rename, or updates nothing. */
  #selfAvailable(jid: string, existing: Entry, nick: string, codes: string[]): TrackerEvent[] {
    const { room } = existing;
    const assigned = codes.includes("210");
    // A pending join or rename completes under the nick asked for, or under the one the service assigned (210).
    const answersRequest = nick === existing.requestedNick || assigned;
    if (existing.state === "joining") {
      if (!answersRequest) return [];
      const created = codes.includes("201");
      const nickAssigned = assigned || existing.requestedNick !== nick;
      const password = existing.password;
      this.#set(jid, {
        room,
        nick,
        requestedNick: nick,
        state: "joined",
        created,
        nickAssigned,
        epoch: ++epochs,
        lastSeen: this.#now(),
        ...(password ? { password } : {}),
      });
      return [{ type: "joined", jid, room, nick, created, nickAssigned }];
    }
    if (existing.state !== "renaming" || nick === existing.nick || !answersRequest) return []; // a presence update, or not ours
    const old = existing.nick;
    const nickAssigned = assigned || existing.requestedNick !== nick;
    Object.assign(existing, {
      nick,
      requestedNick: nick,
      state: "joined" as const,
      nickAssigned: existing.nickAssigned || nickAssigned,
      lastSeen: this.#now(),
    });
    return [{ type: "nick-changed", jid, room, from: old, to: nick, nickAssigned }];
  }

  /** A new stream without resumption: the server has taken `jid` (or every JID) out of all rooms. */
  streamEnded(jid?: string): TrackerEvent[] {
    const events: TrackerEvent[] = [];
    for (const j of jid ? [norm(jid)] : this.jids()) {
      for (const entry of this.#joins.get(j)?.values() ?? []) {
        if (entry.state === "joined" || entry.state === "renaming" || entry.state === "leaving") {
          events.push({ type: "left", jid: j, room: entry.room, nick: entry.nick, reason: { kind: "stream-ended", codes: [] } });
        }
        this.#forgetRoom(entry.room);
      }
      this.#joins.delete(j);
    }
    return events;
  }
}
