// XEP-0356 Privileged Entity: what the server granted, and typed helpers for roster, message and IQ
// privileges. https://xmpp.org/extensions/xep-0356.html
//
// The announcement arrives right after the handshake, before `start()` resolves,
// so set this up before connecting. Prosody sends `urn:xmpp:privilege:2`; ejabberd up to 24.07 sends `:1`
// with every permission listed (`type="none"` when not granted). Helpers reply in the namespace the server
// used.
import { TypedEmitter, extend, type ListenerErrorHandler } from "./emitter.js";
import { trustedServerDomains, type XmppEntity } from "./entity.js";
import { PermissionError, StanzaError } from "./errors.js";
import { randomId, type Iq, type IqRequestOptions } from "./iq.js";
import type { Logger } from "./logger.js";
import type { Stanzas } from "./stanzas.js";
import { permissionFix } from "./server-software.js";
import { NS_FORWARD, domainOf, firstChildElement, isBareJid, isServerJid, normalizeJid, parseJid, xml, type Element } from "./xml.js";

export const NS_PRIVILEGE_2 = "urn:xmpp:privilege:2";
export const NS_PRIVILEGE_1 = "urn:xmpp:privilege:1";
export const NS_ROSTER = "jabber:iq:roster";

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

/** The account whose (empty) roster `verify()` asks for. */
export const GRANT_CHECK_USER = "xmppkit-grant-check";

/** Parse a <privilege/> announcement element (either namespace). */
export function parsePrivilegeAnnouncement(privilege: Element, server: string): Permissions {
  const perms: Permissions = {
    namespace: privilege.attrs.xmlns,
    server,
    roster: "none",
    message: "none",
    presence: "none",
    iq: {},
  };
  for (const perm of privilege.getChildren("perm")) {
    const { access, type } = perm.attrs as { access?: string; type?: string };
    if (access === "roster" && isOneOf(type, ["none", "get", "set", "both"])) perms.roster = type;
    else if (access === "message" && isOneOf(type, ["none", "outgoing"])) perms.message = type;
    else if (access === "presence" && isOneOf(type, ["none", "managed_entity", "roster"])) perms.presence = type;
    else if (access === "iq") {
      // Prosody's 2023 revision nests <namespace/> elements inside each other; walk them all.
      const walk = (el: Element) => {
        for (const ns of el.getChildren("namespace")) {
          const t = ns.attrs.type as string | undefined;
          if (ns.attrs.ns && isOneOf(t, ["none", "get", "set", "both"]) && t !== "none") perms.iq[ns.attrs.ns] = t;
          walk(ns);
        }
      };
      walk(perm);
    }
  }
  return perms;
}

function isOneOf<T extends string>(v: string | undefined, list: readonly T[]): v is T {
  return v !== undefined && (list as readonly string[]).includes(v);
}

function covers(granted: RosterAccess, wanted: "get" | "set" | "both") {
  return granted === "both" || granted === wanted;
}

export function hasPermission(perms: Permissions | undefined, req: PermissionRequirement): boolean {
  if (!perms) return false;
  switch (req.access) {
    case "roster":
      return covers(perms.roster, req.type);
    case "message":
      return perms.message === "outgoing";
    case "presence":
      return perms.presence === req.type || (req.type === "managed_entity" && perms.presence === "roster");
    case "iq": {
      const g = perms.iq[req.namespace];
      return g !== undefined && covers(g, req.type);
    }
  }
}

export function describeRequirement(req: PermissionRequirement): string {
  return req.access === "iq" ? `iq ${req.namespace}=${req.type}` : `${req.access}=${req.type}`;
}

export function parseRosterItems(query: Element | undefined): RosterItem[] {
  if (!query) return [];
  return query.getChildren("item").map((item) => {
    const r: RosterItem = { jid: item.attrs.jid, groups: item.getChildren("group").map((g) => g.getText()) };
    if (item.attrs.name) r.name = item.attrs.name;
    if (item.attrs.subscription) r.subscription = item.attrs.subscription;
    if (item.attrs.ask) r.ask = item.attrs.ask;
    return r;
  });
}

export function rosterItemElement(item: RosterItem): Element {
  return xml(
    "item",
    {
      jid: item.jid,
      ...(item.name ? { name: item.name } : {}),
      ...(item.subscription ? { subscription: item.subscription } : {}),
    },
    ...item.groups.map((g) => xml("group", {}, g)),
  );
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
  const servers = new Map<string, Permissions>();
  const trusted = trustedServerDomains(entity, options.trustedServers ?? options.server);

  stanzas.onIncoming((stanza) => {
    if (stanza.name !== "message") return;
    const privilege = stanza.getChild("privilege", NS_PRIVILEGE_2) ?? stanza.getChild("privilege", NS_PRIVILEGE_1);
    if (!privilege || stanza.getChild("privilege")?.getChild("forwarded")) return;
    const from = normalizeJid(stanza.attrs.from as string | undefined) ?? undefined;
    // Only our own server can grant privileges: anyone else (a remote server over s2s, a user) is ignored.
    if (!isServerJid(from) || !trusted.has(from)) {
      logger?.warn({ from: stanza.attrs.from, trusted: [...trusted] }, "ignored a XEP-0356 privilege announcement from a sender that is not our server");
      return true;
    }
    const perms = parsePrivilegeAnnouncement(privilege, from);
    servers.set(from, perms);
    emitter.emit("granted", perms);
    return true;
  });

  function pick(server?: string): string | undefined {
    return server ?? options.server ?? (servers.size === 1 ? [...servers.keys()][0] : undefined);
  }

  function permissions(server?: string) {
    const s = pick(server);
    return s ? servers.get(s) : undefined;
  }

  function requireGrant(req: PermissionRequirement, server?: string): Permissions {
    const s = pick(server) ?? "(server)";
    const perms = servers.get(s);
    if (!hasPermission(perms, req)) {
      const component = entity.jid?.toString() ?? entity.options.domain ?? "(component)";
      const why = perms ? `${s} granted ${summary(perms)}` : `${s} sent no XEP-0356 privilege announcement`;
      throw new PermissionError(
        `XEP-0356 permission ${describeRequirement(req)} is missing: ${why}`,
        describeRequirement(req),
        permissionFix(req, component, s),
      );
    }
    return perms!;
  }

  function revoke(server: string, reason: string) {
    if (!servers.delete(server)) return;
    emitter.emit("revoked", { server, reason });
  }

  /** A privileged request answered `forbidden`: the server took its grants back. */
  function watched<T>(server: string, p: Promise<T>): Promise<T> {
    return p.catch((err: unknown) => {
      if (StanzaError.isInstance(err) && err.condition === "forbidden") revoke(server, err.text ? `forbidden: ${err.text}` : "forbidden");
      throw err;
    });
  }

  async function rosterGet(user: string, opts?: IqRequestOptions) {
    const bare = checkUser(user);
    const server = domainOf(bare)!;
    requireGrant({ access: "roster", type: "get" }, server);
    const query = await watched(server, iq.get(xml("query", NS_ROSTER), bare, opts));
    return parseRosterItems(query);
  }

  async function rosterSet(user: string, items: RosterItem[], opts?: IqRequestOptions) {
    const bare = checkUser(user);
    const server = domainOf(bare)!;
    requireGrant({ access: "roster", type: "set" }, server);
    await watched(server, Promise.all(items.map((item) => iq.set(xml("query", NS_ROSTER, rosterItemElement(item)), bare, opts))));
  }

  async function verify(server?: string, opts?: IqRequestOptions): Promise<boolean | undefined> {
    const s = pick(server);
    if (!s || !hasPermission(servers.get(s), { access: "roster", type: "get" })) return undefined;
    try {
      await rosterGet(`${GRANT_CHECK_USER}@${s}`, opts);
      return true;
    } catch (err) {
      return StanzaError.isInstance(err) && err.condition === "forbidden" ? false : undefined;
    }
  }

  async function sendMessage(message: Element) {
    const from = message.attrs.from as string | undefined;
    if (!from || !isBareJid(from)) {
      throw new TypeError(`a privileged message needs a bare-JID \`from\` on the server (got ${from ?? "none"})`);
    }
    const server = domainOf(from)!;
    const perms = requireGrant({ access: "message", type: "outgoing" }, server);
    message.attrs.xmlns = "jabber:client";
    await stanzas.send(xml("message", { to: server }, xml("privilege", perms.namespace, xml("forwarded", NS_FORWARD, message))));
  }

  async function sendIq(user: string, inner: Element, opts?: IqRequestOptions) {
    const bare = checkUser(user);
    const payload = firstChildElement(inner);
    const type = inner.attrs.type as "get" | "set";
    if (!payload?.attrs.xmlns || (type !== "get" && type !== "set")) {
      throw new TypeError("a privileged IQ needs type get or set and one payload child with an xmlns");
    }
    const perms = requireGrant({ access: "iq", namespace: payload.attrs.xmlns, type }, domainOf(bare)!);
    if (perms.namespace !== NS_PRIVILEGE_2) {
      throw new PermissionError(
        `the server speaks ${perms.namespace}, which has no IQ permission`,
        "iq",
        "upgrade the server (Prosody mod_privilege ≥ 2022-05, ejabberd ≥ 24.10)",
      );
    }
    inner.attrs.xmlns = "jabber:client";
    inner.attrs.id ??= randomId();
    delete inner.attrs.from;
    const reply = await iq.request(xml("iq", { type, to: bare }, xml("privileged_iq", NS_PRIVILEGE_2, inner)), opts);
    const forwarded = reply.getChild("privilege", NS_PRIVILEGE_2)?.getChild("forwarded", NS_FORWARD);
    const innerReply = forwarded?.getChild("iq");
    if (!innerReply) throw new StanzaError("undefined-condition", "cancel", "privileged IQ reply without a forwarded <iq/>");
    if (innerReply.attrs.type === "error") throw StanzaError.fromStanza(innerReply);
    return innerReply;
  }

  return extend(emitter, {
    servers,
    permissions,
    has: (req: PermissionRequirement, server?: string) => hasPermission(permissions(server), req),
    require: requireGrant,
    rosterGet,
    rosterSet,
    sendMessage,
    sendIq,
    verify,
    revoke,
  }) as Privilege;
}

function checkUser(user: string): string {
  const j = parseJid(user);
  if (!j?.local || j.resource) throw new TypeError(`not a user's bare JID: ${user}`);
  return j.toString();
}

export function summary(perms: Permissions): string {
  const parts = [`roster=${perms.roster}`, `message=${perms.message}`, `presence=${perms.presence}`];
  const iqs = Object.entries(perms.iq).map(([ns, t]) => `${ns}=${t}`);
  if (iqs.length) parts.push(`iq={${iqs.join(", ")}}`);
  return parts.join(" ");
}
