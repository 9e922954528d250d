// The gateway module: `modules_enabled: [http-roster-admin]` plus an `http-roster-admin:` section.
import { defineModule, serverSoftware, type PermissionRequirement } from "@xmppkit/core";
import "./events.js";
import { registerRosterAdminRoutes } from "./http-api.js";
import { rosterAdminOptions } from "./options.js";
import { ignoresPrivilegedSubscription, privilegedRoster } from "./roster-access.js";
import { setupRosterAdmin, type RosterAdmin } from "./roster-admin.js";

const ROSTER: PermissionRequirement = { access: "roster", type: "both" };
const PRESENCE: PermissionRequirement = { access: "presence", type: "managed_entity" };

export const gatewayModule = defineModule({
  name: "http-roster-admin",
  description: "mirrors a web application's contact lists into the server's rosters (Prosody's mod_http_roster_admin)",
  options: rosterAdminOptions,
  requires: (o) => ({ http: true, permissions: o.http_roster_sync_on_login ? [ROSTER, PRESENCE] : [ROSTER] }),
  setup(ctx, o): RosterAdmin {
    const { kit, log, events, metrics } = ctx;
    const server = kit.serverDomain;
    const roster = privilegedRoster({ privilege: kit.privilege }, { server });
    const admin = setupRosterAdmin(
      { roster, sessions: kit.sessions, logger: log },
      {
        url: o.http_roster_url,
        timeout: o.http_roster_timeout,
        retries: o.http_roster_retries,
        concurrency: o.http_roster_concurrency,
        pipeline: o.http_roster_pipeline,
        headers: o.http_roster_headers,
        syncOnLogin: o.http_roster_sync_on_login,
        loginDebounce: o.http_roster_login_debounce,
      },
    );

    const syncs = metrics.counter(ctx.name, "syncs_total", "Roster syncs by outcome and trigger", ["outcome", "trigger"]);
    const edits = metrics.counter(ctx.name, "roster_edits_total", "Privileged roster sets by kind", ["kind"]);
    admin.on("synced", (r) => {
      syncs.inc({ outcome: "ok", trigger: r.trigger });
      if (r.added) edits.inc({ kind: "add" }, r.added);
      if (r.changed) edits.inc({ kind: "change" }, r.changed);
      if (r.removed) edits.inc({ kind: "remove" }, r.removed);
      events.emit("roster-synced", r);
    });
    admin.on("sync-failed", (f) => {
      syncs.inc({ outcome: "error", trigger: f.trigger });
      events.emit("roster-sync-failed", f);
    });

    kit.privilege.on("granted", (perms) => {
      if (server && perms.server !== server) return;
      if (o.http_roster_sync_on_login && !kit.privilege.has(PRESENCE, perms.server)) {
        log.warn({ server: perms.server }, "no XEP-0356 presence permission: users are synced only through the HTTP API, not when they log in");
      }
    });
    // ejabberd stores privileged roster items with subscription "none", so presence will not flow.
    kit.lifecycle.on("online", () => {
      const domain = server ?? kit.privilege.permissions()?.server;
      if (!domain) return;
      void serverSoftware(kit.iq, domain, { version: false }).then((software) => {
        const ignores = ignoresPrivilegedSubscription(software?.name);
        roster.honoursSubscription = !ignores;
        if (ignores) {
          log.warn({ server: domain, software: software?.name }, `${software?.name} ignores subscription="both" in privileged roster sets: contacts are added with subscription "none" and presence will not flow between them; see the http-roster-admin README`);
        }
      });
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
