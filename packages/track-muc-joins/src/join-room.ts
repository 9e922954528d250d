// Building a XEP-0045 join presence, and the errors a join or leave can end with.
// https://xmpp.org/extensions/xep-0045.html#enter
import { XmppkitError, NS_DATA, StanzaError, formatDateTime, xml, type Element } from "@xmppkit/core";
import { NS_MUC } from "./join-tracker.js";

export const NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner";

/** What history the room should send on entering (XEP-0045 §7.2.13). Omit for the room's default. */
export interface HistoryOptions {
  maxchars?: number;
  maxstanzas?: number;
  seconds?: number;
  /** Only messages after this time. */
  since?: Date | string;
}

export interface JoinPresenceOptions {
  password?: string | undefined;
  history?: HistoryOptions | undefined;
  /** The sending JID: required for a component, omitted for a client. */
  from?: string | undefined;
  /** <show/>, <status/> or other children to carry in the join presence. */
  children?: Element[] | undefined;
}

function isoTime(value: Date | string): string {
  const date = typeof value === "string" ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) throw new TypeError(`history.since is not a date: ${String(value)}`);
  return formatDateTime(date);
}

/** `<presence to="room/nick"><x xmlns="http://jabber.org/protocol/muc">…</x></presence>` */
export function joinPresence(room: string, nick: string, options: JoinPresenceOptions = {}): Element {
  const x = xml("x", NS_MUC);
  if (options.history) {
    const { maxchars, maxstanzas, seconds, since } = options.history;
    const attrs: Record<string, string> = {};
    if (maxchars !== undefined) attrs.maxchars = String(maxchars);
    if (maxstanzas !== undefined) attrs.maxstanzas = String(maxstanzas);
    if (seconds !== undefined) attrs.seconds = String(seconds);
    if (since !== undefined) attrs.since = isoTime(since);
    x.append(xml("history", attrs));
  }
  if (options.password !== undefined) x.append(xml("password", {}, options.password));
  return xml("presence", { to: `${room}/${nick}`, ...(options.from ? { from: options.from } : {}) }, ...(options.children ?? []), x);
}

/** Accept the default configuration of a room we just created (201), so that others can enter (XEP-0045 §10.1.2). */
export function instantRoomForm(): Element {
  return xml("query", NS_MUC_OWNER, xml("x", { xmlns: NS_DATA, type: "submit" }));
}

/** A join or leave that got no answer from the room in time. */
export class MucTimeoutError extends XmppkitError {
  static override readonly brand = "MucTimeoutError";
  constructor(
    readonly room: string,
    readonly action: "join" | "leave",
    readonly timeoutMs: number,
  ) {
    super(`no self-presence from ${room} within ${timeoutMs} ms (${action})`);
  }
}

/** The room refused the join (XEP-0045 §7.2.6–7.2.11): `condition` says why, e.g. `not-authorized` for a wrong password. A StanzaError too. */
export class MucJoinError extends StanzaError {
  static override readonly brand = "MucJoinError";
  constructor(
    readonly room: string,
    readonly nick: string,
    error: StanzaError,
  ) {
    super(error.condition, error.type, error.text, error.element, error.by);
    this.message = `joining ${room} as ${nick} failed: ${error.message}`;
  }
}

/** Join errors that no retry will fix without someone changing the room or the config. */
export const PERMANENT_JOIN_CONDITIONS: ReadonlySet<string> = new Set([
  "forbidden", // banned
  "not-authorized", // wrong or missing password
  "registration-required", // members-only
  "jid-malformed",
  "not-allowed", // room creation restricted and the room is gone
]);
