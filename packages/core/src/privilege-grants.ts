// XEP-0356 Privileged Entity: what each server granted, from its announcement, and whether it still holds.
// https://xmpp.org/extensions/xep-0356.html
//
// Prosody sends `urn:xmpp:privilege:2`; ejabberd up to 24.07 sends `:1` with every permission listed
// (`type="none"` when not granted).
import type { TypedEmitter } from "./emitter.js";
import { trustedServerDomains, type XmppEntity } from "./entity.js";
import { PermissionError, StanzaError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { PermissionRequirement, Permissions, PrivilegeEvents, PrivilegeOptions, RosterAccess } from "./privilege.js";
import { permissionFix } from "./server-software.js";
import { isServerJid, normalizeJid, type Element } from "./xml.js";

export const NS_PRIVILEGE_2 = "urn:xmpp:privilege:2";
export const NS_PRIVILEGE_1 = "urn:xmpp:privilege:1";

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

export function summary(perms: Permissions): string {
  const parts = [`roster=${perms.roster}`, `message=${perms.message}`, `presence=${perms.presence}`];
  const iqs = Object.entries(perms.iq).map(([ns, t]) => `${ns}=${t}`);
  if (iqs.length) parts.push(`iq={${iqs.join(", ")}}`);
  return parts.join(" ");
}

export interface PrivilegeGrantsDeps {
  entity: XmppEntity;
  emitter: TypedEmitter<PrivilegeEvents>;
  logger?: Logger | undefined;
}

/** The permissions per granting server: kept from announcements, forgotten when a server takes them back. */
export class PrivilegeGrants {
  /** Permissions per granting server domain, as last announced. */
  readonly servers = new Map<string, Permissions>();
  readonly #deps: PrivilegeGrantsDeps;
  readonly #server: string | undefined;
  readonly #trusted: Set<string>;

  constructor(deps: PrivilegeGrantsDeps, options: Pick<PrivilegeOptions, "server" | "trustedServers"> = {}) {
    this.#deps = deps;
    this.#server = options.server;
    this.#trusted = trustedServerDomains(deps.entity, options.trustedServers ?? options.server);
  }

  /** An incoming hook: keep what our server announces (`true`: handled), ignore anyone else's announcement. */
  announced(stanza: Element): true | undefined {
    if (stanza.name !== "message") return;
    const privilege = stanza.getChild("privilege", NS_PRIVILEGE_2) ?? stanza.getChild("privilege", NS_PRIVILEGE_1);
    if (!privilege || stanza.getChild("privilege")?.getChild("forwarded")) return;
    const from = normalizeJid(stanza.attrs.from as string | undefined) ?? undefined;
    // Only our own server can grant privileges: anyone else (a remote server over s2s, a user) is ignored.
    if (!isServerJid(from) || !this.#trusted.has(from)) {
      this.#deps.logger?.warn(
        { from: stanza.attrs.from, trusted: [...this.#trusted] },
        "ignored a XEP-0356 privilege announcement from a sender that is not our server",
      );
      return true;
    }
    const perms = parsePrivilegeAnnouncement(privilege, from);
    this.servers.set(from, perms);
    this.#deps.emitter.emit("granted", perms);
    return true;
  }

  /** The server meant: `server`, else the configured one, else the only one that announced. */
  pick(server?: string): string | undefined {
    return server ?? this.#server ?? (this.servers.size === 1 ? [...this.servers.keys()][0] : undefined);
  }

  permissions(server?: string): Permissions | undefined {
    const s = this.pick(server);
    return s ? this.servers.get(s) : undefined;
  }

  /** The permissions of `server` if they meet `req`; else a PermissionError naming the config line that grants it. */
  require(req: PermissionRequirement, server?: string): Permissions {
    const s = this.pick(server) ?? "(server)";
    const perms = this.servers.get(s);
    if (!hasPermission(perms, req)) {
      const { entity } = this.#deps;
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

  revoke(server: string, reason: string): void {
    if (!this.servers.delete(server)) return;
    this.#deps.emitter.emit("revoked", { server, reason });
  }

  /** A privileged request answered `forbidden`: the server took its grants back. */
  watched<T>(server: string, p: Promise<T>): Promise<T> {
    return p.catch((err: unknown) => {
      if (StanzaError.isInstance(err) && err.condition === "forbidden") this.revoke(server, err.text ? `forbidden: ${err.text}` : "forbidden");
      throw err;
    });
  }
}
