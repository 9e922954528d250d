// The gateway module: `modules_enabled: [http-roster-admin]` plus an `http-roster-admin:` section.
// It maps the options to the feature's, the outcomes to metrics and bus events, and the server checks'
// findings to log lines in the options' names; the checks themselves are the feature's (server-adaptation.ts).
import { defineModule, type Kit, type Logger, type PermissionRequirement } from "@xmppkit/core";
import { ejabberdApiRoster } from "./ejabberd-api.js";
import { registerRosterAdminRoutes } from "./http-api.js";
import { rosterAdminOptions, type RosterAdminGatewayOptions } from "./options.js";
import { privilegedRoster, type RosterAccess } from "./roster-access.js";
import { setupRosterAdmin, type RosterAdmin } from "./roster-admin.js";
import { storeAppliedRosters } from "./store-applied-rosters.js";
import { EJABBERD_PRIVILEGED_WRITES, ejabberdApiSetup, logServerFinding, type ServerFinding } from "./server-adaptation.js";
import type {} from "./events.js"; // the bus events this module emits

const ROSTER: PermissionRequirement = { access: "roster", type: "both" };
const PRESENCE: PermissionRequirement = { access: "presence", type: "managed_entity" };

export const gatewayModule = defineModule({
  name: "http-roster-admin",
  description: "mirrors a web application's contact lists into the server's rosters (Prosody's mod_http_roster_admin)",
  options: rosterAdminOptions,
  // With ejabberd's API writing the rosters, XEP-0356 is needed only for the presence of logging-in users.
  requires: (o) => ({
    http: true,
    store: true, // what was last applied to each roster, so that a refresh after a restart or a takeover sends nothing when nothing changed
    permissions: [...(o.http_roster_writer === "privilege" ? [ROSTER] : []), ...(o.http_roster_sync_on_login ? [PRESENCE] : [])],
  }),
  async setup(ctx, o): Promise<RosterAdmin> {
    const { kit, log, events, metrics } = ctx;
    const applied = await storeAppliedRosters(ctx.store!, { logger: log });
    ctx.onStop(() => applied.close()); // after the syncs have ended (stop hooks run last registered first)
    const admin = setupRosterAdmin(
      { ...kit, roster: rosterWriter(kit, o, log), logger: log, applied },
      {
        url: o.http_roster_url,
        timeout: o.http_roster_timeout,
        retries: o.http_roster_retries,
        concurrency: o.http_roster_concurrency,
        pipeline: o.http_roster_pipeline,
        headers: o.http_roster_headers,
        syncOnLogin: o.http_roster_sync_on_login,
        loginDebounce: o.http_roster_login_debounce,
        adapt: { batch: o.http_roster_batch, writer: o.http_roster_writer, report: reportFinding(log) },
      },
    );

    const syncs = metrics.counter(ctx.name, "syncs_total", "Roster syncs by outcome and trigger", ["outcome", "trigger"]);
    const edits = metrics.counter(ctx.name, "roster_edits_total", "Roster edits by kind", ["kind"]);
    const requests = metrics.counter(ctx.name, "roster_sets_total", "Roster set requests sent (one per edit, or one per batch)");
    admin.on("synced", (r) => {
      syncs.inc({ outcome: "ok", trigger: r.trigger });
      if (r.added) edits.inc({ kind: "add" }, r.added);
      if (r.changed) edits.inc({ kind: "change" }, r.changed);
      if (r.removed) edits.inc({ kind: "remove" }, r.removed);
      if (r.requests) requests.inc({}, r.requests);
      events.emit("roster-synced", r);
    });
    admin.on("sync-failed", (f) => {
      syncs.inc({ outcome: "error", trigger: f.trigger });
      events.emit("roster-sync-failed", f);
    });

    registerRosterAdminRoutes(ctx.http!, admin, {
      path: o.http_roster_path,
      maxUsers: o.http_roster_max_users,
      link: kit.lifecycle,
      onRequest: (info) => {
        log.info({ ip: info.ip, path: info.path, users: info.users.length }, "roster refresh requested");
        events.emit("refresh-requested", info);
      },
    });
    ctx.onStop(() => admin.stop());
    return admin;
  },
});

/** The roster writer the options name: XEP-0356 privileged sets (the default) or ejabberd's admin API. */
function rosterWriter(kit: Kit, o: RosterAdminGatewayOptions, log: Logger): RosterAccess {
  const server = kit.serverDomain;
  if (o.http_roster_writer === "ejabberd_api") {
    return ejabberdApiRoster({
      url: o.http_roster_ejabberd_api_url!,
      domain: server ?? "",
      user: o.http_roster_ejabberd_api_user,
      password: o.http_roster_ejabberd_api_password,
    });
  }
  return privilegedRoster(
    { privilege: kit.privilege, iq: kit.iq },
    {
      server,
      batchSize: o.http_roster_batch_size,
      onSubscriptionChecked: (c) => {
        if (c.honoured) log.debug(c, "the server keeps the subscription of a privileged roster set");
        else
          log.warn(
            c,
            `the server stored subscription ${c.stored ?? "(no item)"} where the gateway set ${c.sent}: privileged roster sets cannot set subscriptions here, so contacts are compared without them`,
          );
      },
    },
  );
}

/** What the server checks found, said in the gateway's option names (the rest as the feature says it). */
function reportFinding(log: Logger): (finding: ServerFinding) => void {
  const said = logServerFinding(log);
  return (f) => {
    switch (f.type) {
      case "batch-missing":
        return log.warn(
          { server: f.server },
          "http_roster_batch is true but the server does not advertise mod_xmppkit_roster_batch: one roster set per contact",
        );
      case "ejabberd-privileged":
        return log.error(
          {
            server: f.server,
            software: f.software.name,
            fix: ejabberdApiSetup("http_roster_writer: ejabberd_api, http_roster_ejabberd_api_url: http://127.0.0.1:5280/api"),
          },
          EJABBERD_PRIVILEGED_WRITES,
        );
      case "writer-mismatch":
        return log.warn({ server: f.server, software: f.software.name }, `http_roster_writer is ejabberd_api but the server is ${f.software.name}`);
      case "no-presence":
        return log.warn({ server: f.server }, "no XEP-0356 presence permission: users are synced only through the HTTP API, not when they log in");
      default:
        return said(f);
    }
  };
}
