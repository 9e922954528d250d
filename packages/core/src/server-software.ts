// Which server the entity talks to, and how to say a fix in that server's own config language.
// The name comes from the server's disco#info identity (XEP-0030); the version, when the server answers it,
// from XEP-0092 Software Version. https://xmpp.org/extensions/xep-0030.html · https://xmpp.org/extensions/xep-0092.html
import { NS_DISCO_INFO } from "./disco.js";
import type { Iq } from "./iq.js";
import type { IqReach } from "./iq-reach.js";
import type { PermissionRequirement } from "./privilege.js";
import { xml } from "./xml.js";

export const NS_VERSION = "jabber:iq:version";

export type ServerKind = "prosody" | "ejabberd" | "other";

export interface ServerSoftware {
  kind: ServerKind;
  /** As the server names itself ("Prosody", "ejabberd"). */
  name: string;
  /** "0.12.3", "23.01"…, when the server answers XEP-0092. */
  version?: string;
  /** How it was told when the server could not be asked (ejabberd 24.10–24.12 drops a component's IQs to it). */
  inferred?: string;
}

/** What a component knows of ejabberd that drops its IQs to bare JIDs: only mod_privilege in 24.10–24.12 does. */
export const EJABBERD_DROPPING_IQS: ServerSoftware = {
  kind: "ejabberd",
  name: "ejabberd",
  inferred: "it drops this component's IQs to bare JIDs and domains, as only ejabberd 24.10–24.12 with mod_privilege does",
};

/**
 * The server software, or undefined when the server does not say (or does not answer). `version: false`
 * skips the XEP-0092 query (a server without mod_version never answers it, and the name is enough). With a
 * component's `reach`, a server that drops its IQs to bare JIDs is not asked: it is ejabberd (see `inferred`).
 */
export async function serverSoftware(
  iq: Iq,
  server: string,
  options: { timeout?: number; version?: boolean; reach?: IqReach } = {},
): Promise<ServerSoftware | undefined> {
  const timeout = options.timeout ?? 10_000;
  // Where the link check finds the server dropping these queries, they are failed at that moment.
  const [info, version] = await Promise.all([
    iq.get(xml("query", NS_DISCO_INFO), server, { timeout }).catch(() => undefined),
    options.version === false ? undefined : iq.get(xml("query", NS_VERSION), server, { timeout }).catch(() => undefined),
  ]);
  const identity = info?.getChildren("identity").find((i) => i.attrs.category === "server" && i.attrs.name)?.attrs.name as string | undefined;
  const name = identity ?? version?.getChildText("name") ?? undefined;
  if (!name) return options.reach && (await options.reach.settled()) === "full-jids-only" ? EJABBERD_DROPPING_IQS : undefined;
  const v = version?.getChildText("version")?.trim();
  const kind: ServerKind = /^prosody/i.test(name) ? "prosody" : /ejabberd/i.test(name) ? "ejabberd" : "other";
  return { kind, name, ...(v ? { version: v } : {}) };
}

/** The config that grants `req` to `component` on `server`, in the words of the server at hand (both when unknown). */
export function permissionFix(req: PermissionRequirement, component: string, server: string, kind: ServerKind = "other"): string {
  const value = req.access === "iq" ? `iq = { ["${req.namespace}"] = "${req.type}" }` : `${req.access} = "${req.type}"`;
  const prosody = `Prosody: in VirtualHost "${server}", privileged_entities = { ["${component}"] = { ${value} } } (and "privilege" in modules_enabled of the VirtualHost and of Component "${component}")`;
  const ejabberd =
    req.access === "iq"
      ? `ejabberd ≥ 24.10: modules: mod_privilege: iq: "${req.namespace}": ${req.type}: <an access rule allowing ${component}>`
      : `ejabberd: modules: mod_privilege: ${req.access}: ${req.type}: <an access rule allowing ${component}>, with acl: <name>: server: "${component}"`;
  return kind === "prosody" ? prosody : kind === "ejabberd" ? ejabberd : `${prosody}; ${ejabberd}`;
}

/** The config that delegates `namespace` to `component`, in the server's words (both when unknown). */
export function delegationFix(namespace: string, component: string, server: string, kind: ServerKind = "other"): string {
  const prosody = `Prosody: in VirtualHost "${server}", delegations = { ["${namespace}"] = { jid = "${component}" } } (and "delegation" in modules_enabled of the VirtualHost and the Component)`;
  const ejabberd = `ejabberd: modules: mod_delegation: namespaces: "${namespace}": access: <an access rule allowing ${component}>`;
  return kind === "prosody" ? prosody : kind === "ejabberd" ? ejabberd : `${prosody}; ${ejabberd}`;
}

/** The config that grants privileges at all, when the server announced none. */
export function privilegesFix(component: string, server: string, kind: ServerKind = "other"): string {
  const prosody = `Prosody: add privileged_entities for "${component}" in VirtualHost "${server}" and "privilege" to the Component's modules_enabled`;
  const ejabberd = `ejabberd: add mod_privilege to modules, with an access rule allowing "${component}" for roster, message and presence`;
  return kind === "prosody" ? prosody : kind === "ejabberd" ? ejabberd : `${prosody}; ${ejabberd}`;
}
