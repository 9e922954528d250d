// Join and leave that wait for the room's answer: a join resolves on our own self-presence and accepts the
// default configuration of a room it created (an instant room); a leave resolves on the room's confirmation.
// https://xmpp.org/extensions/xep-0045.html#enter
// https://xmpp.org/extensions/xep-0045.html#createroom-instant
// https://xmpp.org/extensions/xep-0045.html#exit
import { StanzaError, parseJid, xml, type Element, type Kit } from "@xmppkit/core";
import { MucJoinError, instantRoomForm, joinPresence, type HistoryOptions } from "./join-room.js";
import { mucStatusCodes, type JoinTracker, type LeaveReason } from "./join-tracker.js";
import type { LocalJids } from "./local-jids.js";
import type { RoomWaiters } from "./room-waiters.js";

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

export interface JoinLeaveDeps extends Pick<Kit, "stanzas" | "iq"> {
  tracker: Pick<JoinTracker, "entry">;
  waiters: RoomWaiters;
  address: Pick<LocalJids, "localJid" | "sendFrom">;
}

export interface JoinLeave {
  /** Enter a room; resolves on the room's self-presence (110), rejects with MucJoinError or MucTimeoutError. */
  join(room: string, options: JoinOptions): Promise<Joined>;
  /** Leave `room` (normalized) as `jid` (a local JID); resolves with how the room confirmed it, or undefined if not in it. */
  leave(room: string, jid: string, options: LeaveOptions): Promise<LeaveReason | undefined>;
}

export function joinLeave(
  { stanzas, iq, tracker, waiters, address }: JoinLeaveDeps,
  options: { joinTimeout?: number | undefined; instantRoom?: boolean | undefined },
): JoinLeave {
  const { localJid, sendFrom } = address;
  const joinTimeout = options.joinTimeout ?? 30_000;

  async function join(roomInput: string, o: JoinOptions): Promise<Joined> {
    const roomJid = parseJid(roomInput);
    if (!roomJid?.local || roomJid.resource) throw new TypeError(`not a room address (room@service): ${roomInput}`);
    if (!o.nick) throw new TypeError("a nick is required to join a room");
    const room = roomJid.toString();
    const jid = localJid(o.from);
    const timeout = o.timeout ?? joinTimeout;

    const { answer, fail } = waiters.awaitJoin(jid, room, timeout);
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

  async function leave(room: string, jid: string, o: LeaveOptions): Promise<LeaveReason | undefined> {
    const entry = tracker.entry(jid, room);
    if (!entry) return undefined;
    const timeout = o.timeout ?? joinTimeout;
    const { answer, fail } = waiters.awaitLeave(jid, room, timeout);
    stanzas
      .send(xml("presence", { type: "unavailable", to: `${room}/${entry.nick}`, ...sendFrom(jid) }, ...(o.status ? [xml("status", {}, o.status)] : [])))
      .catch(fail);
    return answer;
  }

  return { join, leave };
}
