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
  const [software] = await Promise.all([serverSoftware(kit.iq, server, { timeout: settleMs }), announcementsSettled(kit, server, namespaces, settleMs)]);
  const kind = software?.kind;
  if (software)
    log.info({ server, software: software.name, version: software.version }, `the server is ${software.name}${software.version ? ` ${software.version}` : ""}`);
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
      if (kit.delegation.isDelegated(ns, server)) continue;
      log.warn(
        { module, namespace: ns, fix: delegationFix(ns, component, server, kind) },
        `module ${module} needs a delegated namespace the server did not delegate`,
      );
    }
  }
  return software;
}
