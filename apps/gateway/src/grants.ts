// What the server granted, said once the server has said it: the gateway waits for the XEP-0356 and
// XEP-0355 announcements (ejabberd sends them after <handshake/>, one per host, and activates a delegation
// only once its disco nodes were answered) before it judges, then names each missing grant with the fix in
// the server's own config language. https://xmpp.org/extensions/xep-0356.html · https://xmpp.org/extensions/xep-0355.html
import {
  delegationFix,
  describeRequirement,
  hasPermission,
  permissionFix,
  privilegesFix,
  serverSoftware,
  summary,
  type Kit,
  type Logger,
  type ModuleRequirements,
  type ServerSoftware,
} from "@xmppkit/core";

export interface GrantNeeds {
  module: string;
  requires: ModuleRequirements;
}

/** Resolve once `server` announced privileges and every needed delegation, or after `timeoutMs`. */
export function announcementsSettled(kit: Kit, server: string, namespaces: string[], timeoutMs: number): Promise<void> {
  const done = () => !!kit.privilege.permissions(server) && namespaces.every((ns) => kit.delegation.isDelegated(ns, server));
  if (done()) return Promise.resolve();
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      offGranted();
      offDelegated();
      resolve();
    };
    const check = () => done() && finish();
    const timer = setTimeout(finish, timeoutMs);
    const offGranted = kit.privilege.on("granted", check);
    const offDelegated = kit.delegation.on("delegated", check);
  });
}

/**
 * After the link is up: which server this is, and what the enabled modules need that it did not grant, said
 * with the fix in its config language. Resolves with the server software (undefined if it does not say).
 */
export async function reportGrants(
  { kit, log }: { kit: Kit; log: Logger },
  { server, component, needs, settleMs = 3000 }: { server: string; component: string; needs: GrantNeeds[]; settleMs?: number },
): Promise<ServerSoftware | undefined> {
  const namespaces = needs.flatMap((n) => n.requires.delegations ?? []);
  const [software] = await Promise.all([
    serverSoftware(kit.iq, server, { timeout: settleMs, reach: kit.reach }),
    announcementsSettled(kit, server, namespaces, settleMs),
  ]);
  const kind = software?.kind;
  if (software)
    log.info(
      { server, software: software.name, version: software.version, ...(software.inferred ? { inferred: software.inferred } : {}) },
      `the server is ${software.name}${software.version ? ` ${software.version}` : ""}`,
    );
  if (kit.reach.state === "full-jids-only") reportDroppedIqs(log, server, component, needs);
  const perms = kit.privilege.permissions(server);
  if (!perms) log.warn({ server, fix: privilegesFix(component, server, kind) }, "the server sent no XEP-0356 privilege announcement");
  else log.info({ server, namespace: perms.namespace, granted: summary(perms) }, "XEP-0356 permissions granted");
  for (const { module, requires } of needs) {
    for (const req of requires.permissions ?? []) {
      if (!perms || hasPermission(perms, req)) continue;
      log.warn(
        { module, missing: describeRequirement(req), fix: permissionFix(req, component, server, kind) },
        `module ${module} needs a permission the server did not grant`,
      );
    }
    for (const ns of requires.delegations ?? []) {
      // Where the server drops our IQs, no delegation can activate: reportDroppedIqs names the modules.
      if (kit.delegation.isDelegated(ns, server) || kit.reach.state === "full-jids-only") continue;
      log.warn(
        { module, namespace: ns, fix: delegationFix(ns, component, server, kind) },
        `module ${module} needs a delegated namespace the server did not delegate`,
      );
    }
  }
  return software;
}

/**
 * ejabberd 24.10–24.12 with mod_privilege drops every IQ a component sends to a bare JID or a domain (results
 * too): said once, in ejabberd's terms, with what it costs the enabled modules and the ways out.
 */
export function reportDroppedIqs(log: Logger, server: string, component: string, needs: GrantNeeds[]): void {
  const delegated = needs.flatMap((n) => (n.requires.delegations ?? []).map((ns) => `${n.module} (${ns})`));
  const costs = [
    "no XEP-0355 delegation (ejabberd never gets the answers to its disco queries)",
    ...(delegated.length ? [`so ${delegated.join(", ")} answers nothing`] : []),
    "no disco of the server, rooms or remote domains (XEP-0157 report addresses fall back to the domain; staff rooms must be listed)",
  ];
  log.warn(
    {
      server,
      component,
      drops: "IQ get, set and result stanzas from this component to bare JIDs and domains, unless wrapped in <privileged_iq/> or a roster query",
      costs,
      keepalive: `pings ${server}/xmppkit (full JIDs are routed)`,
      fix: "ejabberd ≥ 25.03 routes them (PR #4341); or remove mod_privilege from modules (losing the roster, message and presence grants)",
    },
    `ejabberd's mod_privilege drops every IQ ${component} sends to a bare JID or domain (24.10–24.12): ${costs.join("; ")}; fix: ejabberd ≥ 25.03, or no mod_privilege`,
  );
}
