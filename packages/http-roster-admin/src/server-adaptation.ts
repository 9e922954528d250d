// The server at hand decides what the privileged path can do, so it is asked at every connect (the operator
// may have loaded or removed a module while we were away):
//   - whether it batches roster sets (mod_xmppkit_roster_batch, advertised on its disco#info): then one set per user;
//   - which server it is (disco#info identity): ejabberd's XEP-0356 roster set does not work in 23.01 (ejabberd #3942)
//     and, where it does, stores subscription "none", so the privileged writer is wrong there and its admin API right;
// and at every grant whether it lets us see users log in (the presence permission).
// XEP-0356 https://xmpp.org/extensions/xep-0356.html · XEP-0030 https://xmpp.org/extensions/xep-0030.html
import { serverSoftware, silentLogger, type Kit, type Logger, type PermissionRequirement, type ServerSoftware } from "@xmppkit/core";
import type { RosterAccess, RosterBatching } from "./roster-access.js";
import { supportsRosterBatch } from "./roster-batch.js";

/** How rosters are written: XEP-0356 privileged sets, or ejabberd's admin API (`ejabberdApiRoster`). */
export type RosterWriter = "privilege" | "ejabberd_api";

/** What the checks found, for the log. */
export type ServerFinding =
  /** The server advertises the roster batch feature: each user's edits go in one set. */
  | { type: "batching"; server: string; batchSize: number }
  /** `batch: true`, but the server does not advertise the feature: one roster set per contact. */
  | { type: "batch-missing"; server: string }
  /** Privileged roster writes on ejabberd: they fail, or leave new contacts at subscription "none". */
  | { type: "ejabberd-privileged"; server: string; software: ServerSoftware }
  /** ejabberd's admin API as the writer, on a server that is not ejabberd. */
  | { type: "writer-mismatch"; server: string; software: ServerSoftware }
  /** Logins are to be synced, but the server grants no presence permission: syncs only when asked. */
  | { type: "no-presence"; server: string };

export interface ServerAdaptationOptions {
  /** The roster batch feature: "auto" (default) uses it when advertised, true also warns when not, false never asks. */
  batch?: "auto" | boolean;
  /** The writer to judge against the server (default: "privilege" for a `privilegedRoster`, else no check). */
  writer?: RosterWriter;
  /** Says each finding (default: `logServerFinding(logger)`). */
  report?: (finding: ServerFinding) => void;
}

export interface ServerAdaptationDeps {
  roster: RosterAccess;
  kit: Pick<Kit, "iq" | "lifecycle" | "privilege" | "reach" | "serverDomain">;
  /** Whether users are to be synced as they log in: then a missing presence permission is a finding. */
  wantsLogins: boolean;
  logger?: Logger | undefined;
}

const PRESENCE: PermissionRequirement = { access: "presence", type: "managed_entity" };

/** What ejabberd's privileged roster writes do, said as the error it is. */
export const EJABBERD_PRIVILEGED_WRITES =
  "ejabberd's XEP-0356 roster writes do not do the job (23.01 answers internal-server-error, #3942; later versions keep a new contact's subscription none, so neither side sees the other's presence): use ejabberd's admin API";

const EJABBERD_API_SETUP =
  "(ejabberd: mod_http_api on a listener, mod_admin_extra, api_permissions allowing add_rosteritem, delete_rosteritem, get_roster, check_account)";

const canBatch = (roster: RosterAccess): roster is RosterAccess & RosterBatching => "useBatch" in roster;

/** Check the server at every connect and grant, adapt the roster to it, report what was found; returns what stops it. */
export function adaptToServer({ roster, kit, wantsLogins, logger }: ServerAdaptationDeps, options: ServerAdaptationOptions = {}): () => void {
  const log = logger ?? silentLogger();
  const report = options.report ?? logServerFinding(log);
  const writer = options.writer ?? (canBatch(roster) ? "privilege" : undefined);
  const server = kit.serverDomain;
  const said = (f: ServerFinding | undefined) => f && report(f);
  const failed = (err: unknown) => log.error({ err }, "checking the server failed");
  const offs: (() => void)[] = [];
  if (wantsLogins) {
    offs.push(
      kit.privilege.on("granted", (perms) => {
        if (server && perms.server !== server) return;
        if (!kit.privilege.has(PRESENCE, perms.server)) report({ type: "no-presence", server: perms.server });
      }),
    );
  }
  offs.push(
    kit.lifecycle.on("online", () => {
      const domain = server ?? kit.privilege.permissions()?.server;
      if (!domain) return;
      if (canBatch(roster) && options.batch !== false) detectBatch(kit, roster, domain, options.batch === true).then(said, failed);
      if (writer) judgeSoftware(kit, writer, domain).then(said, failed);
    }),
  );
  return () => {
    for (const off of offs) off();
  };
}

/** Turn batch sets on or off as the server advertises the feature (`forced`: its absence is a finding too). */
export async function detectBatch(
  kit: Pick<Kit, "iq">,
  roster: RosterAccess & RosterBatching,
  server: string,
  forced: boolean,
): Promise<ServerFinding | undefined> {
  const on = await supportsRosterBatch(kit.iq, server);
  roster.useBatch(on);
  if (on) return { type: "batching", server, batchSize: roster.batchSize ?? 0 };
  return forced ? { type: "batch-missing", server } : undefined;
}

/** Whether `writer` suits the server's software (undefined: it does, or the server does not say). */
export async function judgeSoftware(kit: Pick<Kit, "iq" | "reach">, writer: RosterWriter, server: string): Promise<ServerFinding | undefined> {
  const software = await serverSoftware(kit.iq, server, { version: false, reach: kit.reach });
  if (!software) return undefined;
  if (software.kind !== "ejabberd") return writer === "ejabberd_api" ? { type: "writer-mismatch", server, software } : undefined;
  return writer === "privilege" ? { type: "ejabberd-privileged", server, software } : undefined; // the API keeps "both" and pushes
}

/** Each finding as a log line, in this package's terms (a bot's or bridge's default). */
export function logServerFinding(log: Logger): (finding: ServerFinding) => void {
  return (f) => {
    switch (f.type) {
      case "batching":
        return log.info({ server: f.server, batchSize: f.batchSize }, "the server batches roster sets (mod_xmppkit_roster_batch): one set per user");
      case "batch-missing":
        return log.warn({ server: f.server }, "batch is true but the server does not advertise mod_xmppkit_roster_batch: one roster set per contact");
      case "ejabberd-privileged":
        return log.error(
          {
            server: f.server,
            software: f.software.name,
            fix: `ejabberdApiRoster({ url: "http://127.0.0.1:5280/api", domain }) as the roster ${EJABBERD_API_SETUP}`,
          },
          EJABBERD_PRIVILEGED_WRITES,
        );
      case "writer-mismatch":
        return log.warn(
          { server: f.server, software: f.software.name },
          `the rosters are written through ejabberd's admin API but the server is ${f.software.name}`,
        );
      case "no-presence":
        return log.warn({ server: f.server }, "no XEP-0356 presence permission: users are synced only when asked (sync, refresh), not when they log in");
    }
  };
}

/** The setup ejabberd's admin API needs, for a fix that names the writer in other terms. */
export const ejabberdApiSetup = (writer: string): string => `${writer} ${EJABBERD_API_SETUP}`;
