// The gateway module: `modules_enabled: [http-roster-admin]` plus an `http-roster-admin:` section.
import { defineModule, serverSoftware, type PermissionRequirement } from "@xmppkit/core";
import { registerRosterAdminRoutes } from "./http-api.js";
import { rosterAdminOptions } from "./options.js";
import { ejabberdApiRoster } from "./ejabberd-api.js";
import { privilegedRoster, type RosterBatching } from "./roster-access.js";
import { supportsRosterBatch } from "./roster-batch.js";
import { setupRosterAdmin, type RosterAdmin } from "./roster-admin.js";
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
    permissions: [...(o.http_roster_writer === "privilege" ? [ROSTER] : []), ...(o.http_roster_sync_on_login ? [PRESENCE] : [])],
  }),
  setup(ctx, o): RosterAdmin {
    const { kit, log, events, metrics } = ctx;
    const server = kit.serverDomain;
    const roster =
      o.http_roster_writer === "ejabberd_api"
        ? ejabberdApiRoster({
            url: o.http_roster_ejabberd_api_url!,
            domain: server ?? "",
            user: o.http_roster_ejabberd_api_user,
            password: o.http_roster_ejabberd_api_password,
          })
        : privilegedRoster(
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

    kit.privilege.on("granted", (perms) => {
      if (server && perms.server !== server) return;
      if (o.http_roster_sync_on_login && !kit.privilege.has(PRESENCE, perms.server)) {
        log.warn({ server: perms.server }, "no XEP-0356 presence permission: users are synced only through the HTTP API, not when they log in");
      }
    });
    // The server at hand decides what the privileged path can do: ejabberd's roster set does not work in
    // 23.01 (#3942) and, where it does, stores subscription "none". Said plainly, with what to set.
    kit.lifecycle.on("online", () => {
      const domain = server ?? kit.privilege.permissions()?.server;
      if (!domain) return;
      if ("useBatch" in roster && o.http_roster_batch !== false) void detectBatch(roster, domain);
      void serverSoftware(kit.iq, domain, { version: false, reach: kit.reach }).then((software) => {
        if (software?.kind !== "ejabberd") {
          if (o.http_roster_writer === "ejabberd_api" && software)
            log.warn({ server: domain, software: software.name }, `http_roster_writer is ejabberd_api but the server is ${software.name}`);
          return;
        }
        if (o.http_roster_writer === "ejabberd_api") return; // the API keeps subscription "both" and pushes
        log.error(
          {
            server: domain,
            software: software.name,
            fix: "http_roster_writer: ejabberd_api, http_roster_ejabberd_api_url: http://127.0.0.1:5280/api (ejabberd: mod_http_api on a listener, mod_admin_extra, api_permissions allowing add_rosteritem, delete_rosteritem, get_roster, check_account)",
          },
          "ejabberd's XEP-0356 roster writes do not do the job (23.01 answers internal-server-error, #3942; later versions keep a new contact's subscription none, so neither side sees the other's presence): use ejabberd's admin API",
        );
      });
    });

    // Checked on every (re)connect: the operator may have loaded or removed the module while we were away.
    async function detectBatch(access: RosterBatching, domain: string) {
      const on = await supportsRosterBatch(kit.iq, domain);
      access.useBatch(on);
      if (on) log.info({ server: domain, batchSize: o.http_roster_batch_size }, "the server batches roster sets (mod_xmppkit_roster_batch): one set per user");
      else if (o.http_roster_batch === true)
        log.warn({ server: domain }, "http_roster_batch is true but the server does not advertise mod_xmppkit_roster_batch: one roster set per contact");
    }

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
