// What a component's server does that concerns its rooms. ejabberd's mod_privilege with `presence: roster`
// forwards users' own MUC presences (status 110, 201) to the component: they never change the component's
// seats (only a join or an occupancy of its own does), but they are noise, and `managed_entity` is the grant
// that forwards what a component needs. https://xmpp.org/extensions/xep-0356.html#presence
import { serverSoftware, type Kit, type Logger } from "@xmppkit/core";

export type PresenceGrantDeps = Pick<Kit, "iq" | "lifecycle" | "privilege" | "reach"> & Partial<Pick<Kit, "serverDomain">> & { logger: Logger };

/** At every connect, ask which server it is and warn if it is ejabberd granting presence = roster; returns what stops it. */
export function warnRosterPresence({ iq, lifecycle, privilege, reach, serverDomain, logger }: PresenceGrantDeps): () => void {
  return lifecycle.on("online", () => {
    const server = serverDomain ?? privilege.permissions()?.server;
    if (!server) return;
    void serverSoftware(iq, server, { version: false, reach }).then(
      (software) => {
        if (software?.kind !== "ejabberd" || privilege.permissions(server)?.presence !== "roster") return;
        logger.warn(
          { server, fix: "ejabberd: modules: mod_privilege: presence: managed_entity: <the gateway's access rule> (instead of roster)" },
          "ejabberd grants presence = roster: it forwards users' own MUC presences to the gateway; they do not change the gateway's rooms, but grant managed_entity instead",
        );
      },
      (err: unknown) => logger.debug({ err }, "asking the server which software it is failed"),
    );
  });
}
