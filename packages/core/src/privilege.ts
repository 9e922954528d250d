// XEP-0356 Privileged Entity: what the server granted, and typed helpers for roster, message and IQ
// privileges. https://xmpp.org/extensions/xep-0356.html
//
// The announcement arrives right after the handshake, before `start()` resolves,
// so set this up before connecting. Prosody sends `urn:xmpp:privilege:2`; ejabberd up to 24.07 sends `:1`
// with every permission listed (`type="none"` when not granted). Helpers reply in the namespace the server
// used. The parts: the grants per server (privilege-grants.ts) and the privileged requests
// (privilege-requests.ts).
import { TypedEmitter, extend, type ListenerErrorHandler } from "./emitter.js";
import type { XmppEntity } from "./entity.js";
import type { Iq, IqRequestOptions } from "./iq.js";
import type { Logger } from "./logger.js";
import { PrivilegeGrants, hasPermission } from "./privilege-grants.js";
import { PrivilegedRequests } from "./privilege-requests.js";
import type { Stanzas } from "./stanzas.js";
import type { Element } from "./xml.js";

export { NS_PRIVILEGE_1, NS_PRIVILEGE_2, describeRequirement, hasPermission, parsePrivilegeAnnouncement, summary } from "./privilege-grants.js";
export { GRANT_CHECK_USER, NS_ROSTER, parseRosterItems, rosterItemElement } from "./privilege-requests.js";

export type RosterAccess = "none" | "get" | "set" | "both";
export type MessageAccess = "none" | "outgoing";
export type PresenceAccess = "none" | "managed_entity" | "roster";

export interface Permissions {
  /** The namespace the server spoke: `urn:xmpp:privilege:2` (Prosody, ejabberd ≥ 24.10) or `:1`. */
  namespace: string;
  /** The server (VirtualHost) that granted these. */
  server: string;
  roster: RosterAccess;
  message: MessageAccess;
  presence: PresenceAccess;
  /** XEP-0356 v0.4 IQ permission: namespace → type. */
  iq: Record<string, RosterAccess>;
}

export type PermissionRequirement =
  | { access: "roster"; type: "get" | "set" | "both" }
  | { access: "message"; type: "outgoing" }
  | { access: "presence"; type: "managed_entity" | "roster" }
  | { access: "iq"; namespace: string; type: "get" | "set" | "both" };

export interface RosterItem {
  jid: string;
  name?: string;
  subscription?: "none" | "to" | "from" | "both" | "remove";
  ask?: string;
  groups: string[];
}

export interface PrivilegeEvents extends Record<string, unknown> {
  /** A server announced (or re-announced after a reconnect) what it grants. */
  granted: Permissions;
  /**
   * A server answered a privileged request with `forbidden`: it withdrew the grants without a word
   * (ejabberd does when another connection of the same component leaves). They are forgotten until the
   * server announces them again (on a new stream).
   */
  revoked: { server: string; reason: string };
}

export interface Privilege extends TypedEmitter<PrivilegeEvents> {
  /** Permissions per granting server domain, as last announced. */
  readonly servers: ReadonlyMap<string, Permissions>;
  /** Permissions of one server (default: the only or configured one). */
  permissions(server?: string): Permissions | undefined;
  /** Whether `requirement` is granted by `server`. */
  has(requirement: PermissionRequirement, server?: string): boolean;
  /** Throw a PermissionError naming what is missing and the config line that grants it. */
  require(requirement: PermissionRequirement, server?: string): Permissions;
  rosterGet(user: string, options?: IqRequestOptions): Promise<RosterItem[]>;
  /** One privileged roster set per item (Prosody answers each item separately). */
  rosterSet(user: string, items: RosterItem[], options?: IqRequestOptions): Promise<void>;
  /** Send `message` (a <message> with a bare-JID `from` on the server, or the server itself) on its behalf. */
  sendMessage(message: Element): Promise<void>;
  /** XEP-0356 v0.4: send an IQ as the local user `user` (bare JID); resolves with the inner reply. */
  sendIq(user: string, iq: Element, options?: IqRequestOptions): Promise<Element>;
  /**
   * Check that `server` still honours the roster grant (a roster get of an account that does not exist):
   * true when it does, false when it answered `forbidden` (and `revoked` was emitted), undefined when there
   * is nothing to check (no roster grant) or no answer.
   */
  verify(server?: string, options?: IqRequestOptions): Promise<boolean | undefined>;
  /** Forget `server`'s grants and emit `revoked` (when a check found them gone without a `forbidden`). */
  revoke(server: string, reason: string): void;
}

export interface PrivilegeOptions {
  /** The server whose permissions are meant when a call names none. */
  server?: string | undefined;
  /** Server domains whose announcements are believed (default: see `trustedServerDomains`). */
  trustedServers?: string | readonly string[] | undefined;
  onListenerError?: ListenerErrorHandler | undefined;
}

export function setupPrivilege(
  { entity, stanzas, iq, logger }: { entity: XmppEntity; stanzas: Stanzas; iq: Iq; logger?: Logger | undefined },
  options: PrivilegeOptions = {},
): Privilege {
  const emitter = new TypedEmitter<PrivilegeEvents>(options.onListenerError);
  const grants = new PrivilegeGrants({ entity, emitter, logger }, options);
  stanzas.onIncoming((stanza) => grants.announced(stanza));
  const requests = new PrivilegedRequests({ grants, iq, stanzas });

  return extend(emitter, {
    servers: grants.servers,
    permissions: (server?: string) => grants.permissions(server),
    has: (req: PermissionRequirement, server?: string) => hasPermission(grants.permissions(server), req),
    require: (req: PermissionRequirement, server?: string) => grants.require(req, server),
    rosterGet: (user: string, opts?: IqRequestOptions) => requests.rosterGet(user, opts),
    rosterSet: (user: string, items: RosterItem[], opts?: IqRequestOptions) => requests.rosterSet(user, items, opts),
    sendMessage: (message: Element) => requests.sendMessage(message),
    sendIq: (user: string, inner: Element, opts?: IqRequestOptions) => requests.sendIq(user, inner, opts),
    verify: (server?: string, opts?: IqRequestOptions) => requests.verify(server, opts),
    revoke: (server: string, reason: string) => grants.revoke(server, reason),
  }) as Privilege;
}
